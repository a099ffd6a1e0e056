"""Sidecar outbound LDS (Istio ``listener.go``, ``tls.go``, ``listener_builder.go``): per-port outbound
listeners and ``virtualOutbound`` (15001); ``virtualInbound`` (15006) comes from :mod:`.inbound`.
Spec: istio-translation.md §1.2, §7.

Outbound listeners are keyed by (bind address, port): HTTP ports (and sniffed ports without a VIP) share
``0.0.0.0_<port>`` with RDS ``"<port>"``; TCP/TLS/sniffed ports with a VIP get ``<VIP>_<port>``; TLS services
without a VIP become ``server_names`` chains on the wildcard listener; headless TCP services get one listener
per endpoint IP. Conflicts follow §7 (chains with an identical match: first wins).

**Loopback bind mode** (``proxy.loopback``; the local demo mesh has no iptables): names and everything
else stay as Istio emits them, only the bind-related fields change (and the diff normalises exactly these):

* outbound per-port listeners bind for real on ``<proxy-ip>:<service-port>`` (``bind_to_port`` unset =
  true; Istio: ``0.0.0.0``/VIP with ``bind_to_port: false``), except privileged ports (< 1024) and a second
  listener on an already bound port (``0.0.0.0_443`` and ``<VIP>_443``), which stay exactly as Istio emits them;
* ``virtualOutbound`` binds ``<proxy-ip>:15001`` (Istio ``0.0.0.0:15001``);
* ``virtualInbound`` binds ``<proxy-ip>:15006`` (+ ``additional_addresses`` ``<proxy-ip>:15006+i`` for the
  i-th further inbound port, in ascending target-port order) without ``use_original_dst``-style capture:
  inbound chains match the loopback inbound port (:func:`loopback_inbound_port`) instead of the target port;
* the inbound clusters forward to the app at :func:`.inbound.loopback_app_address` (built by ``cluster.py``),
  and endpoints of sidecar-injected workloads point at their proxy's loopback inbound port (``assemble.py``).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from envoy.config.core.v3 import base_pb2
from envoy.config.listener.v3 import listener_components_pb2 as lc
from envoy.config.listener.v3 import listener_pb2

from meshctl.model.types import Protocol, Resolution, Service
from meshctl.translate.filters import (
    BLACKHOLE,
    HTTP_INSPECTOR,
    PLAINTEXT_HTTP_ALPNS,
    TLS_INSPECTOR,
    hcm,
    hcm_filter,
    listener_filter,
    passthrough_chain,
    socket_address,
    tcp_proxy_filter,
)
from meshctl.translate.httproute import SidecarView
from meshctl.translate.inbound import (
    InboundPort,
    loopback_app_address,
    loopback_inbound_port,
    virtual_inbound,
)
from meshctl.translate.protoutil import boolv, seconds, u32
from meshctl.translate.route import VSInfo, _gateway_name
from meshctl.translate.util import outbound_cluster_name

VIRTUAL_OUTBOUND_PORT = 15001
#: Istio ``defaultGatewayTransportSocketConnectTimeout``, set on outbound and gateway filter chains.
CHAIN_CONNECT_TIMEOUT = seconds(15)
VIRTUAL_INBOUND_PORT = 15006
#: Wildcard ports Istio never gives to an outbound listener (static and virtual listeners own them).
RESERVED_PORTS = frozenset({15001, 15006, 15021, 15090, 15000, 15020})
WILDCARD = "0.0.0.0"
#: Loopback mode leaves ports below this unbound (Istio's unprivileged proxies skip them too).
PRIVILEGED_PORT_LIMIT = 1024


@dataclass
class _OutListener:
    bind: str
    port: int
    http_rds: str | None = None
    grpc_web: bool = False  # the first HTTP service's protocol decides, as in Istio's shared HCM
    tcp_chains: list[lc.FilterChain] = field(default_factory=list)
    needs_tls_inspector: bool = False
    catch_all_tcp: bool = False


def _l4_applies(match: Any, vs: VSInfo, port: int, view: SidecarView) -> bool:
    """Istio ``matchTCP``/``matchTLS``: gateways (``mesh``), source labels, port and namespace must all fit."""
    if match.gateways and "mesh" not in {_gateway_name(g, vs.namespace) for g in match.gateways}:
        return False
    if any(view.proxy.labels.get(k) != v for k, v in (match.source_labels or {}).items()):
        return False
    if match.port and match.port != port:
        return False
    return not match.source_namespace or match.source_namespace == view.proxy.namespace


def _dest_cluster(dest: Any, svc_port: int, ports_of: Callable[[str], list[int] | None]) -> str:
    number = dest.port.number if dest.port is not None and dest.port.number else None
    if not number:
        ports = ports_of(dest.host)
        number = ports[0] if ports and len(ports) == 1 else svc_port
    return outbound_cluster_name(number, dest.subset, dest.host)


def _single_destination(view: Any, cluster: str, host: str, port: int) -> lc.Filter:
    """Istio ``buildOutboundNetworkFiltersWithSingleDestination``: stat prefix = cluster, DR source-IP hashing,
    DR ``connectionPool.tcp`` idleTimeout / maxConnectionDuration."""
    tcp = view.tcp_settings(host, port)
    f = tcp_proxy_filter(
        cluster,
        hash_source_ip=_hash_source_ip(view, host, port),
        idle_timeout=getattr(tcp, "idle_timeout", None),
        max_connection_duration=getattr(tcp, "max_connection_duration", None),
    )
    return f


def _routes_filter(routes: list[Any], vs: VSInfo, port: int, view: Any) -> lc.Filter:
    """Istio ``buildOutboundNetworkFilters`` (sidecars and gateways; ``view`` gives service ports, hash and
    TCP settings): one destination -> single-destination tcp_proxy, else weighted (stat prefix ``vs.ns``)."""
    dests = [r for r in routes if (r.weight or 0) > 0] if len(routes) > 1 else routes
    if len(dests) == 1:
        d = dests[0].destination
        return _single_destination(view, _dest_cluster(d, port, view.service_ports), d.host, port)
    weighted = [(_dest_cluster(d.destination, port, view.service_ports), int(d.weight or 0)) for d in dests]
    return tcp_proxy_filter(stat_prefix=f"{vs.name}.{vs.namespace}", weighted=weighted)


def _configs_for(view: SidecarView, svc: Service) -> list[VSInfo]:
    """Istio ``getConfigsForHost``: every VS (precedence order) with a host matching the service."""
    from meshctl.model.hosts import host_matches

    return [vs for vs in view.virtual_services if any(host_matches(h, svc.hostname) for h in vs.spec.hosts)]


def _hash_source_ip(view: Any, host: str, port: int) -> bool:
    hp = view.hash_policy(host, port)
    return bool(
        hp is not None
        and hp.WhichOneof("policy_specifier") == "connection_properties"
        and hp.connection_properties.source_ip
    )


def _add_cidrs(chain: lc.FilterChain, cidrs: list[str]) -> None:
    for cidr in sorted(cidrs):
        ip, _, plen = cidr.partition("/")
        if ip in ("0.0.0.0", "::"):
            continue
        chain.filter_chain_match.prefix_ranges.add(
            address_prefix=ip, prefix_len=u32(int(plen or (32 if ":" not in ip else 128)))
        )


def _default_chain(
    view: SidecarView, svc: Service, port: int, sni: list[str], cidrs: list[str]
) -> lc.FilterChain:
    """The chain to the service's own cluster (port = its only port, else the listener port)."""
    cport = svc.ports[0].port if len(svc.ports) == 1 else port
    chain = lc.FilterChain(
        filters=[
            _single_destination(view, outbound_cluster_name(cport, None, svc.hostname), svc.hostname, port)
        ]
    )
    chain.filter_chain_match.server_names.extend(sorted(sni))
    _add_cidrs(chain, cidrs)
    return chain


