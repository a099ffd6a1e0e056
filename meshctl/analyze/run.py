"""One analysis run: resources in, filtered and sorted messages out. The CLI and tests both call :func:`analyze`."""

from __future__ import annotations

import fnmatch
import traceback
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import yaml

from meshctl.analyze.context import AnalysisContext
from meshctl.analyze.message import Message
from meshctl.analyze.messages import Level
from meshctl.analyze.registry import Analyzer, all_analyzers
from meshctl.errors import InputError, UsageError
from meshctl.sources.resource import Resource

SUPPRESS_ANNOTATION = "galley.istio.io/analyze-suppress"


@dataclass(frozen=True)
class Suppression:
    """``-S CODE=RESOURCE``: hide ``CODE`` (or ``*``) on resources matching a glob like ``Pod default/*``."""

    code: str
    resource_glob: str

    @classmethod
    def parse(cls, text: str) -> Suppression:
        code, sep, res = text.partition("=")
        code, res = code.strip(), res.strip()
        if not sep or not code or not res:
            raise UsageError(f"invalid suppression {text!r}", hints=['use CODE=RESOURCE, e.g. -S "IST0102=Namespace frod" or -S "*=Pod default/*"'])
        return cls(code, res)

    def matches(self, m: Message) -> bool:
        return (self.code == "*" or self.code == m.code) and fnmatch.fnmatchcase(m.origin, self.resource_glob)


@dataclass
class AnalysisResult:
    messages: list[Message]
    analyzers: list[Analyzer]
    suppressed: int = 0
    below_threshold: list[Message] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)


def load_mesh_config_file(path: str) -> dict[str, Any]:
    """A MeshConfig YAML file (or an ``istio`` ConfigMap holding one under ``data.mesh``)."""
    try:
        with open(path, encoding="utf-8") as fh:
            data = yaml.safe_load(fh)
    except OSError as e:
        raise InputError(f"cannot read mesh config: {e.strerror}", file=path) from None
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        raise InputError(f"invalid YAML: {getattr(e, 'problem', e)}", file=path, line=mark.line + 1 if mark else None) from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise InputError("mesh config must be a mapping", file=path, line=1)
    if data.get("kind") == "ConfigMap":
        return mesh_config_from_configmap(data, path)
    return data


def mesh_config_from_configmap(obj: dict[str, Any], where: str | None = None) -> dict[str, Any]:
    mesh = (obj.get("data") or {}).get("mesh")
    if not mesh:
        return {}
    try:
        out = yaml.safe_load(mesh)
    except yaml.YAMLError as e:
        raise InputError(f"invalid mesh config in ConfigMap data.mesh: {e}", file=where, field="data.mesh") from None
    return out if isinstance(out, dict) else {}


def _sort_key(m: Message) -> tuple[Any, ...]:
    # istioctl (diag.Messages.Sort): level (errors first), code, resource full name, then text
    return (-int(m.level), m.code, m.resource is not None or m.origin_kind is not None, m.namespace or "", m.name or "", m.text, m.line or 0)


def _suppressed_by_annotation(m: Message) -> bool:
    if m.resource is None:
        return False
    ann = m.resource.annotations.get(SUPPRESS_ANNOTATION)
    if not ann:
        return False
    codes = {c.strip() for c in str(ann).split(",")}
    return "*" in codes or m.code in codes


def analyze(
    resources: Sequence[Resource],
    *,
    mesh_config: dict[str, Any] | None = None,
    mesh_config_file: str | None = None,
    analyzers: Iterable[Analyzer] | None = None,
    namespace: str | None = None,
    suppressions: Iterable[Suppression] = (),
    output_threshold: Level = Level.INFO,
    complete: bool = False,
    mesh_networks: dict[str, Any] | None = None,
    mesh_networks_file: str | None = None,
) -> AnalysisResult:
    """Run ``analyzers`` (default: built-ins and plugins) over ``resources``.

    ``namespace`` limits the reported messages to that namespace (and cluster-scoped resources), like
    istioctl without ``-A``; every resource is still visible to the checks. ``complete`` says the resources
    are a whole cluster (``-k``), so a referenced object that is absent really does not exist.
    """
    chosen = list(analyzers) if analyzers is not None else all_analyzers()
    mc = dict(mesh_config or {})
    if not mc:
        for cm in resources:
            if cm.kind == "ConfigMap" and cm.name == "istio" and (cm.namespace or "istio-system") in ("istio-system", ""):
                mc = mesh_config_from_configmap(cm.obj, cm.file)
    mn = dict(mesh_networks or {})
    if not mn:
        for cm in resources:
            if cm.kind == "ConfigMap" and cm.name == "istio" and (cm.namespace or "istio-system") in ("istio-system", ""):
                raw = (cm.obj.get("data") or {}).get("meshNetworks")
                loaded = yaml.safe_load(raw) if isinstance(raw, str) else None
                mn = loaded if isinstance(loaded, dict) else {}
    ctx = AnalysisContext(list(resources), mc, mesh_config_file, complete=complete, mesh_networks=mn, mesh_networks_file=mesh_networks_file)
    errors: list[str] = []
    for a in chosen:
        ctx.current_analyzer = a.name
        try:
            a.analyze(ctx)
        except Exception as e:  # noqa: BLE001 - one broken analyzer must not hide the others' findings
            tb = traceback.extract_tb(e.__traceback__)[-1]
            detail = f"analyzer {a.name} failed: {type(e).__name__}: {e} ({tb.filename.rsplit('/', 1)[-1]}:{tb.lineno})"
            ctx.report("IST0001", None, detail)
            errors.append(detail)
    seen: set[tuple[Any, ...]] = set()
    out: list[Message] = []
    suppressed = 0
    below: list[Message] = []
    supp = list(suppressions)
    for m in ctx.messages:
        k = m.dedup_key()
        if k in seen:
            continue
        seen.add(k)
        if namespace is not None and m.namespace and m.namespace != namespace:
            continue
        if _suppressed_by_annotation(m) or any(s.matches(m) for s in supp):
            suppressed += 1
            continue
        if m.level < output_threshold:
            below.append(m)
            continue
        out.append(m)
    out.sort(key=_sort_key)
    return AnalysisResult(out, chosen, suppressed, below, errors)
