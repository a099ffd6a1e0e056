"""Sidecar analyzers: selectors that match no pods, overlapping selectors, several namespace-wide Sidecars,
and Sidecars that have no effect on ambient workloads."""

from __future__ import annotations

from collections import defaultdict

from meshctl.analyze.analyzers._util import dct, full_name
from meshctl.analyze.analyzers.gateway import selector_string
from meshctl.analyze.context import AnalysisContext, ns_of, selector_matches
from meshctl.analyze.registry import Analyzer
from meshctl.sources.resource import Resource

AMBIENT_REDIRECTION = "ambient.istio.io/redirection"


def namespace_ambient(ns: Resource | None) -> bool:
    """Istio's ``NamespaceInAmbientMode``: dataplane-mode=ambient and no sidecar injection label."""
    if ns is None:
        return False
    if ns.labels.get("istio-injection") == "enabled" or ns.labels.get("istio.io/rev"):
        return False
    return ns.labels.get("istio.io/dataplane-mode") == "ambient"


def pod_ambient(pod: Resource) -> bool:
    return pod.annotations.get(AMBIENT_REDIRECTION) == "enabled"


class SelectorAnalyzer(Analyzer):
    name = "sidecar.SelectorAnalyzer"
    description = "Validates that sidecars that define a workload selector match at least one pod, and that there aren't multiple sidecar resources that select overlapping pods"
    codes = ("IST0101", "IST0110", "IST0111", "IST0167")

    def analyze(self, ctx: AnalysisContext) -> None:
        pod_sidecars: dict[str, list[Resource]] = defaultdict(list)
        pods_by_name: dict[str, Resource] = {}
        no_selector: dict[str, list[Resource]] = defaultdict(list)
        for sc in ctx.istio("Sidecar"):
            ws = sc.spec.get("workloadSelector")
            labels = dct(dct(ws).get("labels"))
            ns = ns_of(sc)
            if not labels:
                if ws is None:
                    no_selector[ns].append(sc)
                if namespace_ambient(ctx.namespaces.get(ns)):
                    ctx.report("IST0167", sc, "namespace is in ambient mode", path="metadata.name")
                continue
            matched = [p for p in ctx.pods_in(ns) if selector_matches(labels, p.labels)]
            if not matched:
                ctx.report("IST0101", sc, "selector", selector_string(labels), path="spec.workloadSelector")
                continue
            if all(pod_ambient(p) for p in matched):
                ctx.report("IST0167", sc, "selected workloads are in ambient mode", path="spec.workloadSelector")
            for p in matched:
                pod_sidecars[full_name(p)].append(sc)
                pods_by_name[full_name(p)] = p
        for pname, scs in pod_sidecars.items():
            if len(scs) > 1:
                pod = pods_by_name[pname]
                for sc in scs:
                    ctx.report("IST0110", sc, [s.name for s in scs], ns_of(pod), pod.name, path="metadata.name")
        for ns, scs in no_selector.items():
            if len(scs) > 1:
                for sc in scs:
                    ctx.report("IST0111", sc, [s.name for s in scs], ns, path="metadata.name")


ANALYZERS: list[Analyzer] = [SelectorAnalyzer()]
