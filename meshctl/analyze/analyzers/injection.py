"""Sidecar injection analyzers: namespace labels, pods without a proxy, stale proxy images, ``image: auto``."""

from __future__ import annotations

import json
import re
from collections import defaultdict
from typing import Any

from meshctl.analyze.analyzers._util import dct, lst
from meshctl.analyze.context import AnalysisContext, label_selector_matches, ns_of
from meshctl.analyze.registry import Analyzer
from meshctl.sources.resource import Resource

INJECTION_LABEL = "istio-injection"
REVISION_LABEL = "istio.io/rev"
SIDECAR_INJECT = "sidecar.istio.io/inject"
DATAPLANE_LABEL = "istio.io/dataplane-mode"
PROXY_CONTAINER = "istio-proxy"
SYSTEM_NAMESPACES = frozenset({"kube-system", "kube-public", "kube-node-lease", "local-path-storage"})
_VARIANT = re.compile(r"-(distroless|debug)$")


def injector_configmap_name(revision: str) -> str:
    return "istio-sidecar-injector" if revision in ("", "default") else f"istio-sidecar-injector-{revision}"


def _injector_values(cm: Resource) -> dict[str, Any]:
    try:
        v = json.loads(str(dct(cm.obj.get("data")).get("values") or ""))
    except (ValueError, TypeError):
        return {}
    return v if isinstance(v, dict) else {}


def _containers(spec: dict[str, Any]) -> list[dict[str, Any]]:
    return [dct(c) for c in lst(spec.get("containers"))]


class InjectionAnalyzer(Analyzer):
    name = "injection.Analyzer"
    description = "Checks conditions related to Istio sidecar injection"
    codes = ("IST0102", "IST0103", "IST0123", "IST0148")

    def analyze(self, ctx: AnalysisContext) -> None:
        configmaps = {cm.name: cm for cm in ctx.kind("ConfigMap", "")}
        injected: set[str] = set()
        for ns in ctx.kind("Namespace", ""):
            name = ns.name
            if name == ctx.istio_namespace or name in SYSTEM_NAMESPACES:
                continue
            legacy = str(ns.labels.get(INJECTION_LABEL, ""))
            has_rev = REVISION_LABEL in ns.labels
            ambient = ns.labels.get(DATAPLANE_LABEL) == "ambient"
            enabling = [f"{INJECTION_LABEL}={legacy}"] if legacy and legacy != "disabled" else []
            if has_rev:
                enabling.append(f"{REVISION_LABEL}={ns.labels[REVISION_LABEL]}")
            if ambient:
                enabling.append(f"{DATAPLANE_LABEL}=ambient")
            if len(enabling) > 1:
                ctx.report("IST0123", ns, enabling, path="metadata.labels")
                continue
            if not legacy and not has_rev:
                if ambient:
                    continue  # ambient namespaces are in the mesh without sidecars
                cm = configmaps.get(injector_configmap_name(""))
                by_default = bool(dct(_injector_values(cm).get("sidecarInjectorWebhook")).get("enableNamespacesByDefault")) if cm else False
                if by_default:
                    ctx.report("IST0148", ns, path="metadata.name")
                else:
                    ctx.report("IST0102", ns, name, name, path="metadata.name")
                continue
            if not has_rev and legacy != "enabled":
                continue
            injected.add(name)
        for pod in ctx.pods:
            if ns_of(pod) not in injected:
                continue
            inj = str(pod.labels.get(SIDECAR_INJECT, pod.annotations.get(SIDECAR_INJECT, "")))
            if inj.lower() == "false" or pod.spec.get("hostNetwork"):
                continue
            if not any(c.get("name") == PROXY_CONTAINER and c.get("image") for c in _containers(pod.spec)):
                ctx.report("IST0103", pod, pod.full_name)


class ImageAnalyzer(Analyzer):
    name = "injection.ImageAnalyzer"
    description = "Checks the image of auto-injection configured with the running proxies on pods"
    codes = ("IST0158",)

    def analyze(self, ctx: AnalysisContext) -> None:
        images: dict[str, str] = {}
        for cm in ctx.kind("ConfigMap", ""):
            if cm.name.startswith("istio-sidecar-injector"):
                g = dct(_injector_values(cm).get("global"))
                img = str(dct(g.get("proxy")).get("image") or "")
                images[cm.name] = img if "/" in img else f"{g.get('hub', '')}/{img}:{g.get('tag', '')}"
        if not images:
            return
        namespaces = {ns.name: ns for ns in ctx.kind("Namespace", "")}
        injected: dict[str, str] = {}
        for name, ns_res in namespaces.items():
            if REVISION_LABEL in ns_res.labels:
                injected[name] = str(ns_res.labels[REVISION_LABEL])
            elif ns_res.labels.get(INJECTION_LABEL) == "enabled":
                injected[name] = "default"
        mismatched: dict[str, list[str]] = defaultdict(list)
        for pod in ctx.pods:
            rev = injected.get(ns_of(pod))
            if rev is None or pod.annotations.get("sidecar.istio.io/proxyImage"):
                continue
            want = images.get(injector_configmap_name(rev))
            if want is None:
                continue
            for c in _containers(pod.spec) + [dct(c) for c in lst(pod.spec.get("initContainers"))]:
                # -distroless/-debug are variants of the same release (imageType in ProxyConfig)
                if c.get("name") == PROXY_CONTAINER and _VARIANT.sub("", str(c.get("image") or "")) != _VARIANT.sub("", want):
                    mismatched[ns_of(pod)].append(pod.name)
        for ns, pods in mismatched.items():
            if ns in namespaces:
                ctx.report("IST0158", namespaces[ns], pods)


class ImageAutoAnalyzer(Analyzer):
    name = "injection.ImageAutoAnalyzer"
    description = "Makes sure that Pods and Deployments with `image: auto` are going to be injected"
    codes = ("IST0146", "IST0147")

    def analyze(self, ctx: AnalysisContext) -> None:
        hooks = [dct(w) for m in ctx.kind("MutatingWebhookConfiguration") for w in lst(m.obj.get("webhooks")) if str(dct(w).get("name", "")).endswith("istio.io")]
        namespaces = {ns.name: ns.labels for ns in ctx.kind("Namespace", "")}

        def auto(spec: dict[str, Any]) -> bool:
            return any(c.get("name") == PROXY_CONTAINER and c.get("image") == "auto" for c in _containers(spec))

        for pod in ctx.pods:
            if auto(pod.spec):
                ctx.report("IST0147", pod, "Pod", pod.name)
        for d in ctx.kind("Deployment"):
            tmpl = dct(d.spec.get("template"))
            if not auto(dct(tmpl.get("spec"))):
                continue
            ns_labels = namespaces.get(ns_of(d) or "default", {})
            pod_labels = dct(dct(tmpl.get("metadata")).get("labels"))
            if not any(
                label_selector_matches(dct(w.get("namespaceSelector")), ns_labels) and label_selector_matches(dct(w.get("objectSelector")), pod_labels)
                for w in hooks
            ):
                ctx.report("IST0146", d, "Deployment", d.name)


ANALYZERS: list[Analyzer] = [InjectionAnalyzer(), ImageAnalyzer(), ImageAutoAnalyzer()]
