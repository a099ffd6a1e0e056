"""Envoy admin ``/stats?format=json`` -> per-cluster traffic counters, and deltas between two polls.

Why: the traffic graph works without Prometheus by reading each proxy's own counters, as Envoy keeps them
per upstream cluster. Istio names outbound clusters ``outbound|<port>|<subset>|<host>`` and inbound ones
``inbound|<port>||`` (older: ``inbound|<port>|<portname>|<host>``), so a cluster name tells the edge's
destination service, port and subset. Rates come from the delta of monotonic counters between two polls;
latency quantiles come from Envoy's own histogram summaries (``upstream_rq_time``).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

#: Envoy counters (per cluster) the graph reads; everything else in /stats is ignored.
_COUNTERS = (
    "upstream_rq_total",
    "upstream_rq_completed",
    "upstream_rq_1xx",
    "upstream_rq_2xx",
    "upstream_rq_3xx",
    "upstream_rq_4xx",
    "upstream_rq_5xx",
    "upstream_rq_timeout",
    "upstream_rq_retry",
    "upstream_rq_retry_success",
    "upstream_rq_retry_limit_exceeded",
    "upstream_rq_retry_overflow",
    "upstream_rq_pending_overflow",
    "upstream_rq_rx_reset",
    "upstream_rq_tx_reset",
    "upstream_cx_total",
    "upstream_cx_connect_fail",
    "upstream_cx_tx_bytes_total",
    "upstream_cx_rx_bytes_total",
    "upstream_cx_overflow",
    "upstream_cx_none_healthy",
    "upstream_rq_per_try_timeout",
    "outlier_detection.ejections_enforced_total",
)
_GAUGES = ("upstream_cx_active", "upstream_rq_active", "membership_healthy", "membership_total")
_HISTOGRAMS = ("upstream_rq_time",)
_QUANTILES = {"p50": 50.0, "p95": 95.0, "p99": 99.0}
_PER_CODE = re.compile(r"^upstream_rq_(\d{3})$")


@dataclass(frozen=True)
class ClusterName:
    """An Istio cluster name split into its parts (``direction|port|subset|host``)."""

    raw: str
    direction: str  # "outbound" | "inbound" | "" (not an Istio service cluster: PassthroughCluster, BlackHoleCluster, ...)
    port: int | None = None
    subset: str = ""
    host: str = ""

    @property
    def is_service(self) -> bool:
        return self.direction in ("outbound", "inbound")


def parse_cluster_name(name: str) -> ClusterName:
    """Parse ``outbound|9080|v1|reviews.default.svc.cluster.local`` (and inbound forms); others pass through.

    Istio sets each cluster's ``alt_stat_name`` to its name plus ``;`` (a delimiter for its stat tag
    extraction), so stats say ``outbound|9080||productpage.default.svc.cluster.local;``: the ``;`` is dropped.
    """
    name = name[:-1] if name.endswith(";") else name
    parts = name.split("|")
    if len(parts) == 4 and parts[0] in ("outbound", "inbound"):
        try:
            port: int | None = int(parts[1])
        except ValueError:
            port = None
        return ClusterName(name, parts[0], port, parts[2], parts[3])
    return ClusterName(name, "")


@dataclass
class ClusterStats:
    """One cluster's counters at one instant (cumulative since Envoy started) plus histogram quantiles (ms)."""

    cluster: ClusterName
    counters: dict[str, int] = field(default_factory=dict)
    gauges: dict[str, int] = field(default_factory=dict)
    #: response code -> count (``upstream_rq_200``, ``upstream_rq_503`` ...)
    codes: dict[int, int] = field(default_factory=dict)
    #: class ("5xx") -> count of attempts Envoy retried (``cluster.<c>.retry.upstream_rq_5xx``): Envoy charges a
    #: retried attempt's response code there, not in ``upstream_rq_5xx``, which holds final outcomes only
    retried: dict[str, int] = field(default_factory=dict)
    #: "p50"/"p95"/"p99" -> milliseconds; ``interval`` figures (last flush) when Envoy has them, else cumulative
    latency_ms: dict[str, float] = field(default_factory=dict)

    def get(self, name: str) -> int:
        return self.counters.get(name, 0)


@dataclass
class StatsSnapshot:
    """All clusters of one proxy at one instant."""

    taken_at: float
    clusters: dict[str, ClusterStats] = field(default_factory=dict)
    #: HTTP connection manager stats per stat prefix (``http.<prefix>.downstream_rq_2xx``, ``no_route`` ...)
    http: dict[str, dict[str, int]] = field(default_factory=dict)


