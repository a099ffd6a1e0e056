"""Workload instances: Pods, one synthetic instance per Deployment/StatefulSet/DaemonSet/ReplicaSet pod template,
and WorkloadEntries.

Rules (documented in docs/model.md):
* A controller's template becomes one instance named like the controller, unless Pods in the input already
  match its selector (then the Pods are the instances).
* IPs: ``status.podIP`` or WorkloadEntry ``address``; otherwise a stable synthetic IP in 10.244.0.0/16.
* Sidecar injected (tlsMode ``istio``) unless the pod (template) has ``sidecar.istio.io/inject: "false"``
  (annotation or label), or its Namespace is in the input and not labelled for injection
  (``istio-injection=enabled`` or ``istio.io/rev``) and the pod does not opt in. A
  ``security.istio.io/tlsMode`` label always wins. Gateways are marked by the model after selection.
* Locality: ``istio-locality`` label (``region.zone.subzone``) or ``topology.kubernetes.io/region|zone``
  (+ ``topology.istio.io/subzone``) labels.
"""

from __future__ import annotations

import ipaddress
from typing import Any

from meshctl.model.api import WorkloadEntry
from meshctl.model.hosts import labels_match
from meshctl.model.registry import AddressAllocator
from meshctl.model.types import Workload
from meshctl.sources.resource import Resource

CONTROLLER_KINDS = ("Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "ReplicationController", "Job")
_POD_NET = ipaddress.IPv4Network("10.244.0.0/16")


def locality_of(labels: dict[str, str]) -> str:
    """``region/zone/subzone`` from Istio's and Kubernetes' topology labels."""
    loc = labels.get("istio-locality")
    if loc:
        return loc.replace(".", "/")
    region = labels.get("topology.kubernetes.io/region", "")
    zone = labels.get("topology.kubernetes.io/zone", "")
    sub = labels.get("topology.istio.io/subzone", "")
    if not (region or zone or sub):
        return ""
    return "/".join([region, zone, sub]).rstrip("/")


def _container_ports(pod_spec: dict[str, Any]) -> tuple[dict[str, int], list[int]]:
    named: dict[str, int] = {}
    numbers: list[int] = []
    for c in (pod_spec.get("containers") or []) + (pod_spec.get("initContainers") or []):
        if not isinstance(c, dict):
            continue
        for p in c.get("ports") or []:
            if isinstance(p, dict) and "containerPort" in p:
                n = int(p["containerPort"])
                numbers.append(n)
                if p.get("name"):
                    named[str(p["name"])] = n
    return named, numbers


def _injection(labels: dict[str, str], annotations: dict[str, str], ns_labels: dict[str, str] | None) -> bool:
    mode = labels.get("security.istio.io/tlsMode")
    if mode:
        return mode == "istio"
    flag = str(annotations.get("sidecar.istio.io/inject", labels.get("sidecar.istio.io/inject", ""))).lower()
    if flag == "false":
        return False
    if flag == "true":
        return True
    if ns_labels is None:
        return True
    if ns_labels.get("istio-injection") == "disabled":
        return False
    return ns_labels.get("istio-injection") == "enabled" or "istio.io/rev" in ns_labels


def _pod_workload(
    name: str,
    ns: str,
    kind: str,
    meta: dict[str, Any],
    spec: dict[str, Any],
    ip: str | None,
    ns_labels: dict[str, str] | None,
    r: Resource,
) -> Workload:
    labels = {str(k): str(v) for k, v in (meta.get("labels") or {}).items()}
    annotations = {str(k): str(v) for k, v in (meta.get("annotations") or {}).items()}
    named, numbers = _container_ports(spec)
    return Workload(
        name=name,
        namespace=ns,
        kind=kind,
        labels=labels,
        ip=ip,
        service_account=str(spec.get("serviceAccountName") or spec.get("serviceAccount") or "default"),
        ports=named,
        port_numbers=numbers,
        locality=locality_of(labels),
        network=labels.get("topology.istio.io/network", ""),
        sidecar_injected=_injection(labels, annotations, ns_labels),
        annotations=annotations,
        source=r,
    )


def build_workloads(
    resources: list[Resource], workload_entries: list[tuple[Resource, WorkloadEntry]]
) -> list[Workload]:
    """All workload instances, in a stable order (namespace, name)."""
    namespaces = {r.name: dict(r.labels) for r in resources if r.kind == "Namespace"}
    out: list[Workload] = []
    pods = [r for r in resources if r.kind == "Pod" and r.group == ""]
    for r in pods:
        ns = r.namespace or "default"
        status: dict[str, Any] = r.obj["status"] if isinstance(r.obj.get("status"), dict) else {}
        w = _pod_workload(
            r.name, ns, "Pod", r.metadata, r.spec, status.get("podIP") or None, namespaces.get(ns), r
        )
        phase = status.get("phase")
        conds = {
            c.get("type"): c.get("status") for c in status.get("conditions") or [] if isinstance(c, dict)
        }
        w.ready = phase in (None, "Running") and conds.get("Ready", "True") == "True"
        out.append(w)
    owned_rs = set()
    for r in resources:
        if r.kind == "ReplicaSet":
            for o in r.metadata.get("ownerReferences") or []:
                if isinstance(o, dict) and o.get("kind") == "Deployment":
                    owned_rs.add((r.namespace, r.name))
    for r in resources:
        if r.kind not in CONTROLLER_KINDS or r.group not in ("apps", "batch", ""):
            continue
        if r.kind == "ReplicaSet" and (r.namespace, r.name) in owned_rs:
            continue
        ns = r.namespace or "default"
        tmpl: dict[str, Any] = r.spec["template"] if isinstance(r.spec.get("template"), dict) else {}
        if r.kind == "Job":
            continue
        meta: dict[str, Any] = tmpl["metadata"] if isinstance(tmpl.get("metadata"), dict) else {}
        spec: dict[str, Any] = tmpl["spec"] if isinstance(tmpl.get("spec"), dict) else {}
        sel = r.spec.get("selector") or {}
        match = sel.get("matchLabels") if isinstance(sel, dict) and "matchLabels" in sel else sel
        if match and any(p.namespace == ns and labels_match(match, p.labels) for p in out if p.kind == "Pod"):
            continue
        out.append(_pod_workload(r.name, ns, r.kind, meta, spec, None, namespaces.get(ns), r))
    for r, we in workload_entries:
        ns = r.namespace or "default"
        labels = dict(we.labels)
        out.append(
            Workload(
                name=r.name,
                namespace=ns,
                kind="WorkloadEntry",
                labels=labels,
                ip=we.address or None,
                service_account=we.service_account or "default",
                ports=dict(we.ports),
                port_numbers=sorted(set(we.ports.values())),
                locality=(we.locality or "") or locality_of(labels),
                network=we.network or "",
                sidecar_injected=labels.get("security.istio.io/tlsMode", "istio") == "istio",
                weight=we.weight or 1,
                annotations=dict(r.annotations),
                source=r,
            )
        )
    out.sort(key=lambda w: (w.namespace, w.name, w.kind))
    alloc = AddressAllocator(_POD_NET, {w.ip for w in out if w.ip})
    for w in out:
        if not w.ip:
            w.ip = alloc.allocate(f"{w.namespace}/{w.kind}/{w.name}")
            w.annotations.setdefault("meshctl.io/synthetic-ip", "true")
    return out
