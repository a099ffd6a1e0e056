"""RequestAuthentication analyzer: istiod fetches JWKS URIs without BLOCKED_CIDRS_IN_JWKS_URIS (IST0175)."""

from __future__ import annotations

from meshctl.analyze.analyzers._util import dct, full_name, lst
from meshctl.analyze.context import AnalysisContext
from meshctl.analyze.registry import Analyzer

ENV = "BLOCKED_CIDRS_IN_JWKS_URIS"


class BlockedCIDRsAnalyzer(Analyzer):
    name = "authn.BlockedCIDRsAnalyzer"
    description = "Checks that BLOCKED_CIDRS_IN_JWKS_URIS is configured on istiod when RequestAuthentication resources exist"
    codes = ("IST0175",)

    def analyze(self, ctx: AnalysisContext) -> None:
        names = [full_name(r) for r in ctx.istio("RequestAuthentication")]
        if not names:
            return
        shown = ", ".join(names) if len(names) <= 5 else f"{', '.join(names[:5])}, and {len(names) - 5} more"
        for d in ctx.kind("Deployment"):
            if d.labels.get("app") != "istiod":
                continue
            containers = lst(dct(dct(d.spec.get("template")).get("spec")).get("containers"))
            if any(dct(e).get("name") == ENV and dct(e).get("value") for c in containers for e in lst(dct(c).get("env"))):
                continue
            ctx.report("IST0175", d, len(names), shown, path="spec.template.spec.containers")


ANALYZERS: list[Analyzer] = [BlockedCIDRsAnalyzer()]
