"""The demo's current resources over HTTP, with their ``file:line`` provenance intact.

``meshctl graph --demo`` and ``meshctl tui --demo`` show what the running demo serves, which after
``meshctl demo apply`` is no longer what any file on disk says. The control endpoint therefore serves its
resource list (``GET /resources``), and a client rebuilds :class:`~meshctl.sources.resource.Resource`
objects from it. Each resource travels with its file, line, load index and the loader's per-field line map,
so findings and blame on the client still point at the right ``file:line`` of the right field.
"""

from __future__ import annotations

from typing import Any

from meshctl.sources.lines import LDict, LList
from meshctl.sources.resource import Resource


def _lines(obj: Any) -> Any:
    """The line map of a loaded object: ``[line, {key: [key line, child map]}]`` / ``[line, [[item line,
    child map]]]``; None for scalars and for containers that carry no lines (generated ones)."""
    if isinstance(obj, dict):
        kl = getattr(obj, "key_lines", {}) or {}
        kids = {str(k): [kl.get(k), _lines(v)] for k, v in obj.items()}
        kids = {k: v for k, v in kids.items() if v != [None, None]}
        line = getattr(obj, "line", None)
        return [line, kids] if line is not None or kids else None
    if isinstance(obj, list):
        il = getattr(obj, "item_lines", []) or []
        items = [[il[i] if i < len(il) else None, _lines(v)] for i, v in enumerate(obj)]
        line = getattr(obj, "line", None)
        if line is None and all(it == [None, None] for it in items):
            return None
        return [line, items]
    return None


def _relined(obj: Any, lines: Any) -> Any:
    """``obj`` (plain JSON data) as the loader's line-aware containers, lines taken from ``lines``."""
    line, kids = lines if isinstance(lines, list) and len(lines) == 2 else (None, None)
    if isinstance(obj, dict):
        out = LDict()
        out.line = line
        kids = kids if isinstance(kids, dict) else {}
        for k, v in obj.items():
            kline, sub = kids.get(str(k), (None, None))
            out[k] = _relined(v, sub)
            if kline is not None:
                out.key_lines[k] = kline
        return out
    if isinstance(obj, list):
        lst = LList()
        lst.line = line
        kids = kids if isinstance(kids, list) else []
        for i, v in enumerate(obj):
            iline, sub = kids[i] if i < len(kids) else (None, None)
            lst.append(_relined(v, sub))
            if iline is not None and len(lst.item_lines) == i:  # only an aligned prefix is meaningful
                lst.item_lines.append(iline)
        return lst
    return obj


def to_wire(r: Resource) -> dict[str, Any]:
    """One resource as JSON-able data (the body, where it came from, and its line map)."""
    return {
        "apiVersion": r.api_version, "kind": r.kind, "name": r.name, "namespace": r.namespace,
        "file": r.file, "line": r.line, "index": r.index, "namespace_explicit": r.namespace_explicit,
        "origin": r.origin, "object": r.obj, "lines": _lines(r.obj),
    }


def from_wire(d: dict[str, Any]) -> Resource:
    """The inverse of :func:`to_wire`."""
    return Resource(
        api_version=str(d["apiVersion"]), kind=str(d["kind"]), name=str(d["name"]), namespace=d.get("namespace"),
        obj=_relined(d.get("object") or {}, d.get("lines")), file=d.get("file"), line=d.get("line"),
        index=int(d.get("index") or 0), namespace_explicit=bool(d.get("namespace_explicit", True)),
        origin=str(d.get("origin") or "file"),
    )
