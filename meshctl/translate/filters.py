"""Envoy filter building blocks Istio uses on every proxy: the HTTP connection manager (with Istio's http
filter order), tcp_proxy, listener filters and the passthrough/blackhole chains.

HTTP filter order (istio-translation.md §3.3): Istio's chain is metadata-exchange, authn/authz, WASM/stats
extensions, grpc_stats, ``istio.alpn``, fault, cors, ``istio.stats``, router. ``istio.metadata_exchange``,
``istio.alpn`` and ``istio.stats`` only exist in Istio's own Envoy build (istio/proxy), so meshctl emits the
stock subset in Istio's order: ``envoy.filters.http.grpc_stats`` -> ``envoy.filters.http.fault`` ->
``envoy.filters.http.cors`` -> ``envoy.filters.http.router``. The diff treats the istio-only filters as expected
extras on a real Istio proxy.
"""

from __future__ import annotations

from collections.abc import Iterable

from envoy.config.core.v3 import address_pb2, config_source_pb2
from envoy.config.listener.v3 import listener_components_pb2 as lc
from envoy.config.route.v3 import route_pb2
from envoy.extensions.filters.http.cors.v3 import cors_pb2
from envoy.extensions.filters.http.fault.v3 import fault_pb2
from envoy.extensions.filters.http.grpc_stats.v3 import config_pb2 as grpc_stats_pb2
from envoy.extensions.filters.http.grpc_web.v3 import grpc_web_pb2
from envoy.extensions.filters.http.router.v3 import router_pb2
from envoy.extensions.filters.listener.http_inspector.v3 import http_inspector_pb2
from envoy.extensions.filters.listener.original_dst.v3 import original_dst_pb2
from envoy.extensions.filters.listener.tls_inspector.v3 import tls_inspector_pb2
from envoy.extensions.filters.network.http_connection_manager.v3 import http_connection_manager_pb2 as hcm_pb2
from envoy.extensions.filters.network.tcp_proxy.v3 import tcp_proxy_pb2
from envoy.extensions.request_id.uuid.v3 import uuid_pb2

from meshctl.translate.protoutil import boolv, duration, pack, seconds

HCM = "envoy.filters.network.http_connection_manager"
TCP_PROXY = "envoy.filters.network.tcp_proxy"
BLACKHOLE = "BlackHoleCluster"
PASSTHROUGH = "PassthroughCluster"
INBOUND_PASSTHROUGH = "InboundPassthroughCluster"
PASSTHROUGH_CHAIN = "PassthroughFilterChain"
#: Istio ``plaintextHTTPALPNs`` with HTTP/1.0 off (the default: PILOT_HTTP10 unset): 1.0 then passes as TCP.
PLAINTEXT_HTTP_ALPNS = ("http/1.1", "h2c")

_ROUTER = hcm_pb2.HttpFilter(name="envoy.filters.http.router", typed_config=pack(router_pb2.Router()))
_FAULT = hcm_pb2.HttpFilter(name="envoy.filters.http.fault", typed_config=pack(fault_pb2.HTTPFault()))
_CORS = hcm_pb2.HttpFilter(name="envoy.filters.http.cors", typed_config=pack(cors_pb2.Cors()))
_GRPC_WEB = hcm_pb2.HttpFilter(name="envoy.filters.http.grpc_web", typed_config=pack(grpc_web_pb2.GrpcWeb()))
_GRPC_STATS = hcm_pb2.HttpFilter(
    name="envoy.filters.http.grpc_stats",
    typed_config=pack(
        grpc_stats_pb2.FilterConfig(emit_filter_state=True, stats_for_all_methods=boolv(False))
    ),
)
_ADS = config_source_pb2.ConfigSource(
    ads=config_source_pb2.AggregatedConfigSource(),
    initial_fetch_timeout=seconds(0),
    resource_api_version=config_source_pb2.V3,
)
_UUID = hcm_pb2.RequestIDExtension(
    typed_config=pack(uuid_pb2.UuidRequestIdConfig(use_request_id_for_trace_sampling=boolv(True)))
)


def socket_address(ip: str, port: int) -> address_pb2.Address:
    return address_pb2.Address(socket_address=address_pb2.SocketAddress(address=ip, port_value=port))


def http_filters() -> list[hcm_pb2.HttpFilter]:
    """The stock-Envoy subset of Istio's HTTP filter chain, in Istio's order."""
    return [_GRPC_STATS, _FAULT, _CORS, _ROUTER]