def tcp_chains(
    view: SidecarView, svc: Service, port: int, wildcard: bool, cidrs: Sequence[str] = ()
) -> list[lc.FilterChain]:
    """Istio ``buildSidecarOutboundTCPFilterChainOpts``: VS ``tcp[]`` rules in order; a rule without match, or a
    fitting match without ``destinationSubnets``, is terminal; subnet-only matches become ``prefix_ranges``
    chains; without a terminal rule the service's default chain closes the list."""
    chains: list[lc.FilterChain] = []
    default_added = False

    def terminal(vs: VSInfo, rule: Any) -> list[lc.FilterChain]:
        ch = lc.FilterChain(filters=[_routes_filter(list(rule.route), vs, port, view)], metadata=vs.metadata)
        _add_cidrs(ch, list(cidrs))
        return [*chains, ch]

    for vs in _configs_for(view, svc):
        for rule in vs.spec.tcp:
            if not rule.match:
                return terminal(vs, rule)
            subnets: list[str] = []
            for m in rule.match:
                if not _l4_applies(m, vs, port, view):
                    continue
                if not m.destination_subnets:
                    return terminal(vs, rule)
                subnets.extend(m.destination_subnets)
            if subnets:
                ch = lc.FilterChain(filters=[_routes_filter(list(rule.route), vs, port, view)])
                _add_cidrs(ch, subnets)
                chains.append(ch)
                if sorted(subnets) == sorted(cidrs):
                    default_added = True
    if not default_added:
        chains.append(_default_chain(view, svc, port, [], list(cidrs)))
    return chains


