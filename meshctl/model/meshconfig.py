"""Loading MeshConfig: a bare MeshConfig YAML, or the ``istio`` ConfigMap whose ``data.mesh`` holds it.

Errors point into the file the user gave (for a ConfigMap, lines inside ``data.mesh`` are offset so they
name the real line of the outer file).
"""

from __future__ import annotations

from typing import Any

from meshctl.errors import InputError
from meshctl.model.api import MeshConfig
from meshctl.model.api.validate import validate_data
from meshctl.sources.lines import LDict, LList
from meshctl.sources.yaml_loader import parse_documents, read_file


def default_mesh_config() -> MeshConfig:
    return MeshConfig()


def _shift_lines(obj: Any, offset: int) -> None:
    if isinstance(obj, LDict):
        if obj.line:
            obj.line += offset
        obj.key_lines = {k: v + offset for k, v in obj.key_lines.items()}
        for v in obj.values():
            _shift_lines(v, offset)
    elif isinstance(obj, LList):
        if obj.line:
            obj.line += offset
        obj.item_lines = [v + offset for v in obj.item_lines]
        for v in obj:
            _shift_lines(v, offset)


def parse_mesh_config(text: str, filename: str) -> MeshConfig:
    docs = [d for d in parse_documents(text, filename) if d is not None]
    if not docs:
        return MeshConfig()
    if len(docs) > 1:
        raise InputError(
            "expected one MeshConfig document", file=filename, line=getattr(docs[1], "line", None)
        )
    doc = docs[0]
    if not isinstance(doc, dict):
        raise InputError("MeshConfig must be a mapping", file=filename, line=getattr(doc, "line", None))
    prefix = ""
    if doc.get("kind") == "ConfigMap":
        data = doc.get("data") or {}
        mesh_text = data.get("mesh") if isinstance(data, dict) else None
        if mesh_text is None:
            raise InputError(
                "ConfigMap has no data.mesh", file=filename, line=getattr(doc, "line", None), field="data"
            )
        if not isinstance(mesh_text, str):
            raise InputError(
                "must be a string holding the MeshConfig YAML",
                file=filename,
                field="data.mesh",
                line=getattr(data, "key_lines", {}).get("mesh"),
            )
        inner = parse_documents(mesh_text, filename)
        doc = inner[0] if inner and inner[0] is not None else LDict()
        key_line = getattr(data, "key_lines", {}).get("mesh")
        if key_line and isinstance(doc, (LDict, LList)):
            # a block scalar ("mesh: |-") starts on the next line
            _shift_lines(doc, key_line)
        prefix = "data.mesh"
        if not isinstance(doc, dict):
            raise InputError("data.mesh must hold a mapping", file=filename, line=key_line, field="data.mesh")
    return validate_data(
        MeshConfig, doc, file=filename, prefix=prefix, lines={"data": {"mesh": doc}} if prefix else doc
    )


def load_mesh_config(path: str) -> MeshConfig:
    """MeshConfig from ``path`` (bare MeshConfig YAML or the istio ConfigMap); InputError with file:line:field."""
    return parse_mesh_config(read_file(path), path)
