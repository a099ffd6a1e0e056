"""Deployment analyzers: services that disagree on a port's protocol or target port, and UID 1337 workloads."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from meshctl.analyze.analyzers._util import dct, full_name, int_or_none, lst
from meshctl.analyze.analyzers.service import is_control_plane
from meshctl.analyze.context import AnalysisContext, ns_of, selector_matches
from meshctl.analyze.registry import Analyzer
from meshctl.sources.resource import Resource

PROXY_UID = 1337


def in_mesh(ctx: AnalysisContext, d: Resource) -> bool:
    """Istio's ``DeploymentInMesh``: a proxy container, else the inject label/annotation, else the namespace label."""
    tmpl = dct(d.spec.get("template"))
    md, spec = dct(tmpl.get("metadata")), dct(tmpl.get("spec"))
    if any(dct(c).get("name") == "istio-proxy" and dct(c).get("image") for c in lst(spec.get("containers"))):
        return True
    for m in (dct(md.get("labels")), dct(md.get("annotations"))):
        if "sidecar.istio.io/inject" in m:
            return str(m["sidecar.istio.io/inject"]) == "true"
    ns = ctx.namespaces.get(ns_of(d))
    return ns is not None and ns.labels.get("istio-injection") == "enabled"


class ServiceAssociationAnalyzer(Analyzer):
    name = "deployment.MultiServiceAnalyzer"
    description = "Checks association between services and pods"
    codes = ("IST0116", "IST0137")

    def analyze(self, ctx: AnalysisContext) -> None:
        for d in ctx.kind("Deployment"):
            if d.labels.get("gateway.istio.io/managed") == "istio.io-mesh-controller" or not in_mesh(ctx, d):
                continue
            labels = dct(dct(dct(d.spec.get("template")).get("metadata")).get("labels"))
            svcs = [s for s in ctx.services if ns_of(s) == ns_of(d) and dct(s.spec.get("selector")) and selector_matches(dct(s.spec.get("selector")), labels)]
            by_port: dict[int, dict[str, list[str]]] = defaultdict(lambda: defaultdict(list))
            by_target: dict[str, dict[int, str]] = defaultdict(dict)
            for s in svcs:
                for p in lst(s.spec.get("ports")):
                    p = dct(p)
                    port = int_or_none(p.get("port")) or 0
                    by_port[port][str(p.get("protocol") or "TCP")].append(full_name(s))
                    tp = p.get("targetPort")
                    tps = str(port) if tp in (None, "", 0, "0") else str(tp)
                    by_target[tps][port] = full_name(s)
            for port, protos in by_port.items():
                if len(protos) > 1:
                    names = sorted(n for ns in protos.values() for n in ns)
                    ctx.report("IST0116", d, d.name, port, names, path="metadata.name")
            for tp, ports in by_target.items():
                if len(ports) > 1:
                    ctx.report("IST0137", d, d.name, sorted(ports.values()), tp, sorted(ports), path="metadata.name")


def _uid_1337(spec: dict[str, Any]) -> int:
    hits = 1 if int_or_none(dct(spec.get("securityContext")).get("runAsUser")) == PROXY_UID else 0
    for c in lst(spec.get("containers")):
        c = dct(c)
        if c.get("name") not in ("istio-proxy", "istio-operator") and int_or_none(dct(c.get("securityContext")).get("runAsUser")) == PROXY_UID:
            hits += 1
    return hits


class ApplicationUIDAnalyzer(Analyzer):
    name = "applicationUID.Analyzer"
    description = "Checks invalid application UID"
    codes = ("IST0144",)

    def analyze(self, ctx: AnalysisContext) -> None:
        for pod in ctx.pods:
            if not is_control_plane(pod) and _uid_1337(pod.spec):
                ctx.report("IST0144", pod)
        for d in ctx.kind("Deployment"):
            if not is_control_plane(d) and _uid_1337(dct(dct(d.spec.get("template")).get("spec"))):
                ctx.report("IST0144", d)


ANALYZERS: list[Analyzer] = [ServiceAssociationAnalyzer(), ApplicationUIDAnalyzer()]
