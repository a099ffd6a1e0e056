"""Webhook analyzers: overlapping Istio injection webhooks and webhooks pointing at missing services (IST0139),
and the remote-cluster webhooks of an external control plane (IST0163/IST0164)."""

from __future__ import annotations

import ipaddress
from itertools import product
from typing import Any
from urllib.parse import urlsplit

from meshctl.analyze.analyzers._util import dct, lst
from meshctl.analyze.context import AnalysisContext, label_selector_matches
from meshctl.analyze.registry import Analyzer
from meshctl.sources.resource import Resource


def _istio_hooks(ctx: AnalysisContext) -> list[tuple[Resource, dict[str, Any]]]:
    return [(m, dct(w)) for m in ctx.kind("MutatingWebhookConfiguration") for w in lst(m.obj.get("webhooks"))
            if str(dct(w).get("name", "")).endswith("istio.io")]


def _candidate_labels(selectors: list[dict[str, Any]], existing: list[dict[str, Any]]) -> list[dict[str, str]]:
    """Label sets worth trying: existing objects' labels plus the ones each selector asks for."""
    out: list[dict[str, str]] = [dict(e) for e in existing] + [{}]
    for sel in selectors:
        want = {str(k): str(v) for k, v in dct(sel.get("matchLabels")).items()}
        for expr in lst(sel.get("matchExpressions")):
            expr = dct(expr)
            if expr.get("operator") == "In" and lst(expr.get("values")):
                want[str(expr.get("key"))] = str(lst(expr.get("values"))[0])
            elif expr.get("operator") == "Exists":
                want[str(expr.get("key"))] = "x"
        out.append(want)
    return out


class WebhookAnalyzer(Analyzer):
    name = "webhook.Analyzer"
    description = "Checks the validity of Istio webhooks"
    codes = ("IST0139",)

    def analyze(self, ctx: AnalysisContext) -> None:
        hooks = _istio_hooks(ctx)
        ns_labels = _candidate_labels([dct(w.get("namespaceSelector")) for _, w in hooks], [n.labels for n in ctx.kind("Namespace", "")])
        obj_labels = _candidate_labels([dct(w.get("objectSelector")) for _, w in hooks], [p.labels for p in ctx.pods])

        def matches(w: dict[str, Any], nl: dict[str, str], ol: dict[str, str]) -> bool:
            return label_selector_matches(dct(w.get("namespaceSelector")), nl) and label_selector_matches(dct(w.get("objectSelector")), ol)

        for i, (cfg, w) in enumerate(hooks):
            others = []
            for j, (ocfg, ow) in enumerate(hooks):
                if i != j and any(matches(w, nl, ol) and matches(ow, nl, ol) for nl, ol in product(ns_labels, obj_labels)):
                    others.append(f"{ocfg.name}/{ow.get('name')}")
            if others:
                ctx.report("IST0139", cfg, f"Webhook overlaps with others: {others}. This may cause injection to occur twice.")
            svc = dct(dct(w.get("clientConfig")).get("service"))
            if svc and ctx.find("Service", str(svc.get("namespace") or ""), str(svc.get("name") or ""), "") is None:
                ctx.report("IST0139", cfg, f"Injector refers to a control plane service that does not exist: {svc.get('namespace')}/{svc.get('name')}.")


class ExternalControlPlaneAnalyzer(Analyzer):
    name = "externalcontrolplane.ExternalControlPlaneAnalyzer"
    description = "Checks that the remote IstioOperator resources reference an external control plane"
    codes = ("IST0163", "IST0164")

    def analyze(self, ctx: AnalysisContext) -> None:
        validator = ctx.find("ValidatingWebhookConfiguration", None, "istio-validator-external-istiod")
        injector = ctx.find("MutatingWebhookConfiguration", None, "istio-sidecar-injector-external-istiod")
        if validator is None or injector is None:
            return
        targets = [r for r in ctx.kind("ValidatingWebhookConfiguration") if r.name in ("istio-validator-external-istiod", "istiod-default-validator")]
        targets.append(injector)
        for cfg in targets:
            for w in lst(cfg.obj.get("webhooks")):
                w = dct(w)
                url = dct(w.get("clientConfig")).get("url")
                hook = str(w.get("name") or "")
                if not url:
                    ctx.report("IST0163", cfg, "", hook, "is blank")
                    break
                host = urlsplit(str(url)).hostname or ""
                if not host:
                    ctx.report("IST0163", cfg, str(url), hook, "has no hostname")
                    break
                try:
                    ipaddress.ip_address(host)
                except ValueError:
                    continue
                ctx.report("IST0164", cfg, host, hook)


ANALYZERS: list[Analyzer] = [WebhookAnalyzer(), ExternalControlPlaneAnalyzer()]
