"""Gateway (router) LDS + RDS (Istio ``pilot/pkg/networking/core/gateway.go``). Spec: istio-translation.md §1.3, §1.4, §6.

Listeners ``<bind|0.0.0.0>_<targetPort>`` (bound), one per (bind, target port) of the merged Gateway servers:
plaintext HTTP servers share one HCM with RDS ``http.<targetPort>``; TLS-terminating HTTPS servers get one
chain each (``server_names`` = server hosts) with RDS ``https.<port>.<portName>.<gw>.<ns>``; PASSTHROUGH servers
route VS ``tls[]`` SNI rules to tcp_proxy chains; AUTO_PASSTHROUGH routes ``outbound_.port_.subset_.host`` SNIs
to the SNI-DNAT clusters of the same name; TCP servers use the first fitting VS ``tcp[]`` rule.

Vhosts: one per host in the intersection of server hosts and VS hosts, ``<host>:<serverPort>``; routes of all
VSs for a host are concatenated in creation order with catch-all routes moved last; vhosts with identical
routes are collapsed (``PILOT_ENABLE_ROUTE_COLLAPSE_OPTIMIZATION``); ``httpsRedirect`` -> ``require_tls: ALL``;
no vhost -> ``blackhole:<port>``. In loopback mode listeners bind the proxy's own IP (names unchanged).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from envoy.config.core.v3 import base_pb2
from envoy.config.listener.v3 import listener_components_pb2 as lc
from envoy.config.listener.v3 import listener_pb2
from envoy.config.route.v3 import route_components_pb2 as rc
from envoy.config.route.v3 import route_pb2

from meshctl.model.hosts import host_matches, is_wildcard
from meshctl.model.types import Protocol, Proxy, Resolution, Service
from meshctl.translate.downstream_tls import gateway_server_context, transport_socket
from meshctl.translate.filters import (
    TLS_INSPECTOR,
    hcm,
    hcm_filter,
    listener_filter,
    socket_address,
    tcp_proxy_filter,
)
from meshctl.translate.httproute import new_route_configuration
from meshctl.translate.listener import CHAIN_CONNECT_TIMEOUT, _routes_filter
from meshctl.translate.route import RouteContext, VSInfo, _gateway_name, translate_virtual_service
from meshctl.translate.route_match import is_catch_all_match
from meshctl.translate.util import outbound_cluster_name, sni_name


@dataclass
class GatewayView:
    """What the gateway builders need: the proxy, merged servers, bound VSs, visible services, hash policies."""

    proxy: Proxy
    merged: Any  # meshctl.model.gateway.MergedGateway
    virtual_services: list[tuple[VSInfo, Any]]  # (VS, Config) bound to any gateway of the proxy
    services: list[Service]
    hash_policy: Callable[[str, int], rc.RouteAction.HashPolicy | None] = lambda h, p: None
    tcp_settings: Callable[[str, int], Any] = lambda h, p: None
    mesh_default_retry: Any = None
    subsets_of: Callable[[Service], list[str]] = lambda s: []
    extra: dict[str, Any] = field(default_factory=dict)

    def alias_of(self, host: str) -> str | None:
        """ExternalName services route to their target (Istio GetDestinationCluster)."""
        aliases = self.extra.get("_aliases")
        if aliases is None:
            aliases = {
                s.hostname: s.external_name
                for s in self.services
                if s.resolution is Resolution.ALIAS and s.external_name
            }
            self.extra["_aliases"] = aliases
        return aliases.get(host)

    def service_ports(self, host: str) -> list[int] | None:
        for s in self.services:
            if s.hostname == host:
                return [p.port for p in s.ports]
        return None


def _server_hosts(gs: Any) -> list[tuple[str, str]]:
    return [(ns, h.lower()) for ns, h in gs.hosts]


def _intersect(server_host: str, vs_host: str) -> str | None:
    """The more specific of two matching hosts (``*`` vs ``a.com`` -> ``a.com``), None if disjoint."""
    if not host_matches(server_host, vs_host):
        return None
    if is_wildcard(server_host) and not is_wildcard(vs_host):
        return vs_host
    if is_wildcard(vs_host) and not is_wildcard(server_host):
        return server_host
    return vs_host if len(vs_host) >= len(server_host) else server_host


def _vs_bound_to(vs: VSInfo, gs: Any) -> bool:
    key = gs.gateway.key
    return any(_gateway_name(g, vs.namespace) == key for g in vs.spec.gateways)


def _vs_hosts_for_server(vs: VSInfo, gs: Any) -> list[str]:
    """Hosts of the intersection of a server's hosts (with ``ns/`` restriction) and a bound VS's hosts."""
    out: list[str] = []
    for ns, sh in _server_hosts(gs):
        if ns not in ("*", vs.namespace):
            continue
        for vh in vs.spec.hosts:
            h = _intersect(sh, vh.lower())
            if h is not None and h not in out:
                out.append(h)
    return out


def _route_ctx(view: GatewayView, gs: Any) -> RouteContext:
    """Routes are built per server: its port, its own gateway name (match ``gateways``), its TLS-ness."""
    return RouteContext(
        listener_port=gs.port,
        service_ports=view.service_ports,
        hash_policy=view.hash_policy,
        proxy_labels=view.proxy.labels,
        proxy_namespace=view.proxy.namespace,
        gateways=frozenset({gs.gateway.key}),
        mesh_default_retry=view.mesh_default_retry,
        is_gateway=True,
        is_tls=gs.server.tls is not None,
        alias_of=view.alias_of,
    )


def _sort_catch_all_last(routes: list[rc.Route]) -> list[rc.Route]:
    """Istio ``SortVHostRoutes``: stable, catch-all routes after all others."""
    return [r for r in routes if not is_catch_all_match(r.match)] + [
        r for r in routes if is_catch_all_match(r.match)
    ]


def gateway_route_config(view: GatewayView, name: str, servers: list[Any]) -> route_pb2.RouteConfiguration:
    """Route configuration ``http.<port>`` / ``https.<port>.<portName>.<gw>.<ns>`` for the servers sharing it."""
    rcfg = new_route_configuration(name)
    per_host: dict[tuple[str, int], list[rc.Route]] = {}
    redirect_hosts: set[tuple[str, int]] = set()
    host_order: list[tuple[str, int]] = []
    for gs in servers:
        port = gs.port
        https_redirect = bool(gs.server.tls is not None and gs.server.tls.https_redirect)
        ctx = _route_ctx(view, gs)
        server_keys: list[tuple[str, int]] = []
        for vs, _cfg in view.virtual_services:
            if not _vs_bound_to(vs, gs):
                continue
            hosts = _vs_hosts_for_server(vs, gs)
            if not hosts:
                continue
            routes = translate_virtual_service(vs, ctx)
            if not routes:
                continue  # e.g. a VS with only tls/tcp rules
            for h in hosts:
                key = (h, port)
                if key not in per_host:
                    per_host[key] = []
                    host_order.append(key)
                per_host[key].extend(routes)
                server_keys.append(key)
        if https_redirect:
            redirect_hosts.update(server_keys)
            # every server host gets require_tls; hosts no VS routes get a route-less vhost (Istio)
            for _ns, sh in _server_hosts(gs):
                key = (sh, port)
                if key not in per_host:
                    per_host[key] = []
                    host_order.append(key)
                redirect_hosts.add(key)

    # collapse vhosts with identical routes (primary name = alphabetically first host)
    groups: dict[bytes, list[tuple[str, int]]] = {}
    for key in host_order:
        routes = _sort_catch_all_last(per_host[key])
        per_host[key] = routes
        sig = (
            b"|".join(r.SerializeToString(deterministic=True) for r in routes)
            + (b"#tls" if key in redirect_hosts else b"")
            + str(key[1]).encode()
        )
        groups.setdefault(sig, []).append(key)
    vhosts: list[rc.VirtualHost] = []
    seen_domains: set[str] = set()
    for keys in groups.values():
        keys = sorted(keys)
        domains = [h for h, _ in keys if h not in seen_domains]
        if not domains:
            continue
        seen_domains.update(domains)
        primary = keys[0]
        vh = rc.VirtualHost(
            name=f"{primary[0]}:{primary[1]}", domains=domains, include_request_attempt_count=True
        )
        if primary in redirect_hosts:
            vh.require_tls = rc.VirtualHost.ALL
        vh.routes.extend(per_host[primary])
        vhosts.append(vh)
    vhosts.sort(key=lambda v: v.name)
    if not vhosts:
        port = servers[0].port if servers else 0
        vhosts.append(rc.VirtualHost(name=f"blackhole:{port}", domains=["*"]))
    rcfg.virtual_hosts.extend(vhosts)
    return rcfg


def _l4_match_fits(m: Any, vs: VSInfo, gs: Any) -> bool:
    """Istio ``l4SingleMatch``: the match's port and gateways fit this server."""
    if m.port and m.port != gs.port:
        return False
    return not m.gateways or gs.gateway.key in {_gateway_name(g, vs.namespace) for g in m.gateways}