def tls_chains(
    view: SidecarView, svc: Service, port: int, wildcard: bool, cidrs: Sequence[str] = ()
) -> list[lc.FilterChain]:
    """Istio ``buildSidecarOutboundTLSFilterChainOpts``: a chain per fitting VS ``tls[].match`` (first one per
    SNI+subnet set wins), else one chain to the service's cluster, matching its hostname as SNI when the
    listener is wildcard-bound."""
    chains: list[lc.FilterChain] = []
    handled: set[str] = set()
    for vs in _configs_for(view, svc):
        for rule in vs.spec.tls:
            for m in rule.match:
                if not _l4_applies(m, vs, port, view):
                    continue
                subnets = list(m.destination_subnets) or list(cidrs)
                key = ",".join(m.sni_hosts) + "|" + ",".join(m.destination_subnets)
                if key in handled:
                    continue
                handled.add(key)
                ch = lc.FilterChain(
                    filters=[_routes_filter(list(rule.route), vs, port, view)], metadata=vs.metadata
                )
                if "*" not in m.sni_hosts:
                    ch.filter_chain_match.server_names.extend(sorted(m.sni_hosts))
                _add_cidrs(ch, subnets)
                chains.append(ch)
    if not chains:
        sni = [svc.hostname] if (wildcard or cidrs) else []
        chains.append(_default_chain(view, svc, port, sni, list(cidrs)))
    return chains


def _sniffed_chains(view: SidecarView, svc: Service, port: int) -> tuple[str, list[lc.FilterChain]]:
    return f"{svc.hostname}:{port}", tcp_chains(view, svc, port, wildcard=False)


