"""EnvoyFilter patch analyzer: operations Envoy ignores for their applyTo, and relative operations without priority."""

from __future__ import annotations

from typing import Any

from meshctl.analyze.analyzers._util import dct, lst
from meshctl.analyze.context import AnalysisContext, ns_of
from meshctl.analyze.registry import Analyzer
from meshctl.sources.resource import Resource

ROUTE_KINDS = ("ROUTE_CONFIGURATION", "HTTP_ROUTE")


class EnvoyPatchAnalyzer(Analyzer):
    name = "envoyfilter.EnvoyPatchAnalyzer"
    description = "Checks an envoyFilters"
    codes = ("IST0151", "IST0152", "IST0153", "IST0154", "IST0155")

    def analyze(self, ctx: AnalysisContext) -> None:
        versioned: list[str] = []  # patch names of earlier filters that set match.proxy.proxyVersion
        for ef in sorted(ctx.istio("EnvoyFilter"), key=lambda r: (ns_of(r), r.name)):
            self._one(ctx, ef, versioned)

    @staticmethod
    def _relative(ctx: AnalysisContext, ef: Resource, index: int, versioned: list[str], name: str) -> None:
        if ef.spec.get("priority"):
            return
        code = "IST0155" if name in versioned else "IST0151"
        ctx.report(code, ef, path=f"spec.configPatches[{index}].patch.operation")

    def _one(self, ctx: AnalysisContext, ef: Resource, versioned: list[str]) -> None:
        for index, cp in enumerate(lst(ef.spec.get("configPatches"))):
            cp = dct(cp)
            patch = cp.get("patch")
            if not isinstance(patch, dict):
                break
            match = dct(cp.get("match"))
            value: Any = patch.get("value")
            name = ""
            if isinstance(value, dict) and value:
                if "name" in value:
                    name = repr(value["name"])
                else:
                    name = str(dct(dct(dct(match.get("listener")).get("filterChain")).get("filter")).get("name") or "")
            op = str(patch.get("operation") or "")
            apply_to = str(cp.get("applyTo") or "")
            path = f"spec.configPatches[{index}].patch.operation"
            if op == "ADD":
                if apply_to in ROUTE_KINDS:
                    ctx.report("IST0153", ef, path=path)
            elif op == "REMOVE":
                if apply_to in ROUTE_KINDS:
                    ctx.report("IST0154", ef, path=path)
                else:
                    self._relative(ctx, ef, index, versioned, name)
            elif op == "REPLACE":
                if apply_to not in ("NETWORK_FILTER", "HTTP_FILTER"):
                    ctx.report("IST0152", ef, path=path)
                else:
                    self._relative(ctx, ef, index, versioned, name)
            elif op in ("INSERT_BEFORE", "INSERT_AFTER"):
                self._relative(ctx, ef, index, versioned, name)
            if dct(match.get("proxy")).get("proxyVersion"):
                versioned.append(name)


ANALYZERS: list[Analyzer] = [EnvoyPatchAnalyzer()]
