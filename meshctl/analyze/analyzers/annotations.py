"""Annotation analyzers: unknown, misplaced, deprecated, invalid and alpha-phase Istio annotations on Kubernetes objects."""

from __future__ import annotations

import ipaddress
import json
from collections.abc import Callable
from dataclasses import dataclass
from importlib import resources as importlib_resources

from meshctl.analyze.analyzers._util import dct, lst
from meshctl.analyze.context import AnalysisContext
from meshctl.analyze.registry import Analyzer
from meshctl.sources.resource import Resource

KINDS = ("Namespace", "Service", "Pod", "Deployment")
DEPRECATION_EXTRA = {"sidecar.istio.io/inject": ' in favor of the "sidecar.istio.io/inject" label'}
#: set by istiod/CNI on every pod; the alpha check ignores them when the pod uses the CNI plugin
CNI_DEFAULTS = frozenset(
    {
        "sidecar.istio.io/interceptionMode",
        "traffic.sidecar.istio.io/includeInboundPorts",
        "traffic.sidecar.istio.io/excludeInboundPorts",
        "traffic.sidecar.istio.io/includeOutboundIPRanges",
    }
)


@dataclass(frozen=True)
class AnnotationDef:
    name: str
    feature_status: str
    resources: tuple[str, ...]
    deprecated: bool


def _load() -> dict[str, AnnotationDef]:
    text = importlib_resources.files("meshctl.analyze").joinpath("data").joinpath("istio_annotations.json").read_text(encoding="utf-8")
    return {a["name"]: AnnotationDef(a["name"], a["featureStatus"], tuple(a["resources"]), a["deprecated"]) for a in json.loads(text)}


ANNOTATIONS = _load()


def is_istio_annotation(name: str) -> bool:
    return name == "kubernetes.io/ingress.class" or name.split("/", 1)[0].endswith("istio.io")


# --- value validation (Istio's inject.AnnotationValidation) ------------------------------------------
def _uint32(v: str) -> None:
    if not v.isdigit() or int(v) > 2**32 - 1:
        raise ValueError(f'strconv.ParseUint: parsing "{v}": invalid syntax')


def _port(v: str) -> None:
    _uint32(v)
    if int(v) > 65535:
        raise ValueError(f"port number {v} must be in the range 1..65535")


def _port_list(v: str) -> None:
    for p in [x.strip() for x in v.split(",") if x.strip()]:
        _port(p)


def _port_list_or_star(v: str) -> None:
    if v.strip() != "*":
        _port_list(v)


def _cidr_list(v: str) -> None:
    if v.strip() == "*":
        return
    for c in [x.strip() for x in v.split(",") if x.strip()]:
        try:
            ipaddress.ip_network(c, strict=False)
        except ValueError:
            raise ValueError(f"invalid CIDR address: {c}") from None


def _interception(v: str) -> None:
    if v not in ("REDIRECT", "TPROXY", "NONE"):
        raise ValueError(f"interceptionMode invalid, use REDIRECT,TPROXY,NONE: {v}")


def _bool(v: str) -> None:
    if v.lower() not in ("true", "false", "1", "0", "t", "f"):
        raise ValueError(f'strconv.ParseBool: parsing "{v}": invalid syntax')


VALIDATORS: dict[str, Callable[[str], None]] = {
    "readiness.status.sidecar.istio.io/initialDelaySeconds": _uint32,
    "readiness.status.sidecar.istio.io/periodSeconds": _uint32,
    "readiness.status.sidecar.istio.io/failureThreshold": _uint32,
    "readiness.status.sidecar.istio.io/applicationPorts": _port_list,
    "status.sidecar.istio.io/port": _port,
    "sidecar.istio.io/interceptionMode": _interception,
    "traffic.sidecar.istio.io/includeOutboundIPRanges": _cidr_list,
    "traffic.sidecar.istio.io/excludeOutboundIPRanges": _cidr_list,
    "traffic.sidecar.istio.io/includeInboundPorts": _port_list_or_star,
    "traffic.sidecar.istio.io/excludeInboundPorts": _port_list,
    "traffic.sidecar.istio.io/includeOutboundPorts": _port_list,
    "traffic.sidecar.istio.io/excludeOutboundPorts": _port_list,
    "sidecar.istio.io/enableCoreDump": _bool,
    "sidecar.istio.io/rewriteAppHTTPProbers": _bool,
}


def _path(ann: str) -> str:
    return f"metadata.annotations.{ann}"


def _targets(ctx: AnalysisContext) -> list[Resource]:
    return [r for k in KINDS for r in ctx.kind(k)]


class K8sAnalyzer(Analyzer):
    name = "annotations.K8sAnalyzer"
    description = "Checks for misplaced and invalid Istio annotations in Kubernetes resources"
    codes = ("IST0107", "IST0108", "IST0125", "IST0135")

    def analyze(self, ctx: AnalysisContext) -> None:
        for r in _targets(ctx):
            for ann, value in r.annotations.items():
                ann = str(ann)
                if not is_istio_annotation(ann):
                    continue
                d = ANNOTATIONS.get(ann)
                if d is None:
                    ctx.report("IST0108", r, ann, path=_path(ann))
                    continue
                if d.deprecated and not (ann == "sidecar.istio.io/inject" and ann in r.labels):
                    ctx.report("IST0135", r, ann, DEPRECATION_EXTRA.get(ann, ""), path=_path(ann))
                if "Any" in d.resources:
                    continue
                if r.kind not in d.resources:
                    ctx.report("IST0107", r, ann, ", ".join(d.resources), path=_path(ann))
                    continue
                validate = VALIDATORS.get(ann)
                if validate is not None:
                    try:
                        validate(str(value))
                    except ValueError as e:
                        ctx.report("IST0125", r, ann, str(e), path=_path(ann))


def _uses_cni(pod: Resource) -> bool:
    return not any(dct(c).get("name") == "istio-init" for c in lst(pod.spec.get("initContainers")))


class AlphaAnalyzer(Analyzer):
    name = "annotations.AlphaAnalyzer"
    description = "Checks for alpha Istio annotations in Kubernetes resources"
    codes = ("IST0136",)

    def analyze(self, ctx: AnalysisContext) -> None:
        for r in _targets(ctx):
            skip_defaults = r.kind == "Pod" and _uses_cni(r)
            for ann in r.annotations:
                ann = str(ann)
                d = ANNOTATIONS.get(ann) if is_istio_annotation(ann) else None
                if d is None or d.feature_status != "Alpha" or ann == "sidecar.istio.io/status":
                    continue
                if skip_defaults and ann in CNI_DEFAULTS:
                    continue
                ctx.report("IST0136", r, ann, path=_path(ann))


ANALYZERS: list[Analyzer] = [K8sAnalyzer(), AlphaAnalyzer()]
