"""Deprecation analyzer: deprecated fields and removed Istio resource types (IST0002)."""

from __future__ import annotations

from meshctl.analyze.analyzers._util import dct, lst
from meshctl.analyze.context import AnalysisContext
from meshctl.analyze.registry import Analyzer

REMOVED_CRDS = {("rbac.istio.io", k) for k in ("ClusterRbacConfig", "RbacConfig", "ServiceRole", "ServiceRoleBinding")}


class FieldAnalyzer(Analyzer):
    name = "deprecation.DeprecationAnalyzer"
    description = "Checks for deprecated Istio types and fields"
    codes = ("IST0002",)

    def analyze(self, ctx: AnalysisContext) -> None:
        for vs in ctx.istio("VirtualService"):
            for i, rule in enumerate(lst(vs.spec.get("http"))):
                delay = dct(dct(dct(rule).get("fault")).get("delay"))
                pct = delay.get("percent")
                if isinstance(pct, (int, float)) and not isinstance(pct, bool) and pct > 0:
                    ctx.report("IST0002", vs, "HTTPRoute.fault.delay.percent is deprecated; use HTTPRoute.fault.delay.percentage",
                               path=f"spec.http[{i}].fault.delay.percent")
        for sc in ctx.istio("Sidecar"):
            if dct(sc.spec.get("outboundTrafficPolicy")).get("egressProxy") is not None:
                ctx.report("IST0002", sc, "OutboundTrafficPolicy.EgressProxy ignored", path="spec.outboundTrafficPolicy.egressProxy")
        for crd in ctx.kind("CustomResourceDefinition"):
            group = str(crd.spec.get("group") or "")
            kind = str(dct(crd.spec.get("names")).get("kind") or "")
            if (group, kind) in REMOVED_CRDS:
                ctx.report("IST0002", crd, f"Custom resource type {group} {kind} is removed")


ANALYZERS: list[Analyzer] = [FieldAnalyzer()]
