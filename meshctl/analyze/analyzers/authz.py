"""AuthorizationPolicy analyzer: policies that select no in-mesh workload, and source namespaces that do not exist."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from meshctl.analyze.analyzers._util import dct, lst
from meshctl.analyze.analyzers.gateway import selector_string
from meshctl.analyze.analyzers.sidecar import namespace_ambient, pod_ambient
from meshctl.analyze.context import AnalysisContext, ns_of, selector_matches
from meshctl.analyze.registry import Analyzer
from meshctl.sources.resource import Resource


def pod_in_mesh(ctx: AnalysisContext, pod: Resource) -> bool:
    """Istio's ``PodInMesh`` (plus ambient): a proxy container, the inject label/annotation, or the namespace label."""
    containers = [dct(c) for c in lst(pod.spec.get("containers")) + lst(pod.spec.get("initContainers"))]
    if any(c.get("name") == "istio-proxy" and c.get("image") for c in containers):
        return True
    if pod_ambient(pod):
        return True
    for m in (pod.labels, pod.annotations):
        if "sidecar.istio.io/inject" in m:
            return str(m["sidecar.istio.io/inject"]) == "true"
    ns = ctx.namespaces.get(ns_of(pod))
    if ns is None:
        return False
    return ns.labels.get("istio-injection") == "enabled" or namespace_ambient(ns)


def namespace_match(ns: str, exp: str) -> bool:
    if exp == "*":
        return True
    if exp.startswith("*"):
        return ns.endswith(exp[1:])
    if exp.endswith("*"):
        return ns.startswith(exp[:-1])
    return ns.lower() == exp.lower()


class AuthorizationPoliciesAnalyzer(Analyzer):
    name = "auth.AuthorizationPoliciesAnalyzer"
    description = "Checks the validity of authorization policies"
    codes = ("IST0101", "IST0127")

    def analyze(self, ctx: AnalysisContext) -> None:
        pods: dict[str, list[dict[str, Any]]] = defaultdict(list)
        for p in ctx.workload_pods:
            if pod_in_mesh(ctx, p):
                pods[ns_of(p)].append(p.labels)
        namespaces = list(ctx.namespaces)
        for ap in ctx.istio("AuthorizationPolicy"):
            self._workloads(ctx, ap, pods)
            for i, rule in enumerate(lst(ap.spec.get("rules"))):
                for j, frm in enumerate(lst(dct(rule).get("from"))):
                    src = dct(dct(frm).get("source"))
                    for field in ("namespaces", "notNamespaces"):
                        for k, exp in enumerate(lst(src.get(field))):
                            if not any(namespace_match(n, str(exp)) for n in namespaces):
                                ctx.report("IST0101", ap, "namespace", str(exp), path=f"spec.rules[{i}].from[{j}].source.{field}[{k}]")

    @staticmethod
    def _workloads(ctx: AnalysisContext, ap: Resource, pods: dict[str, list[dict[str, Any]]]) -> None:
        if ap.spec.get("targetRef") or ap.spec.get("targetRefs"):
            return  # attached to a Gateway/Service/waypoint, not selected by labels
        sel_obj = ap.spec.get("selector")
        sel = {str(k): str(v) for k, v in dct(dct(sel_obj).get("matchLabels")).items()}
        ns = ns_of(ap)
        if ns == ctx.root_namespace:
            if sel_obj is not None and not any(selector_matches(sel, labels) for pl in pods.values() for labels in pl):
                ctx.report("IST0127", ap, selector_string(sel), path="spec.selector")
            return
        if sel_obj is None:
            if not pods.get(ns):
                ctx.report("IST0127", ap, "", path="metadata.name")
            return
        if not any(selector_matches(sel, labels) for labels in pods.get(ns, [])):
            ctx.report("IST0127", ap, selector_string(sel), path="spec.selector")


ANALYZERS: list[Analyzer] = [AuthorizationPoliciesAnalyzer()]
