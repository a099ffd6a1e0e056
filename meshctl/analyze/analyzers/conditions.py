"""Status conditions analyzer: resources whose status reports a negative (or partially invalid) condition."""

from __future__ import annotations

from typing import Any

from meshctl.analyze.analyzers._util import dct, lst
from meshctl.analyze.context import GATEWAY_API_GROUP, AnalysisContext
from meshctl.analyze.registry import Analyzer
from meshctl.sources.resource import Resource


def _relevant(ctype: str) -> bool:
    """Istio and Gateway API condition types; other controllers' types (``argocd.argoproj.io/Synced``) are not ours."""
    return "/" not in ctype or ctype.split("/", 1)[0].endswith("istio.io")


def conditions_of(r: Resource) -> list[dict[str, Any]]:
    status = dct(r.obj.get("status"))
    out = [dct(c) for c in lst(status.get("conditions"))]
    for parent in lst(status.get("parents")):
        out.extend(dct(c) for c in lst(dct(parent).get("conditions")))
    return out


class ConditionAnalyzer(Analyzer):
    name = "conditions.ConditionAnalyzer"
    description = "Checks for negative status conditions on resources"
    codes = ("IST0171",)

    def analyze(self, ctx: AnalysisContext) -> None:
        targets = (
            ctx.kind("Service", "")
            + ctx.istio("ServiceEntry")
            + ctx.istio("AuthorizationPolicy")
            + ctx.kind("Gateway", GATEWAY_API_GROUP)
            + ctx.kind("HTTPRoute", GATEWAY_API_GROUP)
            + ctx.kind("GRPCRoute", GATEWAY_API_GROUP)
            + ctx.kind("TCPRoute", GATEWAY_API_GROUP)
            + ctx.kind("TLSRoute", GATEWAY_API_GROUP)
        )
        for r in targets:
            for c in conditions_of(r):
                ctype = str(c.get("type") or "")
                if not _relevant(ctype):
                    continue
                if str(c.get("status")) == "False" or c.get("reason") == "PartiallyInvalid":
                    ctx.report("IST0171", r, ctype, str(c.get("reason") or ""), str(c.get("message") or ""), path="status")


ANALYZERS: list[Analyzer] = [ConditionAnalyzer()]
