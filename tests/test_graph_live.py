"""The live path against real Envoys: /stats counters -> per-edge rates, errors, latency -> graph and CLI.

The bed (meshctl.graph.testbed) is two real Envoys with static bootstraps (an ingress gateway and
productpage's sidecar, Istio cluster names and node ids) in front of small Python services.
"""

from __future__ import annotations

import json
import time

import pytest
from conftest import BOOKINFO

from meshctl.graph.build import build_graph
from meshctl.graph.envoy_source import StatsPoller, fetch_stats, target_from_admin
from meshctl.graph.health import FAILURE
from meshctl.graph.testbed import start_bed
from meshctl.graph.topology import topology_from_resources
from meshctl.graph.traffic import PASSTHROUGH
from meshctl.sources import load_paths

pytestmark = [pytest.mark.envoy, pytest.mark.timeout(120)]

WEIGHTS = {"v1": 50, "v2": 30, "v3": 20}


@pytest.fixture(scope="module")
def bed():
    with start_bed(WEIGHTS, reviews_error_rate={"v3": 0.5}) as b:
        yield b


@pytest.fixture(scope="module")
def window(bed):
    poller = StatsPoller(bed.targets)
    poller.poll()
    assert bed.load(300, concurrency=6) == 300
    time.sleep(1.2)  # one stats flush (1 s in the bed) so histogram quantiles cover the load
    return poller.poll()


def test_admin_url_identifies_the_proxy(bed):
    t = target_from_admin(bed.targets[0].admin_url)
    assert (t.namespace, t.workload, t.kind) == ("default", "productpage-v1", "sidecar")
    gw = target_from_admin(bed.targets[1].admin_url)
    assert (gw.namespace, gw.workload, gw.kind) == ("istio-system", "istio-ingressgateway", "router")


def test_stats_parse_real_envoy_counters(bed, window):
    snap = fetch_stats(bed.targets[0].admin_url)
    name = "outbound|9080|v1|reviews.default.svc.cluster.local"
    assert name in snap.clusters
    cs = snap.clusters[name]
    assert cs.cluster.subset == "v1" and cs.get("upstream_rq_total") > 0
    assert cs.codes.get(200, 0) == cs.get("upstream_rq_2xx")
    assert "inbound|9080||" in snap.clusters
    assert any(s.get("downstream_rq_total", 0) > 0 for s in snap.http.values())


def test_rates_match_route_weights(window):
    reviews = {e.dest_subset: e for e in window.edges if e.dest_host.startswith("reviews.")}
    total = sum(e.rps for e in reviews.values())
    assert total > 0
    for subset, w in WEIGHTS.items():
        share = 100.0 * reviews[subset].rps / total
        assert abs(share - w) < 10, f"{subset}: {share:.1f}% vs weight {w}%"
    # every productpage request made one reviews call: 300 requests in the window (a retried 503 from v3
    # may add an attempt or two, never fewer)
    assert 299 <= sum(e.rps for e in reviews.values()) * window.seconds <= 306


def test_errors_latency_and_passthrough_in_the_graph(window):
    topo = topology_from_resources(load_paths([str(BOOKINFO)]))
    g = build_graph(topo, window)
    v3 = g.edges["svc:default/reviews", "wl:default/reviews-v3"]
    assert 25 < v3["err5xx"] < 75 and v3["health"] == FAILURE
    assert v3["code_detail"].get("503", 0) > 0
    v1 = g.edges["svc:default/reviews", "wl:default/reviews-v1"]
    assert v1["err5xx"] == 0 and v1["health"] == "healthy"
    lat = g.edges["wl:default/productpage-v1", "svc:default/details"]["latency_ms"]
    assert set(lat) == {"p50", "p95", "p99"} and 0 < lat["p50"] <= lat["p95"] <= lat["p99"]
    pt = g.edges["wl:default/productpage-v1", PASSTHROUGH]
    assert pt["rps"] > 0 and pt["unexplained"]
    # gateway -> productpage: the gateway's own outbound counters
    gp = g.edges["wl:istio-system/istio-ingressgateway", "svc:default/productpage"]
    assert 299 <= gp["rps"] * window.seconds <= 303
    # callers of the gateway are outside the mesh: the unknown node
    assert g.edges["unknown", "wl:istio-system/istio-ingressgateway"]["rps"] == pytest.approx(gp["rps"], rel=0.05)
    # productpage's inbound is fully explained by the gateway: no unknown -> productpage edge
    assert not g.has_edge("unknown", "wl:default/productpage-v1")


def test_cli_graph_from_admin_urls(bed, cli):
    import threading

    t = threading.Thread(target=bed.load, args=(120, 3))
    t.start()
    args = ["graph", "-f", str(BOOKINFO), "--interval", "1.5", "-o", "json", "--type", "versionedApp"]
    for target in bed.targets:
        args += ["--admin", target.admin_url]
    code, out, err = cli(args)
    t.join()
    assert code == 0, err
    data = json.loads(out)
    edges = {(e["source"], e["target"]): e for e in data["edges"]}
    e = edges[("vapp:default/productpage/v1", "svc:default/reviews")]
    assert e["rps"] > 0 and e["traffic"]
    assert edges[("svc:default/reviews", "vapp:default/reviews/v1")]["rps"] > 0


def test_cli_graph_unreachable_admin_is_exit_69(cli, free_port):
    code, _, err = cli(["graph", "-f", str(BOOKINFO), "--admin", f"http://127.0.0.1:{free_port}"])
    assert code == 69 and "cannot reach Envoy admin" in err


def test_no_route_and_missing_cluster_show_on_the_node(bed):
    """404 NR (no route) and 503 NC (cluster not found) have no destination: they are hints on the caller."""
    import urllib.error
    import urllib.request

    poller = StatsPoller(bed.targets, window=0)
    poller.poll()
    codes = []
    for host, path in (("ratings", "/nope"), ("ratings", "/nope"), ("missing", "/")):
        req = urllib.request.Request(bed.sidecar_url + path, headers={"Host": host})
        try:
            urllib.request.urlopen(req, timeout=5)
        except urllib.error.HTTPError as e:
            codes.append(e.code)
    assert codes == [404, 404, 503]
    w = poller.poll()
    flags = w.node_flags[("default", "productpage-v1")]
    # rates over this proxy's own poll interval (w.seconds is the longest over all proxies, polled apart)
    assert flags["NR"] / flags["NC"] == pytest.approx(2)
    assert flags["NC"] * w.seconds >= 0.99
    g = build_graph(topology_from_resources(load_paths([str(BOOKINFO)])), w)
    hints = " ".join(g.nodes["wl:default/productpage-v1"]["hints"])
    assert "404 NR (no route)" in hints and "503 NC (cluster not found)" in hints
