"""``translate_proxy(mesh, proxy)``: run every builder for one proxy and collect a ProxyConfig.

Adapts the model (:class:`meshctl.model.mesh.Mesh`) to the small views the LDS/RDS builders take, calls the
CDS/EDS builders (``cluster.py``/``endpoint.py``), then the passes over the built listeners: loopback bind
mode on the EDS side (endpoints of sidecar-injected workloads -> their proxy's loopback inbound port),
authorization (RBAC) and access logs. Pure: the same model and proxy always give the same config.
"""

from __future__ import annotations

from typing import Any

from envoy.config.route.v3 import route_components_pb2 as rc

from meshctl.model.types import Protocol, Proxy, ProxyType, Service
from meshctl.translate import ProxyConfig
from meshctl.translate.accesslog import apply_access_log
from meshctl.translate.authz import apply_authz, policies_for
from meshctl.translate.gateway import GatewayView, gateway_listeners
from meshctl.translate.httproute import SidecarView, sidecar_route_config, sniffed_route_config
from meshctl.translate.listener import (
    Egress,
    InboundPort,
    loopback_inbound_port,
    sidecar_listeners,
)
from meshctl.translate.route import VSInfo, hash_policy_from_lb
from meshctl.translate.util import outbound_cluster_name


def _policy_for_port(tp: Any, port: int) -> Any:
    """Istio: a matching port-level setting replaces the whole traffic policy."""
    if tp is None:
        return None
    for pl in tp.port_level_settings or []:
        if pl.port is not None and pl.port.number == port:
            return pl
    return tp


def _uses_consistent_hash(mesh: Any) -> bool:
    """Does any DestinationRule configure consistentHash (top level or per port)? Most meshes don't, and
    then no route needs a DR lookup at all."""
    for c in mesh.destination_rules:
        tp = c.spec.traffic_policy
        if tp is None:
            continue
        lbs = [tp.load_balancer] + [p.load_balancer for p in tp.port_level_settings or []]
        if any(lb is not None and lb.consistent_hash is not None for lb in lbs):
            return True
    return False


def make_hash_policy(mesh: Any, proxy: Proxy, lookup: Any) -> Any:
    """``hash_policy(host, port)``: the route hash policy from the DR that applies to the destination."""
    cache: dict[tuple[str, int], rc.RouteAction.HashPolicy | None] = {}
    if not _uses_consistent_hash(mesh):
        return lambda host, port: None

    def hash_policy(host: str, port: int) -> rc.RouteAction.HashPolicy | None:
        key = (host, port)
        if key in cache:
            return cache[key]
        svc = lookup(host)
        hp = None
        if svc is not None:
            dr = mesh.destination_rule(proxy, svc)
            spec = dr.spec if dr is not None else None
            policy = _policy_for_port(spec.traffic_policy if spec is not None else None, port)
            hp = hash_policy_from_lb(getattr(policy, "load_balancer", None))
        cache[key] = hp
        return hp

    return hash_policy


def make_tcp_settings(mesh: Any, proxy: Proxy, lookup: Any) -> Any:
    """``tcp_settings(host, port)``: DR ``connectionPool.tcp`` for a destination (tcp_proxy idle/max duration)."""
    has_tcp = any(
        c.spec.traffic_policy is not None
        and any(
            p is not None and p.connection_pool is not None and p.connection_pool.tcp is not None
            for p in [c.spec.traffic_policy, *(c.spec.traffic_policy.port_level_settings or [])]
        )
        for c in mesh.destination_rules
    )
    if not has_tcp:
        return lambda host, port: None
    cache: dict[tuple[str, int], Any] = {}

    def tcp_settings(host: str, port: int) -> Any:
        if (host, port) not in cache:
            svc = lookup(host)
            dr = mesh.destination_rule(proxy, svc) if svc is not None else None
            tp = dr.spec.traffic_policy if dr is not None and dr.spec is not None else None
            pol = _policy_for_port(tp, port)
            cp = getattr(pol, "connection_pool", None)
            cache[(host, port)] = cp.tcp if cp is not None else None
        return cache[(host, port)]

    return tcp_settings


