"""Sidecar inbound: the ``virtualInbound`` listener (Istio ``listener_inbound.go``, ``filterchain_options.go``).

Chains, in Istio's order: ``virtualInbound-blackhole`` (traffic addressed to 15006 itself), the passthrough
chains (``virtualInbound-catchall-http`` / ``virtualInbound`` to InboundPassthroughCluster), then per inbound
target port (ascending) the chains named ``0.0.0.0_<port>``. Which chains a port gets follows Istio's
FilterChainMatchOptions tables, by listener protocol (HTTP / TCP / sniffed) and PeerAuthentication mode
(STRICT / PERMISSIVE / DISABLE): mTLS chains match ``transport_protocol: tls`` (+ Istio ALPNs) and terminate
with the workload certificate; plaintext chains match ``raw_buffer``. The TLS and HTTP inspectors are
disabled, per destination port, where no chain needs them.

Loopback bind mode: see :mod:`meshctl.translate.listener` (the listener binds the proxy IP, inbound ports are
received on :func:`loopback_inbound_port`, no blackhole/passthrough chains).
"""

from __future__ import annotations

from dataclasses import dataclass

from envoy.config.core.v3 import base_pb2
from envoy.config.listener.v3 import listener_components_pb2 as lc
from envoy.config.listener.v3 import listener_pb2

from meshctl.model.types import Protocol
from meshctl.translate.downstream_tls import istio_mutual_context, transport_socket
from meshctl.translate.filters import (
    BLACKHOLE,
    HTTP_INSPECTOR,
    INBOUND_PASSTHROUGH,
    ORIGINAL_DST,
    PLAINTEXT_HTTP_ALPNS,
    TLS_INSPECTOR,
    hcm,
    hcm_filter,
    listener_filter,
    socket_address,
    tcp_proxy_filter,
)
from meshctl.translate.httproute import inbound_passthrough_route_config, inbound_route_config
from meshctl.translate.util import inbound_cluster_name

VIRTUAL_INBOUND_PORT = 15006
WILDCARD = "0.0.0.0"
MTLS_HTTP_ALPNS = ("istio-http/1.0", "istio-http/1.1", "istio-h2")
ALL_ISTIO_MTLS_ALPNS = ("istio", "istio-peer-exchange", "istio-http/1.0", "istio-http/1.1", "istio-h2")
MTLS_TCP_MXC_ALPNS = ("istio-peer-exchange", "istio")
#: ALPN the inbound mTLS contexts offer (Istio ``util.ALPNHttp`` / ``ALPNDownstreamWithMxc``)
_ALPN_HTTP = ("h2", "http/1.1")
_ALPN_TCP = ("istio-peer-exchange", "h2", "http/1.1")
LOOPBACK_APP_PORT_OFFSET = 10000


def loopback_inbound_port(index: int) -> int:
    """Where, in loopback mode, the proxy receives inbound traffic for its ``index``-th target port."""
    return VIRTUAL_INBOUND_PORT + index


def loopback_app_address(proxy_ip: str, target_port: int) -> tuple[str, int]:
    """Where, in loopback mode, the app listens: its own IP at ``target_port + 10000`` (the proxy owns
    ``<ip>:<service-port>`` for outbound), or ``target_port - 10000`` when that would overflow."""
    p = target_port + LOOPBACK_APP_PORT_OFFSET
    return proxy_ip, p if p <= 65535 else target_port - LOOPBACK_APP_PORT_OFFSET


@dataclass
class InboundPort:
    """One workload port the sidecar accepts inbound traffic on (from the services selecting it)."""

    target_port: int
    protocol: Protocol
    service_host: str | None = None
    mtls_mode: str = "PERMISSIVE"  # STRICT | PERMISSIVE | DISABLE
    service_port: int | None = None  # the service port (telemetry names); None = the target port


@dataclass(frozen=True)
class _Opt:
    """One FilterChainMatchOptions row: chain kind, transport match, ALPN match, terminate mTLS?"""

    http: bool
    transport: str
    alpns: tuple[str, ...] = ()
    tls: bool = False