def outbound_listeners(
    view: SidecarView,
    ports_filter: Callable[[int], bool] | None = None,
    *,
    bind: str | None = None,
    real_bind: bool = False,
    bound: set[int] | None = None,
) -> tuple[list[listener_pb2.Listener], list[str]]:
    """Per-port outbound listeners and the RDS names they reference (in order).

    ``ports_filter`` limits the service ports (a Sidecar egress listener with a port, or the catch-all
    listener minus the ports earlier egress listeners locked); ``bind`` is a Sidecar egress ``bind`` address
    (every port of this egress listener uses it); ``real_bind`` (``captureMode: NONE``) makes the listeners bind.
    """
    table: dict[tuple[str, int], _OutListener] = {}
    order: list[tuple[str, int]] = []

    def get(bind: str, port: int) -> _OutListener:
        key = (bind, port)
        if key not in table:
            table[key] = _OutListener(bind, port)
            order.append(key)
        return table[key]

    for svc in view.services:
        if svc.resolution is Resolution.ALIAS:
            continue  # Istio: alias (ExternalName) services get no listeners of their own
        for sp in svc.ports:
            port = sp.port
            proto = sp.protocol
            if proto is Protocol.UDP or (ports_filter is not None and not ports_filter(port)):
                continue
            vip = svc.vip if not svc.headless else None
            if bind:
                vip = bind
            if (
                proto.is_http
                or (proto.is_unsupported and not vip)
                or (bind and (proto.is_http or proto.is_unsupported))
            ):
                if port in RESERVED_PORTS and not bind:
                    continue
                lis = get(bind or WILDCARD, port)
                if lis.http_rds is None:
                    lis.http_rds = str(port)
                    lis.grpc_web = proto is Protocol.GRPC_WEB
                if proto.is_unsupported:
                    # sniffed without a VIP: Istio adds the service's TCP chains (match-all: the default chain)
                    for ch in tcp_chains(view, svc, port, wildcard=True):
                        if not any(ex.filter_chain_match == ch.filter_chain_match for ex in lis.tcp_chains):
                            lis.catch_all_tcp |= _is_match_all(ch)
                            lis.tcp_chains.append(ch)
            elif proto.is_unsupported and vip:
                lis = get(vip, port)
                if lis.http_rds is None and not lis.tcp_chains:
                    lis.http_rds, chains = _sniffed_chains(view, svc, port)
                    lis.tcp_chains.extend(chains)
            else:  # TCP-like and TLS: Istio merges chains unless an identical match already exists
                cidrs = [] if bind else [a for a in svc.addresses if "/" in a]
                addrs = [vip or WILDCARD]
                if not bind and not vip and not cidrs and svc.resolution is Resolution.PASSTHROUGH:
                    # headless/NONE services: one listener per endpoint IP (not the proxy's own)
                    ips = [ip for ip in view.instances(svc, port) if ip != view.proxy.ip]
                    if ips or svc.registry == "Kubernetes" or svc.selector:
                        addrs = ips
                for addr in addrs:
                    if addr == WILDCARD and port in RESERVED_PORTS:
                        continue
                    lis = get(addr, port)
                    build = tls_chains if proto.is_tls else tcp_chains
                    for ch in build(view, svc, port, wildcard=addr == WILDCARD, cidrs=cidrs):
                        if any(ex.filter_chain_match == ch.filter_chain_match for ex in lis.tcp_chains):
                            continue  # conflict: the later service is dropped (pilot_conflict_outbound_listener_*)
                        lis.catch_all_tcp |= _is_match_all(ch)
                        lis.needs_tls_inspector |= bool(ch.filter_chain_match.server_names)
                        lis.tcp_chains.append(ch)

    out: list[listener_pb2.Listener] = []
    rds: list[str] = []
    if bound is None:
        bound = {VIRTUAL_OUTBOUND_PORT, VIRTUAL_INBOUND_PORT}
    for key in order:
        ol = table[key]
        lis = _assemble_outbound(view, ol)
        if real_bind:
            lis.ClearField("bind_to_port")
        if view.proxy.loopback:
            # several Istio listeners (0.0.0.0_443, <VIP>_443) share one loopback address: the first binds,
            # the others stay exactly as Istio emits them (Istio address, bind_to_port: false).
            if ol.port in bound or ol.port < PRIVILEGED_PORT_LIMIT:
                lis.address.CopyFrom(socket_address(ol.bind, ol.port))
                lis.bind_to_port.CopyFrom(boolv(False))
            bound.add(ol.port)
        out.append(lis)
        if ol.http_rds:
            rds.append(ol.http_rds)
    return out, rds


def _is_match_all(chain: lc.FilterChain) -> bool:
    return not chain.HasField("filter_chain_match") or chain.filter_chain_match == lc.FilterChainMatch()


def _assemble_outbound(view: SidecarView, ol: _OutListener) -> listener_pb2.Listener:
    """One outbound listener: TCP chains first, then the HTTP chain (Istio's order); then Istio's
    ``appendListenerFallthroughRouteForCompleteListener``: with several chains the match-all one moves to
    ``default_filter_chain``; with none, ``PassthroughFilterChain`` is the default."""
    name = f"{ol.bind}_{ol.port}"
    bind_ip = view.proxy.ip if view.proxy.loopback else ol.bind
    lis = listener_pb2.Listener(name=name, address=socket_address(bind_ip, ol.port))
    lis.traffic_direction = base_pb2.OUTBOUND
    if not view.proxy.loopback:
        lis.bind_to_port.CopyFrom(boolv(False))
    chains: list[lc.FilterChain] = list(ol.tcp_chains)
    if ol.http_rds is not None:
        ch = lc.FilterChain(
            filters=[hcm_filter(hcm(f"outbound_{name}", rds=ol.http_rds, grpc_web=ol.grpc_web))]
        )
        ch.filter_chain_match.transport_protocol = "raw_buffer"
        ch.filter_chain_match.application_protocols.extend(PLAINTEXT_HTTP_ALPNS)
        chains.append(ch)
    for ch in chains:  # Istio: resistance against slow TLS handshakes
        ch.transport_socket_connect_timeout.CopyFrom(CHAIN_CONNECT_TIMEOUT)
    match_all = next((c for c in chains if _is_match_all(c)), None)
    if match_all is not None and len(chains) > 1:
        chains.remove(match_all)
        match_all.ClearField("filter_chain_match")
        lis.default_filter_chain.CopyFrom(match_all)
    elif match_all is None:
        lis.default_filter_chain.CopyFrom(
            passthrough_chain(view.registry_only, egress_cluster=view.egress_cluster)
        )
    lis.filter_chains.extend(chains)
    if ol.http_rds is not None or ol.needs_tls_inspector:
        lis.listener_filters.append(listener_filter(TLS_INSPECTOR))
    if ol.http_rds is not None:
        lis.listener_filters.append(listener_filter(HTTP_INSPECTOR))
    # Istio: the mesh protocolDetectionTimeout (default 0s) with an HTTP inspector, else 0s: always "0s" here
    lis.listener_filters_timeout.SetInParent()
    lis.continue_on_listener_filters_timeout = True
    return lis


