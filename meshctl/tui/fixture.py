"""A deterministic data source: bookinfo config plus fixed traffic windows (for tests, snapshots, demos).

The numbers are plain fixtures, named as such: they exercise every rendering path (healthy, degraded and
failing edges, latency labels, PassthroughCluster, an unknown caller, weights) without any process running.
"""

from __future__ import annotations

from meshctl.graph.source import BOOKINFO, StaticSource
from meshctl.graph.traffic import PASSTHROUGH, TrafficEdge, TrafficWindow
from meshctl.sources import load_paths

_H = "default.svc.cluster.local"


def bookinfo_window(scale: float = 1.0, v3_errors: float = 0.0) -> TrafficWindow:
    """Ingress -> productpage -> details / reviews (v1 90 %, v3 10 %) -> ratings, plus an external call."""
    s = scale
    edges = [
        TrafficEdge(("istio-system", "istio-ingressgateway"), f"productpage.{_H}", rps=10 * s, codes={"2xx": 10 * s},
                    code_detail={"200": 10 * s}, latency_ms={"p50": 18.0, "p95": 42.0, "p99": 80.0}, bytes_per_s=9000 * s),
        TrafficEdge(("default", "productpage-v1"), f"details.{_H}", "v1", rps=10 * s, codes={"2xx": 10 * s},
                    code_detail={"200": 10 * s}, latency_ms={"p50": 2.0, "p95": 5.0, "p99": 9.0}),
        TrafficEdge(("default", "productpage-v1"), f"reviews.{_H}", "v1", rps=9 * s, codes={"2xx": 9 * s},
                    code_detail={"200": 9 * s}, latency_ms={"p50": 6.0, "p95": 14.0, "p99": 20.0}),
        TrafficEdge(("default", "productpage-v1"), f"reviews.{_H}", "v3", rps=1 * s,
                    codes={"2xx": (1 - v3_errors) * s, "5xx": v3_errors * s},
                    code_detail={"200": (1 - v3_errors) * s, "503": v3_errors * s}, latency_ms={"p50": 9.0, "p95": 30.0}),
        TrafficEdge(("default", "reviews-v3"), f"ratings.{_H}", "v1", rps=1 * s, codes={"2xx": 1 * s},
                    latency_ms={"p50": 1.0, "p95": 3.0}),
        TrafficEdge(("default", "productpage-v1"), PASSTHROUGH, rps=0.5 * s, codes={"2xx": 0.5 * s}),
    ]
    return TrafficWindow(
        seconds=1.0,
        edges=edges,
        inbound={("istio-system", "istio-ingressgateway"): 10 * s, ("default", "productpage-v1"): 10 * s},
        inbound_codes={("istio-system", "istio-ingressgateway"): {"2xx": 10 * s}},
        measured={("istio-system", "istio-ingressgateway"), ("default", "productpage-v1")},
    )


def bookinfo_source(v3_errors: float = 0.3) -> StaticSource:
    """Bookinfo with two windows: steady traffic, then the same with ``v3_errors`` of reviews-v3 failing."""
    resources = load_paths([BOOKINFO])
    return StaticSource(resources, [bookinfo_window(), bookinfo_window(v3_errors=v3_errors)], description="fixture")
