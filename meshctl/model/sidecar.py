"""SidecarScope: what one proxy sees (services, VirtualServices, egress/ingress listeners, outbound policy).

Selection (``pilot/pkg/model/sidecar.go``): a Sidecar in the proxy namespace whose workloadSelector matches,
else the namespace-wide Sidecar, else the root-namespace Sidecar, else the default scope (one egress
listener importing ``*/*``). Egress hosts are ``namespace/dnsName`` with ``.`` (the Sidecar's namespace),
``*`` (any) and ``~`` (none). A hostname found in several namespaces resolves to one service: the proxy's
namespace first, then a Kubernetes Service over a ServiceEntry. Destinations of imported VirtualServices are
added implicitly. Gateways use the default scope of their namespace.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from functools import cached_property
from typing import Any

from meshctl.model.api import (
    ConnectionPoolSettings,
    IstioEgressListener,
    IstioIngressListener,
    OutboundTrafficPolicy,
    Sidecar,
    VirtualService,
)
from meshctl.model.config import Config
from meshctl.model.hosts import export_visible, host_matches, labels_match
from meshctl.model.types import Service

HostsByNs = list[tuple[str, str]]


def parse_egress_hosts(hosts: list[str], sidecar_ns: str) -> HostsByNs:
    out = []
    for h in hosts:
        ns, sep, name = h.partition("/")
        if not sep:
            ns, name = "*", h
        if ns == ".":
            ns = sidecar_ns
        out.append((ns, name))
    return out


def _host_selected(hosts: HostsByNs, ns: str, hostname: str) -> bool:
    for hns, h in hosts:
        if hns == "~":
            continue
        if (hns == "*" or hns == ns) and (h == "*" or host_matches(h, hostname)):
            return True
    return False


@dataclass(eq=False)
class EgressListener:
    """One Sidecar egress listener (or the default catch-all) with what it imports."""

    spec: IstioEgressListener | None
    hosts: HostsByNs
    services: list[Service] = field(default_factory=list)
    virtual_services: list[Config[VirtualService]] = field(default_factory=list)

    @property
    def port(self) -> int | None:
        return self.spec.port.number if self.spec and self.spec.port else None

    @property
    def is_catch_all(self) -> bool:
        return self.port is None


@dataclass(eq=False)
class SidecarScope:
    namespace: str
    config: Config[Sidecar] | None
    egress: list[EgressListener]
    outbound_traffic_policy: OutboundTrafficPolicy
    ingress: list[IstioIngressListener] = field(default_factory=list)
    inbound_connection_pool: ConnectionPoolSettings | None = None

    @cached_property
    def services(self) -> list[Service]:
        """Every service any egress listener imports (deduplicated, in order). Computed once."""
        seen: dict[tuple[str, str], Service] = {}
        for e in self.egress:
            for s in e.services:
                seen.setdefault((s.hostname, s.namespace), s)
        return list(seen.values())

    @cached_property
    def virtual_services(self) -> list[Config[VirtualService]]:
        seen: dict[int, Config[VirtualService]] = {}
        for e in self.egress:
            for v in e.virtual_services:
                seen.setdefault(id(v), v)
        return sorted(seen.values(), key=lambda c: c.resource.sort_key())

    @cached_property
    def _by_host(self) -> dict[str, Service]:
        return {s.hostname: s for s in self.services}

    def service(self, hostname: str) -> Service | None:
        return self._by_host.get(hostname)

    @property
    def registry_only(self) -> bool:
        return self.outbound_traffic_policy.mode == "REGISTRY_ONLY"


def select_sidecar(
    sidecars: list[Config[Sidecar]], proxy_ns: str, labels: dict[str, str], root_ns: str
) -> Config[Sidecar] | None:
    ns_wide = None
    for c in sidecars:
        if c.namespace != proxy_ns:
            continue
        sel = c.spec.workload_selector.labels if c.spec.workload_selector else None
        if sel:
            if labels_match(sel, labels):
                return c
        elif ns_wide is None:
            ns_wide = c
    if ns_wide is not None:
        return ns_wide
    return next(
        (
            c
            for c in sidecars
            if c.namespace == root_ns and not (c.spec.workload_selector and c.spec.workload_selector.labels)
        ),
        None,
    )


def _dedupe(services: list[Service], proxy_ns: str) -> list[Service]:
    """One service per hostname: the proxy namespace's, then Kubernetes over ServiceEntry, then first. Services of
    the same hostname, namespace and registry (several ServiceEntries for one host) have their ports merged, as
    Istio's ``appendSidecarServices`` does."""
    best: dict[str, Service] = {}
    for s in services:
        cur = best.get(s.hostname)
        if cur is None:
            best[s.hostname] = s
            continue
        if cur.namespace == s.namespace and cur.registry == s.registry:
            known = {p.port for p in cur.ports}
            extra = [p for p in s.ports if p.port not in known]
            if extra:
                best[s.hostname] = replace(cur, ports=list(cur.ports) + extra)
            continue
        rank = lambda x: (x.namespace != proxy_ns, x.registry != "Kubernetes")  # noqa: E731
        if rank(s) < rank(cur):
            best[s.hostname] = s
    return sorted(best.values(), key=lambda s: (s.hostname, s.namespace))


def build_sidecar_scope(
    proxy_ns: str,
    labels: dict[str, str],
    *,
    sidecars: list[Config[Sidecar]],
    services: list[Service],
    virtual_services: list[Config[VirtualService]],
    root_namespace: str,
    mesh_outbound_mode: str,
    use_sidecar: bool = True,
) -> SidecarScope:
    cfg = select_sidecar(sidecars, proxy_ns, labels, root_namespace) if use_sidecar else None
    visible = [s for s in services if export_visible(s.export_to, s.namespace, proxy_ns)]
    mesh_vs = [v for v in virtual_services if v.visible_to(proxy_ns) and "mesh" in v.spec.gateways]
    by_host: dict[str, list[Service]] = {}
    for s in visible:
        by_host.setdefault(s.hostname, []).append(s)

    listeners: list[EgressListener] = []
    specs: list[Any] = list(cfg.spec.egress) if cfg is not None and cfg.spec.egress else [None]
    for spec in specs:
        hosts = parse_egress_hosts(spec.hosts, proxy_ns) if spec is not None else [("*", "*")]
        el = EgressListener(spec=spec, hosts=hosts)
        el.virtual_services = [
            v for v in mesh_vs if any(_host_selected(hosts, v.namespace, h) for h in v.spec.hosts)
        ]
        chosen = [s for s in visible if _host_selected(hosts, s.namespace, s.hostname)]
        names = {s.hostname for s in chosen}
        for v in el.virtual_services:  # implicit imports of VS destinations
            for r in list(v.spec.http) + list(v.spec.tcp) + list(v.spec.tls):
                for d in r.route:
                    if d.destination.host not in names and d.destination.host in by_host:
                        chosen.extend(by_host[d.destination.host])
                        names.add(d.destination.host)
        el.services = _dedupe(chosen, proxy_ns)
        listeners.append(el)
    otp = (
        cfg.spec.outbound_traffic_policy
        if cfg is not None and cfg.spec.outbound_traffic_policy
        else OutboundTrafficPolicy.model_validate({"mode": mesh_outbound_mode})
    )
    return SidecarScope(
        namespace=proxy_ns,
        config=cfg,
        egress=listeners,
        outbound_traffic_policy=otp,
        ingress=list(cfg.spec.ingress) if cfg is not None else [],
        inbound_connection_pool=cfg.spec.inbound_connection_pool if cfg is not None else None,
    )
