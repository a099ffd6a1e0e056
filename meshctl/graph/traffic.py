"""Observed traffic, independent of where it was measured (Envoy admin stats or Prometheus).

Both live sources reduce to a :class:`TrafficWindow`: edges "this workload sent this much to that host
(and subset / workload)" over one window, plus each measured workload's total inbound rate, which lets the
graph show callers it cannot name (Kiali's ``unknown`` node) instead of hiding their traffic.
"""

from __future__ import annotations

from dataclasses import dataclass, field

PASSTHROUGH = "PassthroughCluster"
BLACKHOLE = "BlackHoleCluster"


@dataclass
class TrafficEdge:
    """Traffic from one workload (or an unknown caller) to one destination host over one window."""

    source: tuple[str, str] | None  # (namespace, workload); None = unknown caller
    dest_host: str  # FQDN, ServiceEntry host, PassthroughCluster or BlackHoleCluster
    dest_subset: str = ""
    dest_port: int | None = None
    dest_workload: tuple[str, str] | None = None  # known when the reporter names it (Prometheus)
    protocol: str = "http"  # http | grpc | tcp
    rps: float = 0.0
    codes: dict[str, float] = field(default_factory=dict)  # "2xx"/"4xx"/"5xx"/"0" -> requests per second
    code_detail: dict[str, float] = field(default_factory=dict)  # "200"/"503"... -> rps
    latency_ms: dict[str, float] = field(default_factory=dict)  # p50/p95/p99
    bytes_per_s: float = 0.0
    flags: dict[str, float] = field(default_factory=dict)  # Envoy response flags (UH, UO, NR, NC ...) -> rps
    #: upstream tries per second, retries included (``rps`` counts each request once); None = the source only
    #: knows requests (Prometheus' istio_requests_total counts requests, not tries)
    attempts_rps: float | None = None
    retries_rps: float = 0.0  # retries per second (each follows a failed attempt)
    retried_codes: dict[str, float] = field(default_factory=dict)  # class -> rps of failed attempts that were retried
    #: answered by the caller's own proxy (fault injection abort): never reached a destination workload
    local: bool = False
    fault: str = ""  # "exact" when injected faults were attributed to this destination


@dataclass
class TrafficWindow:
    """Everything one poll (or Prometheus query) saw."""

    seconds: float
    edges: list[TrafficEdge] = field(default_factory=list)
    #: (namespace, workload) -> inbound requests per second measured at that workload's own proxy
    inbound: dict[tuple[str, str], float] = field(default_factory=dict)
    inbound_codes: dict[tuple[str, str], dict[str, float]] = field(default_factory=dict)
    #: workloads whose proxies answered (others are "not measured", not "idle")
    measured: set[tuple[str, str]] = field(default_factory=set)
    errors: dict[str, str] = field(default_factory=dict)  # proxy/admin URL -> why it could not be read
    #: (namespace, workload) -> response flags raised at that proxy with no upstream (NR: no route) -> rps
    node_flags: dict[tuple[str, str], dict[str, float]] = field(default_factory=dict)
    #: (namespace, workload) -> class -> rps of fault aborts its proxy injected that no single destination explains
    node_codes: dict[tuple[str, str], dict[str, float]] = field(default_factory=dict)
    #: (namespace, workload) -> destination hosts whose routes inject faults there (for unattributed aborts)
    fault_hosts: dict[tuple[str, str], set[str]] = field(default_factory=dict)
