"""Services as Pilot's registries build them: Kubernetes Services and ServiceEntry hosts -> :class:`Service`.

Kubernetes Services without a ``clusterIP`` in the file get a synthetic, stable VIP in 10.96.0.0/12
(a hash of ``namespace/name``, probed past collisions), so outbound listeners look like a real cluster's.
Source: ``pilot/pkg/serviceregistry/kube/conversion.go``, ``serviceentry/conversion.go``.
"""

from __future__ import annotations

import hashlib
import ipaddress
from typing import Any

from meshctl.model.api import ServiceEntry
from meshctl.model.hosts import fqdn
from meshctl.model.protocol import kube_port_protocol, parse_protocol
from meshctl.model.types import Protocol, Resolution, Service, ServicePort
from meshctl.sources.resource import Resource

EXPORT_TO_ANNOTATION = "networking.istio.io/exportTo"
_VIP_NET = ipaddress.IPv4Network("10.96.0.0/12")

SE_RESOLUTION = {
    "NONE": Resolution.PASSTHROUGH,
    "STATIC": Resolution.CLIENT_SIDE_LB,
    "DNS": Resolution.DNS_LB,
    "DNS_ROUND_ROBIN": Resolution.DNS_ROUND_ROBIN_LB,
    "DYNAMIC_DNS": Resolution.DYNAMIC_DNS,
}


class AddressAllocator:
    """Stable synthetic addresses from a hash of a key, unique within one mesh build."""

    def __init__(self, network: ipaddress.IPv4Network, used: set[str] | None = None) -> None:
        self.network = network
        self.used: set[str] = set(used or ())

    def allocate(self, key: str) -> str:
        size = self.network.num_addresses - 2
        n = int.from_bytes(hashlib.sha1(key.encode()).digest()[:8], "big") % size
        for i in range(size):
            addr = str(self.network.network_address + 1 + (n + i) % size)
            if addr not in self.used:
                self.used.add(addr)
                return addr
        raise RuntimeError(f"address pool {self.network} exhausted")


def _export_to(annotations: dict[str, Any], default: tuple[str, ...] = ("*",)) -> frozenset[str]:
    v = annotations.get(EXPORT_TO_ANNOTATION)
    if not v:
        return frozenset(default)
    return frozenset(x.strip() for x in str(v).split(",") if x.strip())


def kube_service(r: Resource, default_export_to: tuple[str, ...] = ("*",)) -> Service:
    """One Kubernetes Service (addresses filled later by :func:`assign_vips`)."""
    spec = r.spec
    ns = r.namespace or "default"
    ports: list[ServicePort] = []
    for p in spec.get("ports") or []:
        if not isinstance(p, dict) or "port" not in p:
            continue
        number = int(p["port"])
        proto = kube_port_protocol(number, p.get("name"), p.get("protocol"), p.get("appProtocol"))
        if proto is Protocol.UDP:
            continue
        tp = p.get("targetPort")
        if tp is None:
            tp = number
        elif isinstance(tp, str) and tp.isdigit():
            tp = int(tp)
        ports.append(
            ServicePort(
                name=str(p.get("name") or ""),
                port=number,
                protocol=proto,
                target_port=tp,
                app_protocol=p.get("appProtocol"),
            )
        )
    svc = Service(
        hostname=fqdn(r.name, ns),
        namespace=ns,
        name=r.name,
        ports=ports,
        export_to=_export_to(r.annotations, default_export_to),
        labels=dict(r.labels),
        selector=dict(spec.get("selector") or {}) or None,
        registry="Kubernetes",
        source=r,
    )
    cip = spec.get("clusterIP")
    cips = [c for c in (spec.get("clusterIPs") or []) if c]
    if spec.get("type") == "ExternalName":
        svc.resolution = Resolution.ALIAS
        svc.external_name = spec.get("externalName")
    elif cip == "None":
        svc.headless = True
        svc.resolution = Resolution.PASSTHROUGH
    elif cips:
        svc.addresses = [str(c) for c in cips]
    elif cip:
        svc.addresses = [str(cip)]
    return svc


def assign_vips(services: list[Service]) -> None:
    """Give every non-headless, non-alias Kubernetes Service without a clusterIP a stable synthetic VIP."""
    used = {a for s in services for a in s.addresses}
    alloc = AddressAllocator(_VIP_NET, used)
    for s in sorted(services, key=lambda s: (s.namespace, s.name)):
        if (
            s.registry == "Kubernetes"
            and not s.addresses
            and not s.headless
            and s.resolution is not Resolution.ALIAS
        ):
            s.addresses = [alloc.allocate(f"{s.namespace}/{s.name}")]
            s.extra["synthetic_vip"] = True


def service_entry_services(
    r: Resource, se: ServiceEntry, default_export_to: tuple[str, ...] = ("*",)
) -> list[Service]:
    """One Service per ServiceEntry host (endpoints are resolved by the endpoint index)."""
    ns = r.namespace or "default"
    ports = [
        ServicePort(
            name=p.name or "",
            port=p.number,
            protocol=parse_protocol(p.protocol),
            target_port=p.target_port or None,
        )
        for p in se.ports
    ]
    ports = [p for p in ports if p.protocol is not Protocol.UDP]
    out = []
    for h in se.hosts:
        out.append(
            Service(
                hostname=h,
                namespace=ns,
                name=r.name,
                ports=[ServicePort(p.name, p.port, p.protocol, p.target_port) for p in ports],
                addresses=list(se.addresses),
                resolution=SE_RESOLUTION[se.resolution],
                mesh_external=(se.location or "MESH_EXTERNAL") == "MESH_EXTERNAL",
                export_to=frozenset(se.export_to or default_export_to),
                labels=dict(r.labels),
                selector=dict(se.workload_selector.labels) if se.workload_selector else None,
                registry="External",
                subject_alt_names=list(se.subject_alt_names),
                source=r,
                extra={"service_entry": se},
            )
        )
    return out
