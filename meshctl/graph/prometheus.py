"""Live traffic from Prometheus, queried the way Kiali does (``istio_requests_total`` & co.).

Why both this and direct scraping: big meshes already have Prometheus with history; small and test meshes
may not. The queries follow Kiali's (``graph/telemetry/istio/istio.go``): ``sum(rate(metric[window])) by
(source/destination workload labels, response_code, response_flags)``, ``reporter="source"`` for mesh
callers and ``reporter="destination"`` for callers outside the mesh (``source_workload="unknown"``);
response times from ``histogram_quantile`` over ``istio_request_duration_milliseconds_bucket``.
"""

from __future__ import annotations

import json
import time
import urllib.parse
import urllib.request
from typing import Any

from meshctl.errors import InputError, UnavailableError
from meshctl.graph.traffic import BLACKHOLE, PASSTHROUGH, TrafficEdge, TrafficWindow

_GROUP = (
    "source_workload_namespace,source_workload,source_canonical_service,source_canonical_revision,"
    "destination_service_namespace,destination_service,destination_service_name,"
    "destination_workload_namespace,destination_workload,request_protocol,response_code,response_flags"
)
_LAT_GROUP = "le,source_workload_namespace,source_workload,destination_service,destination_workload_namespace,destination_workload"


def queries(window: str = "1m") -> dict[str, str]:
    """The PromQL this source sends (also shown by ``--verbose`` and the docs)."""
    req = f'sum(rate(istio_requests_total{{reporter="{{r}}"{{x}}}}[{window}])) by ({_GROUP})'
    out = {
        "requests": req.replace("{r}", "source").replace("{x}", ""),
        "requests_unknown": req.replace("{r}", "destination").replace("{x}", ',source_workload="unknown"'),
        "tcp": f'sum(rate(istio_tcp_sent_bytes_total{{reporter="source"}}[{window}]) + '
        f'rate(istio_tcp_received_bytes_total{{reporter="source"}}[{window}])) by ({_GROUP})',
    }
    for q in ("0.5", "0.95", "0.99"):
        out[f"rt{q}"] = (
            f"histogram_quantile({q}, sum(rate(istio_request_duration_milliseconds_bucket"
            f'{{reporter="source"}}[{window}])) by ({_LAT_GROUP}))'
        )
    return out


def query(base_url: str, promql: str, timeout: float = 5.0, at: float | None = None) -> list[dict[str, Any]]:
    """Run one instant query against ``/api/v1/query``; returns the result vector."""
    params = {"query": promql}
    if at is not None:
        params["time"] = f"{at:.3f}"
    url = base_url.rstrip("/") + "/api/v1/query?" + urllib.parse.urlencode(params)
    try:
        with urllib.request.urlopen(url, timeout=timeout) as r:  # noqa: S310 - user-given Prometheus URL
            body = json.loads(r.read())
    except urllib.error.HTTPError as e:
        detail = e.read().decode(errors="replace")[:300]
        raise UnavailableError(f"Prometheus {base_url} answered {e.code}: {detail}") from e
    except (OSError, ValueError) as e:
        raise UnavailableError(f"cannot query Prometheus at {base_url}: {e}",
                               hints=["check --prometheus URL (e.g. kubectl -n istio-system port-forward svc/prometheus 9090)"]) from e
    if body.get("status") != "success":
        raise InputError(f"Prometheus query failed: {body.get('errorType', '')} {body.get('error', '')}".strip())
    data = body.get("data") or {}
    if data.get("resultType") != "vector":
        raise InputError(f"Prometheus returned {data.get('resultType')!r}, expected an instant vector")
    return list(data.get("result") or [])


def _value(sample: dict[str, Any]) -> float:
    try:
        v = float(sample["value"][1])
    except (KeyError, IndexError, TypeError, ValueError):
        return 0.0
    return v if v == v else 0.0  # NaN -> 0


def _known(v: str | None) -> bool:
    return bool(v) and v != "unknown"


def _dest(m: dict[str, str]) -> tuple[str, tuple[str, str] | None]:
    """Destination host (Istio reports PassthroughCluster/BlackHoleCluster as the service name) and workload."""
    name = m.get("destination_service_name") or ""
    host = name if name in (PASSTHROUGH, BLACKHOLE) else (m.get("destination_service") or name or "unknown")
    wl, wns = m.get("destination_workload") or "", m.get("destination_workload_namespace") or ""
    return host, ((wns, wl) if _known(wl) and _known(wns) else None)


def window_from_prometheus(base_url: str, window: str = "1m", namespaces: set[str] | None = None,
                           timeout: float = 5.0) -> TrafficWindow:
    """Query Prometheus and reduce the series to a :class:`TrafficWindow`."""
    qs = queries(window)
    at = time.time()
    edges: dict[tuple[Any, ...], TrafficEdge] = {}
    out = TrafficWindow(seconds=_seconds(window))

    def edge_for(m: dict[str, str], protocol: str) -> TrafficEdge | None:
        src_ns, src_wl = m.get("source_workload_namespace"), m.get("source_workload")
        source = (src_ns, src_wl) if _known(src_wl) and _known(src_ns) else None
        host, dest_wl = _dest(m)
        if namespaces and not ({(source or ("", ""))[0], m.get("destination_service_namespace", ""),
                                (dest_wl or ("", ""))[0]} & namespaces):
            return None
        key = (source, host, dest_wl, protocol)
        e = edges.get(key)
        if e is None:
            e = edges[key] = TrafficEdge(source=source, dest_host=host, dest_workload=dest_wl, protocol=protocol)  # type: ignore[arg-type]
        return e

    for name in ("requests", "requests_unknown"):
        for s in query(base_url, qs[name], timeout, at):
            m = s.get("metric") or {}
            rps = _value(s)
            proto = "grpc" if m.get("request_protocol") == "grpc" else "http"
            e = edge_for(m, proto)
            if e is None:
                continue
            code = str(m.get("response_code") or "0")
            cls = "0" if code in ("0", "-") else f"{code[0]}xx"
            e.rps += rps
            e.codes[cls] = e.codes.get(cls, 0.0) + rps
            e.code_detail[code] = e.code_detail.get(code, 0.0) + rps
            flags = m.get("response_flags") or "-"
            if flags != "-":
                for f in flags.split(","):
                    e.flags[f] = e.flags.get(f, 0.0) + rps
            if e.dest_workload is not None:
                out.measured.add(e.dest_workload)
    for s in query(base_url, qs["tcp"], timeout, at):
        m = s.get("metric") or {}
        e = edge_for(m, "tcp")
        if e is not None:
            e.bytes_per_s += _value(s)
    for label, q in (("p50", "rt0.5"), ("p95", "rt0.95"), ("p99", "rt0.99")):
        for s in query(base_url, qs[q], timeout, at):
            m = s.get("metric") or {}
            host, dest_wl = _dest(m)
            src = (m.get("source_workload_namespace"), m.get("source_workload"))
            source = src if _known(src[1]) and _known(src[0]) else None
            for proto in ("http", "grpc"):
                e = edges.get((source, host, dest_wl, proto))
                if e is not None:
                    e.latency_ms[label] = _value(s)
    out.edges = [e for e in edges.values() if e.rps > 0 or e.bytes_per_s > 0]
    for e in out.edges:
        if e.source is not None:
            out.measured.add(e.source)
    return out


def _seconds(window: str) -> float:
    units = {"s": 1, "m": 60, "h": 3600}
    try:
        return float(window[:-1]) * units[window[-1]]
    except (KeyError, ValueError, IndexError):
        return 60.0