def _tls_passthrough_chains(view: GatewayView, gs: Any, seen: set[str]) -> list[lc.FilterChain]:
    """PASSTHROUGH: one chain per fitting VS ``tls[].match`` (its sniHosts as ``server_names``); a match whose
    SNI hosts were already used on this port is skipped, as Istio does (``CheckDuplicates``)."""
    chains: list[lc.FilterChain] = []
    for vs, _cfg in view.virtual_services:
        if not _vs_bound_to(vs, gs) or not _vs_hosts_for_server(vs, gs):
            continue
        for rule in vs.spec.tls:
            if not rule.route:
                continue
            for m in rule.match:
                if not _l4_match_fits(m, vs, gs):
                    continue
                snis = [h for h in m.sni_hosts]
                if any(h in seen for h in snis):
                    continue
                seen.update(snis)
                ch = lc.FilterChain(filters=[_routes_filter(list(rule.route), vs, gs.port, view)])
                if "*" not in snis:
                    ch.filter_chain_match.server_names.extend(sorted(snis))
                chains.append(ch)
    return chains


def _auto_passthrough_chains(view: GatewayView, gs: Any) -> list[lc.FilterChain]:
    """AUTO_PASSTHROUGH: per in-mesh service port (and DR subset) covered by the server hosts, a chain matching
    SNI ``outbound_.<port>_.<subset>_.<host>`` and Istio's mTLS ALPNs, to the SNI-DNAT cluster of that name."""
    from meshctl.model.hosts import host_subset_of
    from meshctl.translate.inbound import ALL_ISTIO_MTLS_ALPNS

    hosts = [h for _ns, h in _server_hosts(gs)]
    chains: list[lc.FilterChain] = []
    for s in view.services:
        if s.mesh_external or not any(host_subset_of(s.hostname, h) for h in hosts):
            continue
        for sp in s.ports:
            if sp.protocol.value == "UDP":
                continue
            for subset in [None, *view.subsets_of(s)]:
                sni = sni_name(sp.port, subset, s.hostname)
                ch = lc.FilterChain(filters=[tcp_proxy_filter(sni)])
                ch.filter_chain_match.server_names.append(sni)
                ch.filter_chain_match.application_protocols.extend(ALL_ISTIO_MTLS_ALPNS)
                chains.append(ch)
    return chains