_HCM_STATS = (
    "downstream_rq_total",
    "downstream_rq_1xx",
    "downstream_rq_2xx",
    "downstream_rq_3xx",
    "downstream_rq_4xx",
    "downstream_rq_5xx",
    "no_route",
    "no_cluster",
    "rq_direct_response",
)


_FAULT_STATS = ("aborts_injected", "delays_injected")


def _hcm_and_stat(stat_name: str) -> tuple[str, str] | None:
    """Split ``http.<prefix>.<stat>`` for the HCM/router stats the graph reads (prefixes contain dots)."""
    if not stat_name.startswith("http."):
        return None
    prefix, _, stat = stat_name[len("http.") :].rpartition(".")
    if stat in _FAULT_STATS and prefix.endswith(".fault"):  # the fault filter: http.<prefix>.fault.aborts_injected
        return prefix[: -len(".fault")], "fault." + stat
    if stat in _HCM_STATS and prefix and prefix != "admin":
        return prefix, stat
    return None


_CLUSTER_STAT = re.compile(
    r"^cluster\.(.+?)\.(external\.|internal\.|canary\.|retry\.)?((?:upstream_|outlier_detection\.|membership_|circuit_breakers\.).*)$")
_RETRY_CLASS = re.compile(r"^upstream_rq_([1-5]xx)$")


def _cluster_and_stat(stat_name: str) -> tuple[str, str] | None:
    """Split ``cluster.<name>.<stat>`` (cluster names contain dots: cut at the first stat head).

    Envoy repeats some request stats under ``external.``/``internal.``/``canary.``; those copies are dropped
    so nothing is counted twice. ``retry.upstream_rq_<class>`` (codes of attempts that were retried) comes
    back as ``retry:<class>``: without this the cluster name would swallow ``.retry`` and make a phantom host.
    """
    m = _CLUSTER_STAT.match(stat_name)
    if m is None:
        return None
    if m.group(2) == "retry.":
        rc = _RETRY_CLASS.match(m.group(3))
        return (m.group(1).removesuffix(";"), "retry:" + rc.group(1)) if rc else None
    if m.group(2):
        return None
    return m.group(1).removesuffix(";"), m.group(3)


def parse_stats_json(data: dict[str, Any] | str | bytes, taken_at: float = 0.0) -> StatsSnapshot:
    """Parse Envoy's ``/stats?format=json`` body into a :class:`StatsSnapshot` (cluster stats only)."""
    if isinstance(data, (str, bytes)):
        data = json.loads(data)
    assert isinstance(data, dict)
    snap = StatsSnapshot(taken_at=taken_at)

    def entry(cluster: str) -> ClusterStats:
        cs = snap.clusters.get(cluster)
        if cs is None:
            cs = snap.clusters[cluster] = ClusterStats(parse_cluster_name(cluster))
        return cs

    for item in data.get("stats", []):
        name = item.get("name")
        if name is None:
            if "histograms" in item:
                _parse_histograms(item["histograms"], entry)
            continue
        value = item.get("value")
        if not isinstance(value, int):
            continue
        split = _cluster_and_stat(name)
        if split is None:
            hcm = _hcm_and_stat(name)
            if hcm is not None:
                snap.http.setdefault(hcm[0], {})[hcm[1]] = value
            continue
        cluster, stat = split
        if stat.startswith("retry:"):
            entry(cluster).retried[stat[len("retry:"):]] = value
        elif stat in _COUNTERS:
            entry(cluster).counters[stat] = value
        elif stat in _GAUGES:
            entry(cluster).gauges[stat] = value
        else:
            m = _PER_CODE.match(stat)
            if m:
                entry(cluster).codes[int(m.group(1))] = value
    if "histograms" in data:  # some builds put it at top level
        _parse_histograms(data["histograms"], entry)
    return snap


def _parse_histograms(hist: dict[str, Any], entry: Any) -> None:
    supported = [float(q) for q in hist.get("supported_quantiles", [])]
    wanted = {k: supported.index(v) for k, v in _QUANTILES.items() if v in supported}
    for h in hist.get("computed_quantiles", []):
        split = _cluster_and_stat(h.get("name", ""))
        if split is None or split[1] not in _HISTOGRAMS:
            continue
        values = h.get("values", [])
        cs = entry(split[0])
        for label, i in wanted.items():
            if i >= len(values):
                continue
            v = values[i]
            pick = v.get("interval")
            if pick is None:
                pick = v.get("cumulative")
            if pick is not None:
                cs.latency_ms[label] = float(pick)


