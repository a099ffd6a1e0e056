"""Gateway API analyzers: CRDs below the version Istio needs, and policy selectors that target gateway pods."""

from __future__ import annotations

import re

from meshctl.analyze.analyzers._util import dct
from meshctl.analyze.context import AnalysisContext, ns_of, selector_matches
from meshctl.analyze.registry import Analyzer

BUNDLE_VERSION = "gateway.networking.k8s.io/bundle-version"
GATEWAY_NAME_LABEL = "gateway.networking.k8s.io/gateway-name"
#: CRDs whose older bundles this Istio's CRD watcher ignores (TLSRoute moved to v1alpha3/v1 in Gateway API 1.5)
MINIMUM_CRD_VERSIONS = {"tlsroutes.gateway.networking.k8s.io": (1, 5, 0)}
_SEMVER = re.compile(r"^v?(\d+)\.(\d+)\.(\d+)")


class CRDVersionAnalyzer(Analyzer):
    name = "k8sgateway.CRDVersionAnalyzer"
    description = "Checks Gateway API CRDs are at the minimum version required by this Istio version"
    codes = ("IST0176",)

    def analyze(self, ctx: AnalysisContext) -> None:
        for crd in ctx.kind("CustomResourceDefinition"):
            minimum = MINIMUM_CRD_VERSIONS.get(crd.name)
            bv = crd.annotations.get(BUNDLE_VERSION)
            if minimum is None or not bv:
                continue
            m = _SEMVER.match(str(bv))
            if not m:
                continue
            installed = tuple(int(x) for x in m.groups())
            if installed < minimum:
                ctx.report("IST0176", crd, crd.name, str(bv).lstrip("v"), ".".join(map(str, minimum)), path=f"metadata.annotations.{BUNDLE_VERSION}")


class SelectorAnalyzer(Analyzer):
    name = "k8sgateway.SelectorAnalyzer"
    description = "Check for selectors on policies that select Kubernetes Gateway pods (use targetRefs instead)"
    codes = ("IST0166",)

    def analyze(self, ctx: AnalysisContext) -> None:
        policies = ctx.istio("AuthorizationPolicy") + ctx.istio("RequestAuthentication") + ctx.istio("Telemetry") + ctx.istio("WasmPlugin")
        for pol in policies:
            if pol.spec.get("targetRef") or pol.spec.get("selector") is None:
                continue  # targetRef is the supported way; no selector = nothing selected by labels
            sel = dct(dct(pol.spec.get("selector")).get("matchLabels"))
            gateways = sorted({str(p.labels[GATEWAY_NAME_LABEL]) for p in ctx.pods_in(ns_of(pol)) if GATEWAY_NAME_LABEL in p.labels and selector_matches(sel, p.labels)})
            for gw in gateways:
                ctx.report("IST0166", pol, gw, path="spec.selector")


ANALYZERS: list[Analyzer] = [CRDVersionAnalyzer(), SelectorAnalyzer()]
