"""The endpoint index: which (address, port) instances back each service port.

Order of sources for a Kubernetes Service: EndpointSlices in the input, else an Endpoints object, else the
workloads (Pods, synthetic controller instances, WorkloadEntries) its selector matches. ServiceEntries use
their inline endpoints plus workloads their ``workloadSelector`` matches.
Source: ``pilot/pkg/serviceregistry/kube/controller/endpointslice.go``, ``serviceentry/conversion.go``.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from meshctl.model.hosts import labels_match
from meshctl.model.types import Endpoint, Resolution, Service, ServicePort, Workload
from meshctl.model.workloads import locality_of
from meshctl.sources.resource import Resource

ServiceKey = tuple[str, str]  # (hostname, namespace)


def _target_port(sp: ServicePort, w: Workload) -> int | None:
    if w.kind == "WorkloadEntry" and sp.name and sp.name in w.ports:
        return w.ports[sp.name]
    tp = sp.target_port
    if tp is None:
        return sp.port
    if isinstance(tp, int):
        return tp
    return w.ports.get(tp)


def _endpoint(
    svc: Service,
    sp: ServicePort,
    w: Workload | None,
    address: str,
    port: int,
    *,
    labels: dict[str, str],
    healthy: bool = True,
    tls_mode: str | None = None,
    locality: str | None = None,
    weight: int | None = None,
    sa: str | None = None,
    network: str | None = None,
) -> Endpoint:
    return Endpoint(
        address=address,
        port=port,
        service_port_name=sp.name,
        service_port=sp.port,
        hostname=svc.hostname,
        labels=labels,
        workload=w,
        locality=locality if locality is not None else (w.locality if w else ""),
        weight=weight if weight is not None else (w.weight if w else 1),
        tls_mode=tls_mode or (w.tls_mode if w else "disabled"),
        service_account=sa if sa is not None else (w.service_account if w else ""),
        healthy=healthy,
        network=network if network is not None else (w.network if w else ""),
    )


class EndpointIndex:
    """Endpoints per service (hostname, namespace), each tagged with its service port."""

    def __init__(self) -> None:
        self.by_service: dict[ServiceKey, list[Endpoint]] = defaultdict(list)

    def get(
        self,
        svc: Service,
        port: ServicePort | None = None,
        subset_labels: dict[str, str] | None = None,
        *,
        healthy_only: bool = False,
    ) -> list[Endpoint]:
        eps = self.by_service.get((svc.hostname, svc.namespace), [])
        return [
            e
            for e in eps
            if (port is None or e.service_port == port.port)
            and (not subset_labels or labels_match(subset_labels, e.labels))
            and (e.healthy or not healthy_only)
        ]


def build_endpoint_index(
    services: list[Service], workloads: list[Workload], resources: list[Resource]
) -> EndpointIndex:
    idx = EndpointIndex()
    slices: dict[tuple[str, str], list[Resource]] = defaultdict(list)
    eps_objs: dict[tuple[str, str], Resource] = {}
    for r in resources:
        if r.kind == "EndpointSlice" and r.group == "discovery.k8s.io":
            svc_name = r.labels.get("kubernetes.io/service-name")
            if svc_name:
                slices[(r.namespace or "default", svc_name)].append(r)
        elif r.kind == "Endpoints" and r.group == "":
            eps_objs[(r.namespace or "default", r.name)] = r
    by_ns: dict[str, list[Workload]] = defaultdict(list)
    by_label: dict[tuple[str, str, str], list[Workload]] = defaultdict(list)  # (ns, key, value) -> workloads
    by_ip: dict[str, Workload] = {}
    by_pod: dict[tuple[str, str], Workload] = {}
    for w in workloads:
        by_ns[w.namespace].append(w)
        for k, v in w.labels.items():
            by_label[(w.namespace, k, v)].append(w)
        if w.ip:
            by_ip.setdefault(w.ip, w)
        by_pod[(w.namespace, w.name)] = w

    for svc in services:
        out = idx.by_service[(svc.hostname, svc.namespace)]
        if svc.resolution is Resolution.ALIAS:
            continue
        if svc.registry == "Kubernetes":
            key = (svc.namespace, svc.name)
            if key in slices:
                _from_slices(svc, slices[key], by_pod, by_ip, out)
            elif key in eps_objs:
                _from_endpoints(svc, eps_objs[key], by_pod, by_ip, out)
            elif svc.selector:
                for w in _selected(by_label, svc.namespace, svc.selector):
                    for sp in svc.ports:
                        p = _target_port(sp, w)
                        if p is not None and w.ip:
                            out.append(_endpoint(svc, sp, w, w.ip, p, labels=w.labels, healthy=w.ready))
        else:
            se = svc.extra.get("service_entry")
            for we in se.endpoints if se is not None else []:
                labels = dict(we.labels)
                for sp in svc.ports:
                    if we.ports and sp.name in we.ports:
                        p = we.ports[sp.name]
                    else:
                        p = sp.target_port if isinstance(sp.target_port, int) else sp.port
                    out.append(
                        _endpoint(
                            svc,
                            sp,
                            None,
                            we.address or svc.hostname,
                            p,
                            labels=labels,
                            tls_mode=labels.get("security.istio.io/tlsMode", "disabled"),
                            locality=(we.locality or "") or locality_of(labels),
                            weight=we.weight or 1,
                            sa=we.service_account or "",
                            network=we.network or "",
                        )
                    )
            if (
                se is not None
                and not se.endpoints
                and not svc.selector
                and svc.resolution in (Resolution.DNS_LB, Resolution.DNS_ROUND_ROBIN_LB)
                and not svc.hostname.startswith("*")
            ):
                # DNS ServiceEntry without endpoints: the proxy resolves the host itself
                for sp in svc.ports:
                    p = sp.target_port if isinstance(sp.target_port, int) else sp.port
                    out.append(
                        _endpoint(
                            svc,
                            sp,
                            None,
                            svc.hostname,
                            p,
                            labels={},
                            tls_mode="disabled",
                            locality="",
                            weight=1,
                            sa="",
                            network="",
                        )
                    )
            if svc.selector:
                for w in _selected(by_label, svc.namespace, svc.selector):
                    if not w.ip:
                        continue
                    for sp in svc.ports:
                        if w.kind == "WorkloadEntry" and sp.name in w.ports:
                            p = w.ports[sp.name]
                        else:
                            p = sp.target_port if isinstance(sp.target_port, int) else sp.port
                        out.append(_endpoint(svc, sp, w, w.ip, p, labels=w.labels, healthy=w.ready))
    for svc in services:  # publishNotReadyAddresses: Kubernetes (and Istio) treat every endpoint as ready
        if (
            svc.source is not None
            and svc.registry == "Kubernetes"
            and svc.source.spec.get("publishNotReadyAddresses") is True
        ):
            for e in idx.by_service[(svc.hostname, svc.namespace)]:
                e.healthy = True
    return idx


def _selected(
    by_label: dict[tuple[str, str, str], list[Workload]], ns: str, selector: dict[str, str]
) -> list[Workload]:
    """Workloads in ``ns`` whose labels include ``selector`` (indexed on the selector's first label)."""
    k, v = next(iter(selector.items()))
    return [w for w in by_label.get((ns, k, v), ()) if labels_match(selector, w.labels)]


def _find_workload(
    addr: str, target_ref: Any, ns: str, by_pod: dict[tuple[str, str], Workload], by_ip: dict[str, Workload]
) -> Workload | None:
    if isinstance(target_ref, dict) and target_ref.get("name"):
        w = by_pod.get((str(target_ref.get("namespace") or ns), str(target_ref["name"])))
        if w:
            return w
    return by_ip.get(addr)


def _from_slices(
    svc: Service,
    slices: list[Resource],
    by_pod: dict[tuple[str, str], Workload],
    by_ip: dict[str, Workload],
    out: list[Endpoint],
) -> None:
    for r in slices:
        ports = {
            str(p.get("name") or ""): int(p["port"])
            for p in r.obj.get("ports") or []
            if isinstance(p, dict) and "port" in p
        }
        for e in r.obj.get("endpoints") or []:
            if not isinstance(e, dict):
                continue
            ready = (e.get("conditions") or {}).get("ready", True) is not False
            for addr in e.get("addresses") or []:
                w = _find_workload(str(addr), e.get("targetRef"), svc.namespace, by_pod, by_ip)
                labels = w.labels if w else {}
                for sp in svc.ports:
                    if sp.name in ports:
                        out.append(
                            _endpoint(
                                svc,
                                sp,
                                w,
                                str(addr),
                                ports[sp.name],
                                labels=labels,
                                healthy=ready,
                                locality=w.locality if w else _slice_locality(e),
                            )
                        )


def _slice_locality(e: dict[str, Any]) -> str:
    zone = e.get("zone")
    return f"/{zone}" if zone else ""


def _from_endpoints(
    svc: Service,
    r: Resource,
    by_pod: dict[tuple[str, str], Workload],
    by_ip: dict[str, Workload],
    out: list[Endpoint],
) -> None:
    for sub in r.obj.get("subsets") or []:
        if not isinstance(sub, dict):
            continue
        ports = {
            str(p.get("name") or ""): int(p["port"])
            for p in sub.get("ports") or []
            if isinstance(p, dict) and "port" in p
        }
        for key, ready in (("addresses", True), ("notReadyAddresses", False)):
            for a in sub.get(key) or []:
                if not isinstance(a, dict) or not a.get("ip"):
                    continue
                w = _find_workload(str(a["ip"]), a.get("targetRef"), svc.namespace, by_pod, by_ip)
                for sp in svc.ports:
                    if sp.name in ports:
                        out.append(
                            _endpoint(
                                svc,
                                sp,
                                w,
                                str(a["ip"]),
                                ports[sp.name],
                                labels=w.labels if w else {},
                                healthy=ready,
                            )
                        )