def make_instances(mesh: Any) -> Any:
    """``instances(service, port)``: the endpoint IPs of a service port (for headless per-pod listeners)."""

    def instances(svc: Service, port: int) -> list[str]:
        return list(dict.fromkeys(e.address for e in mesh.endpoints(svc, port) if e.address))

    return instances


def egress_cluster(scope: Any) -> str | None:
    """Istio ``GetDestinationCluster(egressProxy, nil, 0)`` for the Sidecar's ``outboundTrafficPolicy.egressProxy``."""
    ep = getattr(scope.outbound_traffic_policy, "egress_proxy", None)
    if ep is None:
        return None
    port = ep.port.number if ep.port is not None and ep.port.number else 0
    return outbound_cluster_name(port, ep.subset, ep.host)


def _vs_infos(configs: list[Any]) -> list[VSInfo]:
    return [VSInfo(c.name, c.namespace, c.spec, c.ref.istio_path) for c in configs]


def inbound_ports(mesh: Any, proxy: Proxy) -> list[InboundPort]:
    """Workload ports the sidecar serves: Sidecar ``ingress`` when set, else the services selecting the workload."""
    w = proxy.workload
    scope = mesh.sidecar_scope(proxy)
    out: dict[int, InboundPort] = {}
    if scope.ingress:
        from meshctl.model.protocol import parse_protocol

        # Istio names these after the Sidecar (a synthetic hostname ``<sidecar>.<ns>``)
        host = f"{scope.config.name}.{scope.config.namespace}" if scope.config is not None else None
        for ing in scope.ingress:
            tp = ing.port.number
            out.setdefault(
                tp, InboundPort(tp, parse_protocol(ing.port.protocol), host, mesh.mtls_mode(w, tp), tp)
            )
        return sorted(out.values(), key=lambda p: p.target_port)
    for st in mesh.service_targets(w):
        if st.port.protocol is Protocol.UDP:
            continue
        out.setdefault(
            st.target_port,
            InboundPort(
                st.target_port,
                st.port.protocol,
                st.service.hostname,
                mesh.mtls_mode(w, st.target_port),
                st.port.port,
            ),
        )
    return sorted(out.values(), key=lambda p: p.target_port)


def _build_cds_eds(mesh: Any, proxy: Proxy) -> tuple[list[Any], list[Any]]:
    try:
        from meshctl.translate.cluster import build_clusters  # type: ignore[attr-defined]
    except ImportError:  # the CDS builder is another stream's; tolerate its absence during development
        return [], []
    clusters = list(build_clusters(mesh, proxy))
    try:
        from meshctl.translate.endpoint import build_endpoints  # type: ignore[attr-defined]
    except ImportError:
        return clusters, []
    return clusters, list(build_endpoints(mesh, proxy, clusters))


def _sidecar(mesh: Any, proxy: Proxy, pc: ProxyConfig) -> None:
    scope = mesh.sidecar_scope(proxy)
    services: list[Service] = scope.services
    by_host = {s.hostname: s for s in services}

    def lookup(host: str) -> Service | None:
        return by_host.get(host) or mesh.service(host)

    view = SidecarView(
        proxy=proxy,
        services=services,
        virtual_services=_vs_infos(scope.virtual_services),
        hash_policy=make_hash_policy(mesh, proxy, lookup),
        tcp_settings=make_tcp_settings(mesh, proxy, lookup),
        registry_only=scope.registry_only,
        instances=make_instances(mesh),
        egress_cluster=egress_cluster(scope),
        mesh_default_retry=mesh.mesh_config.default_http_retry_policy,
    )
    view.extra["mtls_mode"] = mesh.mtls_mode(proxy.workload)
    egress = []
    for e in scope.egress:
        ev = SidecarView(
            proxy=proxy,
            services=e.services,
            virtual_services=_vs_infos(sorted(e.virtual_services, key=lambda c: c.resource.sort_key())),
            hash_policy=view.hash_policy,
            tcp_settings=view.tcp_settings,
            registry_only=scope.registry_only,
            instances=view.instances,
            egress_cluster=view.egress_cluster,
            mesh_default_retry=view.mesh_default_retry,
        )
        spec = e.spec
        capture_none = bool(spec is not None and str(spec.capture_mode or "") == "NONE")
        egress.append(Egress(ev, e.port, spec.bind if spec is not None else None, capture_none))
    listeners, rds = sidecar_listeners(
        view, inbound_ports(mesh, proxy), mesh.mesh_config.trust_domain, egress
    )
    pc.listeners.extend(listeners)
    for name, ev in rds:
        if name.isdigit():
            pc.routes.append(sidecar_route_config(ev, int(name)))
        else:
            host, _, port = name.rpartition(":")
            svc = ev._by_host().get(host)
            if svc is not None:
                pc.routes.append(sniffed_route_config(ev, svc, int(port)))


