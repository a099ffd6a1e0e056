"""Telemetry analyzers: entries without providers, deprecated Lightstep, selectors that match nothing or overlap."""

from __future__ import annotations

from collections import defaultdict

from meshctl.analyze.analyzers._util import dct, full_name, lst
from meshctl.analyze.analyzers.gateway import selector_string
from meshctl.analyze.context import AnalysisContext, ns_of, selector_matches
from meshctl.analyze.registry import Analyzer
from meshctl.sources.resource import Resource


class ProviderAnalyzer(Analyzer):
    name = "telemetry.ProviderAnalyzer"
    description = "Validates that providers in telemetry resource is valid"
    codes = ("IST0157",)

    def analyze(self, ctx: AnalysisContext) -> None:
        if lst(dct(ctx.mesh_config.get("defaultProviders")).get("accessLogging")):
            return
        for t in ctx.istio("Telemetry"):
            for i, al in enumerate(lst(t.spec.get("accessLogging"))):
                al = dct(al)
                if not lst(al.get("providers")) and al.get("disabled") is not True:
                    ctx.report("IST0157", t, t.name, ns_of(t), path=f"spec.accessLogging[{i}]")
                    break


class LightstepAnalyzer(Analyzer):
    name = "telemetry.LightstepAnalyzer"
    description = "Validates that lightstep provider is still used"
    codes = ("IST0002",)

    def analyze(self, ctx: AnalysisContext) -> None:
        lightstep = {str(dct(p).get("name")) for p in lst(ctx.mesh_config.get("extensionProviders")) if "lightstep" in dct(p)}
        if not lightstep:
            return
        for t in ctx.istio("Telemetry"):
            for i, tr in enumerate(lst(t.spec.get("tracing"))):
                for p in lst(dct(tr).get("providers")):
                    if str(dct(p).get("name")) in lightstep:
                        ctx.report("IST0002", t, "The Lightstep provider has been deprecated, please migrate to OpenTelemetry provider.", path=f"spec.tracing[{i}]")


def _selector(t: Resource) -> dict[str, str] | None:
    sel = t.spec.get("selector")
    if sel is None:
        return None
    return {str(k): str(v) for k, v in dct(dct(sel).get("matchLabels")).items()}


class SelectorAnalyzer(Analyzer):
    name = "telemetry.SelectorAnalyzer"
    description = "Validates that telemetries that define a selector match at least one pod, and that there aren't multiple telemetry resources that select overlapping pods"
    codes = ("IST0101", "IST0159")

    def analyze(self, ctx: AnalysisContext) -> None:
        pod_telemetries: dict[str, list[Resource]] = defaultdict(list)
        pods: dict[str, Resource] = {}
        for t in ctx.istio("Telemetry"):
            sel = _selector(t)
            if not sel or t.spec.get("targetRef") or t.spec.get("targetRefs"):
                continue
            matched = [p for p in ctx.pods_in(ns_of(t)) if selector_matches(sel, p.labels)]
            if not matched:
                ctx.report("IST0101", t, "selector", selector_string(sel), path="spec.selector")
            for p in matched:
                pod_telemetries[full_name(p)].append(t)
                pods[full_name(p)] = p
        for pname, ts in pod_telemetries.items():
            if len(ts) > 1:
                for t in ts:
                    ctx.report("IST0159", t, [x.name for x in ts], ns_of(pods[pname]), pods[pname].name, path="metadata.name")


class DefaultSelectorAnalyzer(Analyzer):
    name = "telemetry.DefaultSelectorAnalyzer"
    description = "Validates that there aren't multiple telemetry resources that have no selector"
    codes = ("IST0160",)

    def analyze(self, ctx: AnalysisContext) -> None:
        by_ns: dict[str, list[Resource]] = defaultdict(list)
        for t in ctx.istio("Telemetry"):
            if _selector(t) is None and not t.spec.get("targetRef") and not t.spec.get("targetRefs"):
                by_ns[ns_of(t)].append(t)
        for ns, ts in by_ns.items():
            if len(ts) > 1:
                for t in ts:
                    ctx.report("IST0160", t, [x.name for x in ts], ns, path="metadata.name")


ANALYZERS: list[Analyzer] = [ProviderAnalyzer(), LightstepAnalyzer(), SelectorAnalyzer(), DefaultSelectorAnalyzer()]