def _tcp_server_chain(view: GatewayView, gs: Any) -> lc.FilterChain | None:
    """TCP servers (and TLS-terminated TCP): the first VS ``tcp[]`` rule whose L4 match fits the server."""
    for vs, _cfg in view.virtual_services:
        if not _vs_bound_to(vs, gs) or not _vs_hosts_for_server(vs, gs):
            continue
        for rule in vs.spec.tcp:
            if not rule.route or (rule.match and not any(_l4_match_fits(m, vs, gs) for m in rule.match)):
                continue
            return lc.FilterChain(filters=[_routes_filter(list(rule.route), vs, gs.port, view)])
    return None


def _sni_hosts(gs: Any) -> list[str]:
    return [h for _ns, h in _server_hosts(gs) if h != "*"]


def gateway_listeners(
    view: GatewayView,
) -> tuple[list[listener_pb2.Listener], list[route_pb2.RouteConfiguration]]:
    """Gateway listeners and their route configurations."""
    listeners: list[listener_pb2.Listener] = []
    routes: dict[str, route_pb2.RouteConfiguration] = {}
    for (bind, target_port), servers in view.merged.listeners().items():
        addr = bind or "0.0.0.0"
        name = f"{addr}_{target_port}"
        ip = view.proxy.ip if view.proxy.loopback and not bind else addr
        lis = listener_pb2.Listener(name=name, address=socket_address(ip, target_port))
        lis.traffic_direction = base_pb2.OUTBOUND
        stat = f"outbound_{name}"
        need_tls_inspector = False
        tls_hosts_seen: set[str] = set()
        http_servers = [s for s in servers if s.kind == "http"]
        if http_servers:
            rname = http_servers[0].route_name
            if rname not in routes:
                routes[rname] = gateway_route_config(view, rname, http_servers)
            grpc_web = http_servers[0].protocol is Protocol.GRPC_WEB
            lis.filter_chains.add().filters.append(
                hcm_filter(hcm(stat, rds=rname, gateway=True, grpc_web=grpc_web))
            )
        for gs in servers:
            if gs.kind == "https":
                rname = gs.route_name
                if rname not in routes:
                    routes[rname] = gateway_route_config(view, rname, [gs])
                ctx = gateway_server_context(gs.server.tls, http=True)
                chain_stat = gs.server.name or stat
                ch = lis.filter_chains.add()
                grpc_web = gs.protocol is Protocol.GRPC_WEB
                ch.filters.append(hcm_filter(hcm(chain_stat, rds=rname, gateway=True, grpc_web=grpc_web)))
                snis = _sni_hosts(gs)
                ch.filter_chain_match.server_names.extend(snis)
                need_tls_inspector |= bool(snis)
                if ctx is not None:
                    ch.transport_socket.CopyFrom(transport_socket(ctx))
            elif gs.kind == "tls":
                if gs.tls_mode == "AUTO_PASSTHROUGH":
                    chains = _auto_passthrough_chains(view, gs)
                elif gs.is_passthrough or gs.server.tls is None:
                    chains = _tls_passthrough_chains(view, gs, tls_hosts_seen)
                else:  # TLS terminated, routed as TCP
                    ch = _tcp_server_chain(view, gs)
                    chains = [ch] if ch is not None else []
                    ctx = gateway_server_context(gs.server.tls, http=False)
                    for c in chains:
                        c.filter_chain_match.server_names.extend(_sni_hosts(gs))
                        if ctx is not None:
                            c.transport_socket.CopyFrom(transport_socket(ctx))
                need_tls_inspector |= bool(chains)
                lis.filter_chains.extend(chains)
            elif gs.kind == "tcp":
                ch = _tcp_server_chain(view, gs)
                if ch is not None:
                    lis.filter_chains.append(ch)
        if not lis.filter_chains:
            continue  # Istio drops listeners without chains (e.g. a TCP server no VS routes)
        for ch in lis.filter_chains:
            ch.transport_socket_connect_timeout.CopyFrom(CHAIN_CONNECT_TIMEOUT)
            # Istio adds the TLS inspector when a chain matches SNI or its TLS context offers ALPN
            need_tls_inspector |= ch.HasField("transport_socket")
        if need_tls_inspector:
            lis.listener_filters.append(listener_filter(TLS_INSPECTOR))
        listeners.append(lis)
    return listeners, list(routes.values())


__all__ = ["GatewayView", "gateway_listeners", "gateway_route_config", "outbound_cluster_name"]