def _gateway(mesh: Any, proxy: Proxy, pc: ProxyConfig) -> None:
    scope = mesh.sidecar_scope(proxy)
    services = scope.services
    by_host = {s.hostname: s for s in services}

    def lookup(host: str) -> Service | None:
        return by_host.get(host) or mesh.service(host)

    def subsets_of(s: Service) -> list[str]:
        dr = mesh.destination_rule(proxy, s)
        return [ss.name for ss in dr.subsets] if dr is not None else []

    vss = mesh.gateway_virtual_services(proxy)
    view = GatewayView(
        proxy=proxy,
        merged=mesh.merged_gateway(proxy),
        virtual_services=list(zip(_vs_infos(vss), vss, strict=True)),
        services=services,
        hash_policy=make_hash_policy(mesh, proxy, lookup),
        tcp_settings=make_tcp_settings(mesh, proxy, lookup),
        mesh_default_retry=mesh.mesh_config.default_http_retry_policy,
        subsets_of=subsets_of,
    )
    listeners, routes = gateway_listeners(view)
    pc.listeners.extend(listeners)
    pc.routes.extend(routes)


def _apply_loopback(mesh: Any, proxy: Proxy, pc: ProxyConfig) -> None:
    """Loopback bind mode on the EDS side (see inbound.py): endpoints of sidecar-injected workloads are
    reached at their proxy's loopback inbound port. (Inbound clusters already point at the app: cluster.py.)"""
    # endpoints that are sidecar-injected workloads: their proxy receives inbound at its loopback inbound port
    inbound_index: dict[str, dict[int, int]] = {}
    for other in mesh.proxies():
        if other.type is not ProxyType.SIDECAR or not other.workload.ip:
            continue
        idx = {p.target_port: loopback_inbound_port(i) for i, p in enumerate(inbound_ports(mesh, other))}
        inbound_index[other.workload.ip] = idx
    for cla in pc.endpoints:
        for lle in cla.endpoints:
            for lb in lle.lb_endpoints:
                sa = lb.endpoint.address.socket_address
                remap = inbound_index.get(sa.address)
                if remap and sa.port_value in remap:
                    sa.port_value = remap[sa.port_value]


def translate_proxy(mesh: Any, proxy: Proxy) -> ProxyConfig:
    w = proxy.workload
    pc = ProxyConfig(node_id=proxy.node_id, node_cluster=f"{w.app}.{w.namespace}", proxy=proxy)
    pc.clusters, pc.endpoints = _build_cds_eds(mesh, proxy)
    if proxy.type is ProxyType.ROUTER:
        _gateway(mesh, proxy, pc)
    else:
        _sidecar(mesh, proxy, pc)
    if proxy.loopback:  # gateways and sidecars both reach sidecar-injected workloads via their inbound port
        _apply_loopback(mesh, proxy, pc)
    apply_authz(pc.listeners, policies_for(mesh, w), gateway=proxy.type is ProxyType.ROUTER)
    apply_access_log(pc.listeners, mesh.mesh_config)
    return pc