@dataclass
class ClusterDelta:
    """Traffic of one cluster between two polls: rates per second and latency quantiles."""

    cluster: ClusterName
    seconds: float
    requests: int
    rps: float
    codes: dict[str, int]  # "2xx"/"4xx"/"5xx"... -> count in the window
    code_detail: dict[int, int]  # 200/503/... -> count in the window
    err4xx: float  # fraction of requests (0..1)
    err5xx: float
    bytes_sent: int
    bytes_received: int
    cx_new: int
    latency_ms: dict[str, float]
    no_route_or_healthy: int = 0  # 503s with no healthy upstream (UH/NC)
    overflow: int = 0  # circuit breaker overflow (UO)
    connect_fail: int = 0  # upstream connection failures (UF)
    cx_active: int = 0
    #: upstream attempts (``upstream_rq_total``: every try, retries included); ``requests`` = attempts - retries
    attempts: int = 0
    retries: int = 0  # ``upstream_rq_retry``: each one follows a failed attempt
    retry_success: int = 0
    retry_limit_exceeded: int = 0  # requests that failed with retries left wanting (already in the final codes)
    retry_overflow: int = 0  # retries the circuit breaker / retry budget refused (already in the final codes)
    retried: dict[str, int] = field(default_factory=dict)  # class -> retried attempts' codes in the window

    @property
    def error_rate(self) -> float:
        return self.err4xx + self.err5xx

    @property
    def throughput_bps(self) -> float:
        return (self.bytes_sent + self.bytes_received) / self.seconds if self.seconds > 0 else 0.0


def delta(prev: ClusterStats | None, cur: ClusterStats, seconds: float) -> ClusterDelta:
    """Counters of ``cur`` minus ``prev`` (``prev`` None = since Envoy start) over ``seconds``.

    A counter that went down means Envoy restarted: the current value is the window's count.
    """

    def d(name: str) -> int:
        now = cur.get(name)
        before = prev.get(name) if prev is not None else 0
        return now - before if now >= before else now

    codes: dict[str, int] = {}
    for cls in ("1xx", "2xx", "3xx", "4xx", "5xx"):
        v = d(f"upstream_rq_{cls}")
        if v:
            codes[cls] = v
    detail: dict[int, int] = {}
    for code, now in cur.codes.items():
        before = prev.codes.get(code, 0) if prev is not None else 0
        v = now - before if now >= before else now
        if v:
            detail[code] = v
    retried: dict[str, int] = {}
    for cls, now in cur.retried.items():
        before = prev.retried.get(cls, 0) if prev is not None else 0
        v = now - before if now >= before else now
        if v:
            retried[cls] = v
    # upstream_rq_total counts attempts; each retry is one more attempt of the same request, so requests are
    # attempts minus retries (exact). The per-class codes (upstream_rq_5xx ...) hold each request's final
    # response only: Envoy charges retried attempts under retry.upstream_rq_*, so 5xx / requests is the
    # share of requests that finally failed. Local 503s (no healthy upstream, overflow) count in
    # upstream_rq_5xx only on some paths; the answered codes cover those.
    attempts = d("upstream_rq_total")
    retries = d("upstream_rq_retry")
    requests = max(attempts - retries, 0)
    answered = sum(codes.values())
    base = max(requests, answered)
    e4 = codes.get("4xx", 0) / base if base else 0.0
    e5 = codes.get("5xx", 0) / base if base else 0.0
    secs = seconds if seconds > 0 else 0.0
    return ClusterDelta(
        cluster=cur.cluster,
        seconds=secs,
        requests=base,
        rps=(base / secs) if secs else 0.0,
        codes=codes,
        code_detail=detail,
        err4xx=e4,
        err5xx=e5,
        bytes_sent=d("upstream_cx_tx_bytes_total"),
        bytes_received=d("upstream_cx_rx_bytes_total"),
        cx_new=d("upstream_cx_total"),
        latency_ms=dict(cur.latency_ms),
        no_route_or_healthy=d("upstream_cx_none_healthy"),
        overflow=d("upstream_rq_pending_overflow") + d("upstream_cx_overflow"),
        connect_fail=d("upstream_cx_connect_fail"),
        cx_active=cur.gauges.get("upstream_cx_active", 0),
        attempts=max(attempts, base),
        retries=retries,
        retry_success=d("upstream_rq_retry_success"),
        retry_limit_exceeded=d("upstream_rq_retry_limit_exceeded"),
        retry_overflow=d("upstream_rq_retry_overflow"),
        retried=retried,
    )


def diff_snapshots(prev: StatsSnapshot | None, cur: StatsSnapshot) -> dict[str, ClusterDelta]:
    """Per-cluster deltas between two snapshots of the same proxy."""
    seconds = cur.taken_at - prev.taken_at if prev is not None else 0.0
    out: dict[str, ClusterDelta] = {}
    for name, cs in cur.clusters.items():
        out[name] = delta(prev.clusters.get(name) if prev is not None else None, cs, seconds)
    return out
