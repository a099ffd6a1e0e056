"""Service port analyzer: port names that do not follow Istio's protocol naming convention."""

from __future__ import annotations

from meshctl.analyze.analyzers._protocol import convert_protocol
from meshctl.analyze.analyzers._util import dct, lst
from meshctl.analyze.context import AnalysisContext, ns_of
from meshctl.analyze.registry import Analyzer
from meshctl.sources.resource import Resource

SYSTEM_NAMESPACES = frozenset({"kube-system", "kube-public", "kube-node-lease", "local-path-storage"})


def is_control_plane(r: Resource) -> bool:
    """Istio's ``IsIstioControlPlane``: labelled ``istio=...`` or ``release=istio``."""
    return "istio" in r.labels or r.labels.get("release") == "istio" or "gateway.istio.io/managed" in r.labels


class PortNameAnalyzer(Analyzer):
    name = "service.PortNameAnalyzer"
    description = "Checks the port names associated with each service"
    codes = ("IST0118", "IST0150")

    def analyze(self, ctx: AnalysisContext) -> None:
        for svc in ctx.services:
            if ns_of(svc) in SYSTEM_NAMESPACES or is_control_plane(svc):
                continue
            external = svc.spec.get("type") == "ExternalName"
            for i, p in enumerate(lst(svc.spec.get("ports"))):
                p = dct(p)
                name = str(p.get("name") or "")
                proto = convert_protocol(p.get("port"), name, p.get("protocol"), p.get("appProtocol"))
                if proto == "UnsupportedProtocol" or (name == "tcp" and external):
                    if external:
                        ctx.report("IST0150", svc, path=f"spec.ports[{i}]")
                    else:
                        target = p.get("targetPort")
                        # Go's zero IntOrString prints "0"
                        ctx.report("IST0118", svc, name, p.get("port"), "0" if target is None else str(target), path=f"spec.ports[{i}]")


ANALYZERS: list[Analyzer] = [PortNameAnalyzer()]
