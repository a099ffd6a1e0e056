"""DestinationRule traffic policy -> Envoy cluster fields (``cluster_traffic_policy.go``, ``util.MergeTrafficPolicy``).

Policy resolution: a port-level setting replaces the whole top-level policy (connectionPool, loadBalancer,
outlierDetection, tls -- nothing inherited); subset policies override field by field, and a subset's own
port-level entry again replaces all four. Mesh ``defaultTrafficPolicy`` fills unset connectionPool /
outlierDetection blocks.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, replace
from typing import Any

from envoy.config.cluster.v3 import circuit_breaker_pb2, cluster_pb2, outlier_detection_pb2
from envoy.extensions.upstreams.http.v3 import http_protocol_options_pb2 as hpo_pb2
from envoy.type.v3 import percent_pb2
from google.protobuf import duration_pb2, wrappers_pb2

from meshctl.model.api import (
    ClientTLSSettings,
    ConnectionPoolSettings,
    LoadBalancerSettings,
    LocalityLoadBalancerSetting,
    MeshConfig,
    OutlierDetection,
    ProxyProtocol,
    TrafficPolicy,
    TunnelSettings,
    parse_duration,
)
from meshctl.model.types import Protocol

MAX_UINT32 = 4294967295
HTTP_PROTOCOL_OPTIONS_KEY = "envoy.extensions.upstreams.http.v3.HttpProtocolOptions"


@dataclass
class EffectivePolicy:
    """The traffic policy that applies to one cluster after port-level/subset resolution."""

    load_balancer: LoadBalancerSettings | None = None
    connection_pool: ConnectionPoolSettings | None = None
    outlier_detection: OutlierDetection | None = None
    tls: ClientTLSSettings | None = None
    proxy_protocol: ProxyProtocol | None = None
    tunnel: TunnelSettings | None = None


def _port_level(tp: TrafficPolicy, port: int) -> Any:
    return next((p for p in tp.port_level_settings if p.port is not None and p.port.number == port), None)


def _port_level_policy(tp: TrafficPolicy, port: int) -> EffectivePolicy | None:
    """``GetPortLevelTrafficPolicy`` when a port-level entry matches: only its four fields, nothing inherited
    (tunnel and proxyProtocol are dropped too, as Istio's shadow copy does)."""
    pl = _port_level(tp, port)
    if pl is None:
        return None
    return EffectivePolicy(pl.load_balancer, pl.connection_pool, pl.outlier_detection, pl.tls)


def port_policy(tp: TrafficPolicy | None, port: int) -> EffectivePolicy | None:
    """The DR policy for ``port``: the top-level policy, wholly replaced by a matching port-level entry."""
    if tp is None:
        return None
    pl = _port_level_policy(tp, port)
    if pl is not None:
        return pl
    return EffectivePolicy(
        tp.load_balancer, tp.connection_pool, tp.outlier_detection, tp.tls, tp.proxy_protocol, tp.tunnel
    )


def subset_policy(
    base: EffectivePolicy | None, subset_tp: TrafficPolicy | None, port: int
) -> EffectivePolicy | None:
    """``MergeSubsetTrafficPolicy``: the subset's policy (its port-level entry if one matches) overrides field by
    field; with a matching subset port-level entry all four of connectionPool/outlierDetection/loadBalancer/tls
    are replaced, even by nothing."""
    if subset_tp is None:
        return base
    sub = port_policy(subset_tp, port)
    has_port_level = _port_level(subset_tp, port) is not None
    if base is None:
        return sub
    eff = replace(base)
    assert sub is not None
    for f in ("connection_pool", "outlier_detection", "load_balancer", "tls"):
        v = getattr(sub, f)
        if v is not None or has_port_level:
            setattr(eff, f, v)
    if sub.tunnel is not None:
        eff.tunnel = sub.tunnel
    if sub.proxy_protocol is not None:
        eff.proxy_protocol = sub.proxy_protocol
    return eff


def with_mesh_defaults(eff: EffectivePolicy | None, mesh: MeshConfig) -> EffectivePolicy | None:
    default = mesh.default_traffic_policy or mesh.default_destination_rule
    if default is None:
        return eff
    eff = replace(eff) if eff is not None else EffectivePolicy()
    if eff.connection_pool is None:
        eff.connection_pool = default.connection_pool
    if eff.outlier_detection is None:
        eff.outlier_detection = default.outlier_detection
    return eff


_EMPTY_POOL = ConnectionPoolSettings()
_MESH_DEFAULT_LOCALITY = LocalityLoadBalancerSetting(enabled=True)


@functools.lru_cache(maxsize=256)
def _dur_parts(s: str) -> tuple[int, int]:
    secs = parse_duration(s)
    whole = int(secs)
    return whole, int(round((secs - whole) * 1e9))


def dur(s: str) -> duration_pb2.Duration:
    """A protobuf Duration from an Istio duration string."""
    seconds, nanos = _dur_parts(s)
    return duration_pb2.Duration(seconds=seconds, nanos=nanos)


class ClusterOptions:
    """Collects ``HttpProtocolOptions`` while a cluster is built; packed once at the end (Istio's clusterWrapper)."""

    def __init__(self) -> None:
        self.hpo: hpo_pb2.HttpProtocolOptions | None = None

    def options(self) -> hpo_pb2.HttpProtocolOptions:
        if self.hpo is None:
            self.hpo = hpo_pb2.HttpProtocolOptions()
        return self.hpo

    def set_h2(self) -> None:
        o = self.options()
        if not o.HasField("upstream_http_protocol_options"):
            o.explicit_http_config.http2_protocol_options.SetInParent()

    def set_use_downstream(self) -> None:
        o = self.options()
        o.use_downstream_protocol_config.http_protocol_options.SetInParent()
        o.use_downstream_protocol_config.http2_protocol_options.SetInParent()

    @property
    def is_h2(self) -> bool:
        return self.hpo is not None and self.hpo.explicit_http_config.HasField("http2_protocol_options")

    def finish(self, c: cluster_pb2.Cluster) -> None:
        if self.hpo is None:
            return
        if self.hpo.WhichOneof("upstream_protocol_options") is None:
            self.hpo.explicit_http_config.http_protocol_options.SetInParent()
        c.typed_extension_protocol_options[HTTP_PROTOCOL_OPTIONS_KEY].Pack(self.hpo)


def set_upstream_protocol(opts: ClusterOptions, protocol: Protocol, sidecar: bool) -> None:
    if protocol.is_http2:
        opts.set_h2()
    elif sidecar and protocol.is_unsupported:
        opts.set_use_downstream()


def default_thresholds() -> circuit_breaker_pb2.CircuitBreakers.Thresholds:
    u = wrappers_pb2.UInt32Value
    return circuit_breaker_pb2.CircuitBreakers.Thresholds(
        max_connections=u(value=MAX_UINT32),
        max_pending_requests=u(value=MAX_UINT32),
        max_requests=u(value=MAX_UINT32),
        max_retries=u(value=MAX_UINT32),
        track_remaining=False,
    )


def apply_connection_pool(
    c: cluster_pb2.Cluster, opts: ClusterOptions, cp: ConnectionPoolSettings | None, mesh: MeshConfig
) -> None:
    """``applyConnectionPool``: circuit breakers, connect timeout, keepalive, HTTP common options."""
    cp = cp or _EMPTY_POOL
    th = default_thresholds()
    idle = None
    max_rpc = 0
    max_streams = 0
    max_dur = None
    if cp.http is not None:
        h = cp.http
        if (h.http2_max_requests or 0) > 0:
            th.max_requests.value = h.http2_max_requests
        if (h.http1_max_pending_requests or 0) > 0:
            th.max_pending_requests.value = h.http1_max_pending_requests
        if (h.max_retries or 0) > 0:
            th.max_retries.value = h.max_retries
        idle = h.idle_timeout
        max_rpc = h.max_requests_per_connection or 0
        max_streams = h.max_concurrent_streams or 0
    c.connect_timeout.CopyFrom(dur(mesh.connect_timeout))
    if cp.tcp is not None:
        t = cp.tcp
        if t.connect_timeout:
            c.connect_timeout.CopyFrom(dur(t.connect_timeout))
        if (t.max_connections or 0) > 0:
            th.max_connections.value = t.max_connections
        if t.max_connection_duration:
            max_dur = t.max_connection_duration
        if idle is None:
            idle = t.idle_timeout
    _apply_keepalive(c, mesh, cp)
    c.circuit_breakers.Clear()
    c.circuit_breakers.thresholds.append(th)
    if max_dur or idle or max_rpc > 0 or max_streams > 0:
        common = opts.options().common_http_protocol_options
        if idle:
            common.idle_timeout.CopyFrom(dur(idle))
        if max_rpc > 0:
            common.max_requests_per_connection.value = max_rpc
        if max_dur:
            common.max_connection_duration.CopyFrom(dur(max_dur))
        if opts.is_h2 and max_streams > 0:
            opts.options().explicit_http_config.http2_protocol_options.max_concurrent_streams.value = (
                max_streams
            )
    if cp.http is not None and cp.http.use_client_protocol:
        opts.set_use_downstream()


def _apply_keepalive(c: cluster_pb2.Cluster, mesh: MeshConfig, cp: ConnectionPoolSettings) -> None:
    sources = [mesh.tcp_keepalive, cp.tcp.tcp_keepalive if cp.tcp else None]
    if not any(sources):
        return
    ka = c.upstream_connection_options.tcp_keepalive
    for k in sources:
        if k is None:
            continue
        ka.SetInParent()  # an empty tcp_keepalive still turns SO_KEEPALIVE on with OS defaults
        if k.probes:
            ka.keepalive_probes.value = k.probes
        if k.time:
            ka.keepalive_time.value = int(parse_duration(k.time))
        if k.interval:
            ka.keepalive_interval.value = int(parse_duration(k.interval))


def apply_h2_upgrade(
    opts: ClusterOptions, protocol: Protocol, mesh: MeshConfig, cp: ConnectionPoolSettings | None
) -> None:
    """``shouldH2Upgrade``: DR UPGRADE always; DO_NOT_UPGRADE never; else mesh policy for HTTP ports."""
    override = cp.http.h2_upgrade_policy if cp is not None and cp.http is not None else None
    if override == "UPGRADE":
        opts.set_h2()
        return
    if override == "DO_NOT_UPGRADE":
        return
    if protocol.is_http and mesh.h2_upgrade_policy == "UPGRADE":
        opts.set_h2()


def apply_outlier_detection(c: cluster_pb2.Cluster, od: OutlierDetection | None) -> None:
    if od is None:
        return
    out = outlier_detection_pb2.OutlierDetection()
    out.enforcing_success_rate.value = 0
    if od.consecutive_5xx_errors is not None:
        v = od.consecutive_5xx_errors
        out.consecutive_5xx.value = v
        out.enforcing_consecutive_5xx.value = 100 if v > 0 else 0
    if od.consecutive_gateway_errors is not None:
        v = od.consecutive_gateway_errors
        out.consecutive_gateway_failure.value = v
        out.enforcing_consecutive_gateway_failure.value = 100 if v > 0 else 0
    if od.interval:
        out.interval.CopyFrom(dur(od.interval))
    if od.base_ejection_time:
        out.base_ejection_time.CopyFrom(dur(od.base_ejection_time))
    if (od.max_ejection_percent or 0) > 0:
        out.max_ejection_percent.value = od.max_ejection_percent
    if od.split_external_local_origin_errors:
        out.split_external_local_origin_errors = True
        if (od.consecutive_local_origin_failures or 0) > 0:
            out.consecutive_local_origin_failure.value = od.consecutive_local_origin_failures
            out.enforcing_consecutive_local_origin_failure.value = 100
        out.enforcing_local_origin_success_rate.value = 0
    c.outlier_detection.CopyFrom(out)
    mhp = od.min_health_percent or 0
    if mhp >= 0:
        c.common_lb_config.healthy_panic_threshold.CopyFrom(percent_pb2.Percent(value=float(mhp)))


def _slow_start(lb: LoadBalancerSettings | None) -> cluster_pb2.Cluster.SlowStartConfig | None:
    if lb is None:
        return None
    window = lb.warmup.duration if lb.warmup and lb.warmup.duration else lb.warmup_duration_secs
    if not window:
        return None
    ss = cluster_pb2.Cluster.SlowStartConfig(slow_start_window=dur(window))
    if lb.warmup is not None:
        if lb.warmup.aggression is not None:
            ss.aggression.default_value = lb.warmup.aggression
            ss.aggression.runtime_key = "upstream.slow_start.aggression"
        if lb.warmup.minimum_percent is not None:
            ss.min_weight_percent.value = lb.warmup.minimum_percent
    return ss


def effective_locality_setting(mesh: MeshConfig, lb: LoadBalancerSettings | None) -> Any:
    """``GetLocalityLbSetting``: the DR's setting wins (unless it disables), else the mesh's."""
    dr = lb.locality_lb_setting if lb is not None else None
    if dr is not None:
        if dr.enabled is False:
            return None
        return dr
    ms = mesh.locality_lb_setting or _MESH_DEFAULT_LOCALITY  # Istio's mesh default: enabled
    if ms.enabled is False:
        return None
    return ms


def apply_load_balancer(c: cluster_pb2.Cluster, lb: LoadBalancerSettings | None, mesh: MeshConfig) -> None:
    """``applyLoadBalancer``: LEAST_REQUEST default, simple policies, warmup, consistent hash."""
    loc = effective_locality_setting(mesh, lb)
    if loc is not None and (
        loc.distribute or (c.HasField("outlier_detection") and (loc.failover or loc.failover_priority))
    ):
        c.common_lb_config.locality_weighted_lb_config.SetInParent()
    if c.type == cluster_pb2.Cluster.ORIGINAL_DST:
        c.lb_policy = cluster_pb2.Cluster.CLUSTER_PROVIDED
        return
    simple = lb.simple if lb is not None else None
    if simple in ("ROUND_ROBIN",):
        c.lb_policy = cluster_pb2.Cluster.ROUND_ROBIN
        ss = _slow_start(lb)
        if ss is not None:
            c.round_robin_lb_config.slow_start_config.CopyFrom(ss)
    elif simple == "RANDOM":
        c.lb_policy = cluster_pb2.Cluster.RANDOM
    elif simple == "PASSTHROUGH":
        c.lb_policy = cluster_pb2.Cluster.CLUSTER_PROVIDED
        c.type = cluster_pb2.Cluster.ORIGINAL_DST
        c.ClearField("load_assignment")
    else:  # LEAST_CONN, LEAST_REQUEST, UNSPECIFIED, unset
        c.lb_policy = cluster_pb2.Cluster.LEAST_REQUEST
        ss = _slow_start(lb)
        if ss is not None:
            c.least_request_lb_config.slow_start_config.CopyFrom(ss)
    ch = lb.consistent_hash if lb is not None else None
    if ch is None:
        return
    if ch.maglev is not None:
        c.lb_policy = cluster_pb2.Cluster.MAGLEV
        if ch.maglev.table_size:
            c.maglev_lb_config.table_size.value = ch.maglev.table_size
    elif ch.ring_hash is not None:
        c.lb_policy = cluster_pb2.Cluster.RING_HASH
        if ch.ring_hash.minimum_ring_size:
            c.ring_hash_lb_config.minimum_ring_size.value = ch.ring_hash.minimum_ring_size
    else:
        c.lb_policy = cluster_pb2.Cluster.RING_HASH
        c.ring_hash_lb_config.minimum_ring_size.value = ch.minimum_ring_size or 1024