def virtual_outbound(view: SidecarView) -> listener_pb2.Listener:
    """``virtualOutbound`` (15001): iptables target handing connections to the per-port listeners."""
    ip = view.proxy.ip if view.proxy.loopback else WILDCARD
    lis = listener_pb2.Listener(name="virtualOutbound", address=socket_address(ip, VIRTUAL_OUTBOUND_PORT))
    lis.use_original_dst.CopyFrom(boolv(True))
    lis.traffic_direction = base_pb2.OUTBOUND
    bh = lis.filter_chains.add(name="virtualOutbound-blackhole", filters=[tcp_proxy_filter(BLACKHOLE)])
    bh.filter_chain_match.destination_port.value = VIRTUAL_OUTBOUND_PORT
    catch = passthrough_chain(
        view.registry_only, name="virtualOutbound-catchall-tcp", egress_cluster=view.egress_cluster
    )
    catch.ClearField("filter_chain_match")  # Istio sends this one without any match
    lis.filter_chains.append(catch)
    return lis


@dataclass
class Egress:
    """One Sidecar egress listener as the LDS builder sees it: its view (services/VSs it imports), and
    ``port``/``bind``/``capture_none`` from the Sidecar spec (None port = the catch-all listener)."""

    view: SidecarView
    port: int | None = None
    bind: str | None = None
    capture_none: bool = False


def sidecar_listeners(
    view: SidecarView,
    inbound: list[InboundPort],
    trust_domain: str = "cluster.local",
    egress: list[Egress] | None = None,
) -> tuple[list[listener_pb2.Listener], list[tuple[str, SidecarView]]]:
    """All sidecar listeners (outbound per egress listener, virtualOutbound, virtualInbound) and the RDS names
    used, each with the view (egress listener) whose services its route configuration holds."""
    outs: list[listener_pb2.Listener] = []
    rds: list[tuple[str, SidecarView]] = []
    locked: set[int] = set()
    names: set[str] = set()
    bound: set[int] = {VIRTUAL_OUTBOUND_PORT, VIRTUAL_INBOUND_PORT}
    for e in egress or [Egress(view)]:
        if e.port is not None:
            port = e.port
            only: Callable[[int], bool] = frozenset({port}).__contains__
            lis, r = outbound_listeners(e.view, only, bind=e.bind, real_bind=e.capture_none, bound=bound)
            locked.add(port)
        else:
            lis, r = outbound_listeners(e.view, lambda p: p not in locked, bound=bound)
        for listener in lis:
            if listener.name not in names:  # earlier egress listeners win
                names.add(listener.name)
                outs.append(listener)
        rds.extend((name, e.view) for name in r if name not in {n for n, _ in rds})
    outs.append(virtual_outbound(view))
    mode = view.extra.get("mtls_mode", "PERMISSIVE")  # the workload-level mode, for the passthrough chains
    vin = virtual_inbound(view.proxy.ip, inbound, mode, loopback=view.proxy.loopback, trust_domain=trust_domain)
    # In loopback mode nothing redirects traffic to 15006, so a workload with no inbound ports has nothing to
    # receive: a chain-less listener would only make Envoy reject the whole LDS update.
    if vin.filter_chains or not view.proxy.loopback:
        outs.append(vin)
    return outs, rds


__all__ = [
    "Egress",
    "InboundPort",
    "loopback_app_address",
    "loopback_inbound_port",
    "outbound_listeners",
    "sidecar_listeners",
    "virtual_outbound",
]
