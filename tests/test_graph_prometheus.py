"""``--prometheus``: Kiali-style PromQL against a tiny FAKE Prometheus HTTP server run here on loopback.

The fake answers ``/api/v1/query`` with instant vectors shaped like Prometheus's (status/data/resultType/
result with metric labels and [ts, "value"]); it checks which queries meshctl sends. It is not Prometheus:
it does not evaluate PromQL, it picks canned series by the metric name and labels in the query.
"""

from __future__ import annotations

import json
import threading
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from conftest import BOOKINFO

from meshctl.graph.build import build_graph
from meshctl.graph.prometheus import window_from_prometheus
from meshctl.graph.topology import topology_from_resources
from meshctl.sources import load_paths


def _series(labels: dict[str, str], value: float) -> dict:
    return {"metric": labels, "value": [1700000000.0, str(value)]}


def _req(src: tuple[str, str] | None, svc: str, dst: tuple[str, str] | None, code: str, rps: float, flags: str = "-") -> dict:
    labels = {
        "source_workload_namespace": src[0] if src else "unknown",
        "source_workload": src[1] if src else "unknown",
        "destination_service": svc,
        "destination_service_name": svc.split(".")[0],
        "destination_service_namespace": svc.split(".")[1] if ".svc." in svc else "unknown",
        "destination_workload_namespace": dst[0] if dst else "unknown",
        "destination_workload": dst[1] if dst else "unknown",
        "request_protocol": "http",
        "response_code": code,
        "response_flags": flags,
    }
    return _series(labels, rps)


PP = ("default", "productpage-v1")
H = "default.svc.cluster.local"
SOURCE = [
    _req(("istio-system", "istio-ingressgateway"), f"productpage.{H}", PP, "200", 5.0),
    _req(PP, f"reviews.{H}", ("default", "reviews-v1"), "200", 4.0),
    _req(PP, f"reviews.{H}", ("default", "reviews-v3"), "200", 0.5),
    _req(PP, f"reviews.{H}", ("default", "reviews-v3"), "503", 0.5, "UH"),
    _req(PP, "PassthroughCluster", None, "200", 0.25),
]
UNKNOWN = [_req(None, f"productpage.{H}", PP, "200", 1.0)]
P95 = [_series({"source_workload_namespace": "default", "source_workload": "productpage-v1",
                "destination_service": f"reviews.{H}", "destination_workload_namespace": "default",
                "destination_workload": "reviews-v1"}, 17.5)]


class FakeProm(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.queries: list[str] = []


class _Handler(BaseHTTPRequestHandler):
    server: FakeProm

    def log_message(self, *a: object) -> None:
        pass

    def do_GET(self) -> None:  # noqa: N802
        url = urllib.parse.urlparse(self.path)
        if url.path != "/api/v1/query":
            self.send_error(404)
            return
        q = urllib.parse.parse_qs(url.query)["query"][0]
        self.server.queries.append(q)
        if "histogram_quantile(0.95" in q:
            result = P95
        elif "histogram_quantile" in q or "istio_tcp" in q:
            result = []
        elif 'reporter="destination"' in q:
            result = UNKNOWN
        elif 'istio_requests_total{reporter="source"}' in q:
            result = SOURCE
        else:
            result = []
        body = json.dumps({"status": "success", "data": {"resultType": "vector", "result": result}}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


@pytest.fixture
def prom():
    srv = FakeProm()
    t = threading.Thread(target=srv.serve_forever, daemon=True)
    t.start()
    yield srv
    srv.shutdown()
    srv.server_close()


def test_queries_are_kiali_shaped_and_edges_follow(prom):
    url = f"http://127.0.0.1:{prom.server_address[1]}"
    w = window_from_prometheus(url, "2m")
    assert any(q.startswith('sum(rate(istio_requests_total{reporter="source"}[2m])) by (') for q in prom.queries)
    assert any('source_workload="unknown"' in q for q in prom.queries)
    assert any(q.startswith("histogram_quantile(0.99,") and "istio_request_duration_milliseconds_bucket" in q
               for q in prom.queries)
    g = build_graph(topology_from_resources(load_paths([str(BOOKINFO)])), w)
    v3 = g.edges["svc:default/reviews", "wl:default/reviews-v3"]
    assert v3["rps"] == pytest.approx(1.0) and v3["err5xx"] == pytest.approx(50.0) and v3["health"] == "failure"
    assert v3["flags"]["UH"] == pytest.approx(0.5)
    assert g.edges["wl:default/productpage-v1", "svc:default/reviews"]["rps"] == pytest.approx(5.0)
    assert g.edges["svc:default/reviews", "wl:default/reviews-v1"]["latency_ms"]["p95"] == pytest.approx(17.5)
    assert g.edges["unknown", "svc:default/productpage"]["rps"] == pytest.approx(1.0)
    assert g.edges["wl:default/productpage-v1", "PassthroughCluster"]["unexplained"]


def test_cli_graph_with_prometheus(prom, cli):
    url = f"http://127.0.0.1:{prom.server_address[1]}"
    code, out, err = cli(["graph", "-f", str(BOOKINFO), "--prometheus", url, "--window", "5m", "--type", "app",
                          "-o", "json"])
    assert code == 0, err
    assert prom.queries and all("[5m]" in q for q in prom.queries if "rate(" in q)  # --window reaches the queries
    edges = {(e["source"], e["target"]): e for e in json.loads(out)["edges"]}
    assert edges[("svc:default/reviews", "app:default/reviews")]["rps"] == pytest.approx(5.0)


def test_cli_unreachable_prometheus_is_exit_69_naming_the_url(cli, free_port):
    url = f"http://127.0.0.1:{free_port}"
    code, out, err = cli(["graph", "-f", str(BOOKINFO), "--prometheus", url, "-o", "json"])
    # The one traffic source asked for gave nothing: exit 69 naming it (an empty graph would read as "idle").
    assert code == 69 and url in err and "cannot query Prometheus" in err and not out


def test_cli_bad_window_is_a_usage_error(cli):
    code, _, err = cli(["graph", "-f", str(BOOKINFO), "--prometheus", "http://127.0.0.1:1", "--window", "5x"])
    assert code == 64 and "--window" in err