_TLS, _RAW = "tls", "raw_buffer"
#: Istio's tables: (listener protocol, mTLS mode) -> chains.
_OPTIONS: dict[tuple[str, str], tuple[_Opt, ...]] = {
    ("http", "STRICT"): (_Opt(True, _TLS, (), True),),
    ("http", "PERMISSIVE"): (_Opt(True, _TLS, ALL_ISTIO_MTLS_ALPNS, True), _Opt(True, _RAW)),
    ("http", "DISABLE"): (_Opt(True, _RAW),),
    ("auto", "STRICT"): (_Opt(True, _TLS, MTLS_HTTP_ALPNS, True), _Opt(False, _TLS, (), True)),
    ("auto", "PERMISSIVE"): (
        _Opt(True, _TLS, MTLS_HTTP_ALPNS, True),
        _Opt(True, _RAW, PLAINTEXT_HTTP_ALPNS),
        _Opt(False, _TLS, MTLS_TCP_MXC_ALPNS, True),
        _Opt(False, _RAW),
        _Opt(False, _TLS),
    ),
    ("auto", "DISABLE"): (_Opt(True, _RAW, PLAINTEXT_HTTP_ALPNS), _Opt(False, _RAW)),
    ("tcp", "STRICT"): (_Opt(False, _TLS, (), True),),
    ("tcp", "PERMISSIVE"): (
        _Opt(False, _TLS, ALL_ISTIO_MTLS_ALPNS, True),
        _Opt(False, _TLS),
        _Opt(False, _RAW),
    ),
    ("tcp", "DISABLE"): (_Opt(False, _RAW),),
}


def _listener_protocol(p: Protocol) -> str:
    return "http" if p.is_http else "auto" if p.is_unsupported else "tcp"


def _mode(mode: str) -> str:
    return mode if mode in ("STRICT", "DISABLE") else "PERMISSIVE"


def _chains(
    opts: tuple[_Opt, ...],
    *,
    name_http: str,
    name_tcp: str,
    match_port: int,
    http_filter: lc.Filter,
    tcp_filter: lc.Filter,
    trust_domain: str,
) -> list[lc.FilterChain]:
    out: list[lc.FilterChain] = []
    for o in opts:
        ch = lc.FilterChain(name=name_http if o.http else name_tcp)
        ch.filters.append(http_filter if o.http else tcp_filter)
        m = ch.filter_chain_match
        m.SetInParent()
        if match_port:
            m.destination_port.value = match_port
        m.transport_protocol = o.transport
        m.application_protocols.extend(o.alpns)
        if o.tls:
            ctx = istio_mutual_context(trust_domain, _ALPN_HTTP if o.http else _ALPN_TCP)
            ch.transport_socket.CopyFrom(transport_socket(ctx))
        out.append(ch)
    return out


def port_chains(p: InboundPort, match_port: int, trust_domain: str = "cluster.local") -> list[lc.FilterChain]:
    """The chains for one inbound port (all named ``0.0.0.0_<targetPort>``)."""
    name = f"{WILDCARD}_{p.target_port}"
    cluster = inbound_cluster_name(p.target_port)
    route = inbound_route_config(
        p.target_port,
        p.service_host,
        grpc=p.protocol in (Protocol.GRPC, Protocol.GRPC_WEB),
        service_port=p.service_port,
    )
    m = hcm(
        f"inbound_{name}", route_config=route, direction="inbound", grpc_web=p.protocol is Protocol.GRPC_WEB
    )
    if p.protocol.is_http2:
        m.http2_protocol_options.SetInParent()
    opts = _OPTIONS[(_listener_protocol(p.protocol), _mode(p.mtls_mode))]
    return _chains(
        opts,
        name_http=name,
        name_tcp=name,
        match_port=match_port,
        http_filter=hcm_filter(m),
        tcp_filter=tcp_proxy_filter(cluster),
        trust_domain=trust_domain,
    )