def hcm(
    stat_prefix: str,
    *,
    rds: str | None = None,
    route_config: route_pb2.RouteConfiguration | None = None,
    direction: str = "outbound",
    gateway: bool = False,
    grpc_web: bool = False,
) -> hcm_pb2.HttpConnectionManager:
    """Istio's HCM: RDS over ADS (or an inline route config), websocket upgrades, no stream idle timeout,
    path normalisation, UUID request ids; inbound/gateway specifics per §6."""
    # Istio ``DelimitedStatsPrefix``: every HCM stat prefix ends with ";" so stats can be parsed back
    m = hcm_pb2.HttpConnectionManager(
        stat_prefix=stat_prefix if stat_prefix.endswith(";") else stat_prefix + ";"
    )
    if rds is not None:
        m.rds.route_config_name = rds
        m.rds.config_source.CopyFrom(_ADS)
    elif route_config is not None:
        m.route_config.CopyFrom(route_config)
    if grpc_web:  # Istio adds it (before grpc_stats) when the port protocol is gRPC-Web
        m.http_filters.append(_GRPC_WEB)
    m.http_filters.extend(http_filters())
    m.use_remote_address.CopyFrom(boolv(gateway))
    m.upgrade_configs.add(upgrade_type="websocket")
    m.stream_idle_timeout.CopyFrom(seconds(0))
    m.normalize_path.CopyFrom(boolv(True))
    m.path_with_escaped_slashes_action = hcm_pb2.HttpConnectionManager.KEEP_UNCHANGED
    m.request_id_extension.CopyFrom(_UUID)
    if direction == "inbound":
        m.server_name = "istio-envoy"
        m.forward_client_cert_details = hcm_pb2.HttpConnectionManager.APPEND_FORWARD
        m.set_current_client_cert_details.subject.value = True
        m.set_current_client_cert_details.dns = True
        m.set_current_client_cert_details.uri = True
    elif gateway:  # Istio buildGatewayConnectionManager (gatewayTopology defaults)
        m.server_name = "istio-envoy"
        m.forward_client_cert_details = hcm_pb2.HttpConnectionManager.SANITIZE_SET
        m.set_current_client_cert_details.subject.value = True
        m.set_current_client_cert_details.cert = True
        m.set_current_client_cert_details.dns = True
        m.set_current_client_cert_details.uri = True
        m.http_protocol_options.SetInParent()
    return m


def hcm_filter(m: hcm_pb2.HttpConnectionManager) -> lc.Filter:
    return lc.Filter(name=HCM, typed_config=pack(m))


def tcp_proxy_filter(
    cluster: str | None = None,
    *,
    stat_prefix: str | None = None,
    weighted: Iterable[tuple[str, int]] | None = None,
    hash_source_ip: bool = False,
    idle_timeout: object | None = None,
    max_connection_duration: object | None = None,
) -> lc.Filter:
    """tcp_proxy to one cluster (stat_prefix = cluster name) or weighted clusters (stat_prefix = ``vs.ns``)."""
    tp = tcp_proxy_pb2.TcpProxy(stat_prefix=stat_prefix or cluster or "")
    if weighted is not None:
        for name, w in weighted:
            tp.weighted_clusters.clusters.add(name=name, weight=w)
    else:
        tp.cluster = cluster or BLACKHOLE
    if hash_source_ip:
        tp.hash_policy.add().source_ip.SetInParent()
    if idle_timeout is not None:
        tp.idle_timeout.CopyFrom(duration(idle_timeout))
    if max_connection_duration is not None:
        tp.max_downstream_connection_duration.CopyFrom(duration(max_connection_duration))
    return lc.Filter(name=TCP_PROXY, typed_config=pack(tp))


def passthrough_chain(
    registry_only: bool = False, name: str = PASSTHROUGH_CHAIN, egress_cluster: str | None = None
) -> lc.FilterChain:
    """The chain for traffic no service port claims: Passthrough (ALLOW_ANY; the Sidecar ``egressProxy``
    cluster when set) or BlackHole (REGISTRY_ONLY)."""
    cluster = BLACKHOLE if registry_only else (egress_cluster or PASSTHROUGH)
    chain = lc.FilterChain(name=name, filters=[tcp_proxy_filter(cluster)])
    chain.filter_chain_match.SetInParent()  # Istio sends an explicit empty match
    return chain


def listener_filter(name: str) -> lc.ListenerFilter:
    msgs = {
        "envoy.filters.listener.tls_inspector": tls_inspector_pb2.TlsInspector(),
        "envoy.filters.listener.http_inspector": http_inspector_pb2.HttpInspector(),
        "envoy.filters.listener.original_dst": original_dst_pb2.OriginalDst(),
    }
    return lc.ListenerFilter(name=name, typed_config=pack(msgs[name]))


TLS_INSPECTOR = "envoy.filters.listener.tls_inspector"
HTTP_INSPECTOR = "envoy.filters.listener.http_inspector"
ORIGINAL_DST = "envoy.filters.listener.original_dst"