def passthrough_chains(mode: str, trust_domain: str = "cluster.local") -> list[lc.FilterChain]:
    """The catch-all chains for ports no service declares (Auto protocol options, port 0)."""
    m = hcm(INBOUND_PASSTHROUGH, route_config=inbound_passthrough_route_config(), direction="inbound")
    return _chains(
        _OPTIONS[("auto", _mode(mode))],
        name_http="virtualInbound-catchall-http",
        name_tcp="virtualInbound",
        match_port=0,
        http_filter=hcm_filter(m),
        tcp_filter=tcp_proxy_filter(INBOUND_PASSTHROUGH),
        trust_domain=trust_domain,
    )


def _port_predicate(ports: list[int]) -> lc.ListenerFilterChainMatchPredicate:
    """Istio ``listenerPredicateExcludePorts``: matches any of ``ports`` (Envoy ranges are [start, end))."""
    rules = [
        lc.ListenerFilterChainMatchPredicate(destination_port_range={"start": p, "end": p + 1}) for p in ports
    ]
    if len(rules) == 1:
        return rules[0]
    pred = lc.ListenerFilterChainMatchPredicate()
    pred.or_match.rules.extend(rules)
    return pred


def inspectors(chains: list[lc.FilterChain]) -> list[lc.ListenerFilter]:
    """Istio ``populateListenerFilters`` (after original_dst): TLS and HTTP inspectors, disabled on the
    destination ports whose chains do not need them."""
    need: dict[int, list[bool]] = {}
    for c in chains:
        port = c.filter_chain_match.destination_port.value
        tls = c.filter_chain_match.transport_protocol == _TLS
        http = any(a in ("http/1.1", "h2c") for a in c.filter_chain_match.application_protocols)
        cur = need.setdefault(port, [False, False])
        cur[0] |= tls
        cur[1] |= http
    out: list[lc.ListenerFilter] = []
    if any(t for t, _ in need.values()):
        f = listener_filter(TLS_INSPECTOR)
        if need.get(0, [False, False])[0]:
            off = sorted(p for p, (t, _) in need.items() if p and not t)
            if off:
                f.filter_disabled.CopyFrom(_port_predicate(off))
        else:
            on = sorted(p for p, (t, _) in need.items() if p and t)
            if on:
                f.filter_disabled.not_match.CopyFrom(_port_predicate(on))
        out.append(f)
    if any(h for _, h in need.values()):
        f = listener_filter(HTTP_INSPECTOR)
        off = sorted(p for p, (_, h) in need.items() if not h)
        if off:
            f.filter_disabled.CopyFrom(_port_predicate(off))
        out.append(f)
    return out


def virtual_inbound(
    proxy_ip: str,
    ports: list[InboundPort],
    mode: str,
    *,
    loopback: bool = False,
    trust_domain: str = "cluster.local",
) -> listener_pb2.Listener:
    """``virtualInbound`` (15006) for a sidecar whose workload serves ``ports`` (workload mTLS ``mode``)."""
    ip = proxy_ip if loopback else WILDCARD
    lis = listener_pb2.Listener(name="virtualInbound", address=socket_address(ip, VIRTUAL_INBOUND_PORT))
    lis.traffic_direction = base_pb2.INBOUND
    lis.continue_on_listener_filters_timeout = True
    lis.listener_filters_timeout.SetInParent()  # mesh protocolDetectionTimeout, 0s by default
    chains: list[lc.FilterChain] = []
    if not loopback:
        bh = lc.FilterChain(name="virtualInbound-blackhole", filters=[tcp_proxy_filter(BLACKHOLE)])
        bh.filter_chain_match.destination_port.value = VIRTUAL_INBOUND_PORT
        chains.append(bh)
        chains.extend(passthrough_chains(mode, trust_domain))
    for i, p in enumerate(sorted(ports, key=lambda p: p.target_port)):
        match_port = loopback_inbound_port(i) if loopback else p.target_port
        if loopback and i > 0:
            lis.additional_addresses.add().address.CopyFrom(socket_address(ip, match_port))
        chains.extend(port_chains(p, match_port, trust_domain))
    lis.filter_chains.extend(chains)
    lis.listener_filters.append(listener_filter(ORIGINAL_DST))
    lis.listener_filters.extend(inspectors(chains))
    return lis
