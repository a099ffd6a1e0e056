"""The traffic graph from configuration and traffic windows: nodes, badges, weights, health, views, exports."""

from __future__ import annotations

import io
import json
import shutil
import subprocess

import networkx as nx
import pytest
from conftest import BOOKINFO

from meshctl.graph import export, findhide
from meshctl.graph.build import build_graph
from meshctl.graph.health import DEGRADED, FAILURE, HEALTHY, IDLE, health_of
from meshctl.graph.stats import parse_cluster_name
from meshctl.graph.topology import topology_from_resources
from meshctl.graph.traffic import PASSTHROUGH, TrafficEdge, TrafficWindow
from meshctl.graph.views import view
from meshctl.sources import load_paths, load_text
from meshctl.tui.fixture import bookinfo_window


@pytest.fixture(scope="module")
def topo():
    return topology_from_resources(load_paths([str(BOOKINFO)]))


def test_cluster_names_parse_like_istio():
    c = parse_cluster_name("outbound|9080|v1|reviews.default.svc.cluster.local")
    assert (c.direction, c.port, c.subset, c.host) == ("outbound", 9080, "v1", "reviews.default.svc.cluster.local")
    assert parse_cluster_name("inbound|9080||").direction == "inbound"
    assert not parse_cluster_name("PassthroughCluster").is_service


@pytest.mark.parametrize(
    ("total", "codes", "want"),
    [
        (0, {}, IDLE),
        (100, {"2xx": 100}, HEALTHY),
        (100, {"2xx": 99.9, "5xx": 0.1}, DEGRADED),  # any 5xx degrades
        (100, {"2xx": 90, "5xx": 10}, FAILURE),  # >= 10 % 5xx fails
        (100, {"2xx": 91, "4xx": 9}, HEALTHY),  # 4xx below 10 % is fine
        (100, {"2xx": 90, "4xx": 10}, DEGRADED),
        (100, {"2xx": 80, "4xx": 20}, FAILURE),
        (100, {"2xx": 95, "0": 5}, DEGRADED),  # no response (UH/UO) counts like 5xx
    ],
)
def test_kiali_default_health_thresholds(total, codes, want):
    assert health_of(total, codes) == want


def test_config_graph_has_kiali_nodes_badges_and_route_weights(topo):
    g = build_graph(topo)
    assert g.nodes["svc:default/reviews"]["node_type"] == "service"
    assert g.nodes["se:books.example.com"]["node_type"] == "serviceentry"
    assert {"trafficshifting", "requestrouting", "virtualservice"} <= set(g.nodes["svc:default/reviews"]["badges"])
    assert {"circuitbreaker", "requesttimeout"} <= set(g.nodes["svc:default/ratings"]["badges"])
    assert g.nodes["wl:istio-system/istio-ingressgateway"]["is_gateway"]
    # VS reviews: catch-all rule v1 90 / v3 10; v2 only through the jason match rule.
    assert g.edges["svc:default/reviews", "wl:default/reviews-v1"]["weight"] == 90
    assert g.edges["svc:default/reviews", "wl:default/reviews-v3"]["weight"] == 10
    assert g.edges["svc:default/reviews", "wl:default/reviews-v2"]["weight"] is None
    assert g.edges["svc:default/reviews", "wl:default/reviews-v2"]["route_match"]
    # The gateway's VS routes to productpage.
    assert g.edges["wl:istio-system/istio-ingressgateway", "svc:default/productpage"]["configured"]
    # Without traffic everything is idle.
    assert all(d["health"] == IDLE for _, _, d in g.edges(data=True))


def test_traffic_overlay_rates_errors_latency_and_unexplained(topo):
    g = build_graph(topo, bookinfo_window(v3_errors=0.3))
    e = g.edges["svc:default/reviews", "wl:default/reviews-v3"]
    assert e["rps"] == pytest.approx(1.0)
    assert e["err5xx"] == pytest.approx(30.0)
    assert e["health"] == FAILURE
    assert e["latency_ms"]["p95"] == pytest.approx(30.0)
    assert g.edges["svc:default/reviews", "wl:default/reviews-v1"]["health"] == HEALTHY
    # productpage -> reviews aggregates both subsets: 3 % 5xx -> degraded.
    pr = g.edges["wl:default/productpage-v1", "svc:default/reviews"]
    assert pr["rps"] == pytest.approx(10.0) and pr["health"] == DEGRADED
    # PassthroughCluster traffic is shown, flagged and explained.
    pt = g.edges["wl:default/productpage-v1", PASSTHROUGH]
    assert pt["unexplained"] and "ServiceEntry" in pt["hints"][0]
    # The ingress gateway's callers are unknown: residual inbound becomes an unknown -> gateway edge.
    assert g.edges["unknown", "wl:istio-system/istio-ingressgateway"]["rps"] == pytest.approx(10.0)
    assert g.nodes["unknown"]["traffic_source"]
    assert g.nodes["wl:default/reviews-v2"]["idle"]


def test_traffic_to_unknown_host_and_undefined_subset_is_flagged(topo):
    w = TrafficWindow(1.0, edges=[
        TrafficEdge(("default", "productpage-v1"), "payments.shop.svc.cluster.local", rps=2, codes={"2xx": 2}),
        TrafficEdge(("default", "productpage-v1"), "reviews.default.svc.cluster.local", "v9", rps=1, codes={"5xx": 1},
                    flags={"UH": 1}),
    ])
    g = build_graph(topo, w)
    e = g.edges["wl:default/productpage-v1", "svc:shop/payments"]
    assert e["unexplained"] and "no Service or ServiceEntry" in e["hints"][0]
    assert not g.nodes["svc:shop/payments"]["in_config"]
    r = g.edges["wl:default/productpage-v1", "svc:default/reviews"]
    assert r["unexplained"] and any("subset v9" in h for h in r["hints"])
    assert any("UH" in h for h in r["hints"]) and r["health"] == FAILURE


def test_views_aggregate_consistently(topo):
    g = build_graph(topo, bookinfo_window())
    vapp = view(g, "versionedApp")
    assert vapp.edges["svc:default/reviews", "vapp:default/reviews/v1"]["rps"] == pytest.approx(9.0)
    app = view(g, "app")
    assert app.edges["svc:default/reviews", "app:default/reviews"]["rps"] == pytest.approx(10.0)
    assert app.edges["svc:default/reviews", "app:default/reviews"]["weight"] == 100  # 90 + 10 (+ match-only v2)
    svc = view(g, "service")
    assert svc.edges["svc:default/productpage", "svc:default/reviews"]["rps"] == pytest.approx(10.0)
    assert all(d["node_type"] != "workload" for n, d in svc.nodes(data=True) if n.startswith("svc:"))
    # Totals agree across views.
    total = sum(d["rps"] for *_, d in g.in_edges("svc:default/reviews", data=True))
    assert total == pytest.approx(sum(d["rps"] for *_, d in app.in_edges("svc:default/reviews", data=True)))
    with pytest.raises(ValueError):
        view(g, "bogus")


@pytest.mark.parametrize(
    ("expr", "nodes"),
    [
        ("name = reviews", {"svc:default/reviews"}),
        ("name ^= reviews-", {"wl:default/reviews-v1", "wl:default/reviews-v2", "wl:default/reviews-v3"}),
        ("app = reviews AND version != v1", {"wl:default/reviews-v2", "wl:default/reviews-v3"}),
        ("name $= -v3 OR name = details", {"wl:default/reviews-v3", "svc:default/details"}),
        ("ns = istio-system AND node = workload", {"wl:istio-system/istio-ingressgateway"}),
        ("trafficshifting", {"svc:default/reviews"}),
        ("cb", {"svc:default/ratings"}),
        ("httpin > 9.5 AND node = workload", {"wl:default/productpage-v1", "wl:default/details-v1",
                                               "wl:istio-system/istio-ingressgateway"}),
        ("label:version = v2", {"wl:default/reviews-v2"}),
        ("name contains ratings", {"svc:default/ratings", "wl:default/ratings-v1"}),
    ],
)
def test_find_node_expressions(topo, expr, nodes):
    g = build_graph(topo, bookinfo_window())
    found, edges = findhide.find(g, expr)
    assert found == nodes and not edges


def test_find_edge_expressions_and_hide_semantics(topo):
    g = build_graph(topo, bookinfo_window(v3_errors=0.5))
    _, edges = findhide.find(g, "%httperr > 10")
    assert ("svc:default/reviews", "wl:default/reviews-v3") in edges
    _, edges = findhide.find(g, "rt >= 30")
    assert ("wl:istio-system/istio-ingressgateway", "svc:default/productpage") in edges
    _, idle = findhide.find(g, "!traffic")
    assert ("svc:default/reviews", "wl:default/reviews-v2") in idle
    _, unexplained = findhide.find(g, "unexplained")
    assert unexplained == {("wl:default/productpage-v1", PASSTHROUGH)}
    # Hiding edges hides nodes left without visible edges (reviews-v2 had only the idle edge).
    h = findhide.hide(g, "!traffic")
    assert "wl:default/reviews-v2" not in h and "wl:default/reviews-v1" in h
    # Hiding a node hides its edges.
    h = findhide.hide(g, "ns = istio-system")
    assert not any("istio-system" in a or "istio-system" in b for a, b in h.edges)


@pytest.mark.parametrize(
    ("expr", "fragment"),
    [
        ("nme = x", "unknown operand"),
        ("name = reviews AND %httperr > 1", "mixes node and edge"),
        ("httpin > fast", "needs a number"),
        ("name > 3", "numeric"),
        ("fluffy", "not a unary operand"),
        ("", "empty"),
    ],
)
def test_find_expression_errors_are_clear(expr, fragment):
    from meshctl.errors import UsageError

    with pytest.raises(UsageError) as e:
        findhide.parse(expr)
    assert fragment in e.value.message and e.value.exit_code == 64


def test_exports_json_graphml_dot_roundtrip(topo):
    g = build_graph(topo, bookinfo_window())
    data = json.loads(export.to_json(g))
    h = nx.node_link_graph(data, edges="edges")
    assert set(h.nodes) == set(g.nodes) and set(h.edges) == set(g.edges)
    gm = nx.read_graphml(io.BytesIO(export.to_graphml(g).encode()))
    assert set(gm.nodes) == set(g.nodes)
    assert float(gm.edges["svc:default/reviews", "wl:default/reviews-v1"]["rps"]) == pytest.approx(9.0)
    dot = export.to_dot(g)
    assert '"svc:default/reviews" -> "wl:default/reviews-v1"' in dot and "9.0rps" in dot and "w90" in dot
    if shutil.which("dot"):
        # graphviz itself accepts it (no "port unrecognized" warnings: ids with ':' are quoted).
        out = subprocess.run(["dot", "-Tplain"], input=dot, capture_output=True, text=True, timeout=30)
        assert out.returncode == 0 and "unrecognized" not in out.stderr
        assert out.stdout.count("\nnode ") == g.number_of_nodes()


def test_weights_from_yaml_change_on_disk(tmp_path):
    """A LiveSource re-reads config files when they change: a new split shows on the next snapshot."""
    from meshctl.graph.source import LiveSource

    for f in BOOKINFO.iterdir():
        (tmp_path / f.name).write_text(f.read_text())
    src = LiveSource([str(tmp_path)])
    g = src.snapshot().graph
    assert g.edges["svc:default/reviews", "wl:default/reviews-v3"]["weight"] == 10
    text = (tmp_path / "routing.yaml").read_text().replace("weight: 90", "weight: 20").replace("weight: 10", "weight: 80")
    (tmp_path / "routing.yaml").write_text(text)
    import os
    import time

    os.utime(tmp_path / "routing.yaml", (time.time() + 5, time.time() + 5))
    g = src.snapshot().graph
    assert g.edges["svc:default/reviews", "wl:default/reviews-v3"]["weight"] == 80
    assert g.edges["svc:default/reviews", "wl:default/reviews-v1"]["weight"] == 20


def test_missing_sidecar_badge_and_hint():
    res = load_text(
        """
apiVersion: v1
kind: Service
metadata: {name: legacy, namespace: default}
spec: {selector: {app: legacy}, ports: [{port: 80, name: http}]}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: legacy-v1, namespace: default}
spec:
  template:
    metadata:
      labels: {app: legacy, version: v1}
      annotations: {sidecar.istio.io/inject: "false"}
""",
        "legacy.yaml",
    )
    g = build_graph(topology_from_resources(res))
    assert "missingsidecar" in g.nodes["wl:default/legacy-v1"]["badges"]
    assert findhide.find(g, "outofmesh")[0] == {"wl:default/legacy-v1"}
    assert g.edges["svc:default/legacy", "wl:default/legacy-v1"]["configured"]


def test_cli_graph_exports_and_find_hide(cli):
    code, out, err = cli(["graph", "-f", str(BOOKINFO), "-o", "json", "--find", "trafficshifting",
                          "--hide", "ns = istio-system"])
    assert code == 0, err
    data = json.loads(out)
    found = {n["id"] for n in data["nodes"] if n.get("found")}
    assert found == {"svc:default/reviews"}
    assert not any("istio-system" in n["id"] for n in data["nodes"])
    code, out, _ = cli(["graph", "-f", str(BOOKINFO), "-o", "graphml", "--type", "service"])
    assert code == 0 and out.startswith("<?xml") and "svc:default/reviews" in out
    code, out, _ = cli(["graph", "-f", str(BOOKINFO), "-o", "dot"])
    assert code == 0 and out.startswith("digraph meshctl {")


def test_cli_graph_errors_have_exit_codes(cli, monkeypatch, tmp_path):
    code, _, err = cli(["graph", "-f", str(BOOKINFO), "--hide", "name >> 3"])
    assert code == 64 and "find/hide expression" in err and "Traceback" not in err
    code, _, err = cli(["graph"])
    assert code == 64 and "nothing to graph" in err
    bad = tmp_path / "bad.yaml"
    bad.write_text("apiVersion: v1\nkind: Service\nmetadata: {name: x\n")
    code, _, err = cli(["graph", "-f", str(bad)])
    assert code == 65 and "bad.yaml" in err
    # svg/png need graphviz's dot: without it, a clear message, exit 69, and DOT/JSON still work
    monkeypatch.setenv("PATH", str(tmp_path))
    code, _, err = cli(["graph", "-f", str(BOOKINFO), "-o", "svg"])
    assert code == 69 and "graphviz 'dot' program is not installed" in err and "hint:" in err
    code, out, _ = cli(["graph", "-f", str(BOOKINFO), "-o", "dot"])
    assert code == 0 and out.startswith("digraph")


@pytest.mark.skipif(shutil.which("dot") is None, reason="graphviz 'dot' is not installed (the CI set-up installs it)")
def test_cli_graph_svg_png_with_dot(cli):
    code, out, err = cli(["graph", "-f", str(BOOKINFO), "-o", "svg"])
    assert code == 0 and "<svg" in out and "reviews" in out, err


def test_cli_graph_namespace_keeps_neighbours(cli):
    code, out, err = cli(["graph", "-f", str(BOOKINFO), "-n", "istio-system", "-o", "json"])
    assert code == 0, err
    ids = {n["id"] for n in json.loads(out)["nodes"]}
    assert "wl:istio-system/istio-ingressgateway" in ids
    assert "svc:default/productpage" in ids  # what the gateway talks to stays, as in Kiali
    assert "wl:default/ratings-v1" not in ids


def test_rank_and_protocol_operands(topo):
    g = build_graph(topo, bookinfo_window())
    top = findhide.find(g, "rank = 1")[0]
    assert top and all(g.in_degree(n) == max(g.in_degree(m) for m in g) for n in top)
    assert findhide.find(g, "grpcin > 0")[0] == set()  # every fixture edge is HTTP
    assert "svc:default/reviews" in findhide.find(g, "httpin >= 10")[0]


def test_without_service_nodes_splits_by_what_the_service_sent(topo):
    g = build_graph(topo, bookinfo_window())
    h = view(g, "workload", service_nodes=False)
    assert "svc:default/reviews" not in h and "svc:default/productpage" not in h
    e1 = h.edges["wl:default/productpage-v1", "wl:default/reviews-v1"]
    e3 = h.edges["wl:default/productpage-v1", "wl:default/reviews-v3"]
    assert e1["rps"] == pytest.approx(9.0) and e1["weight"] == 90 and e1["via"] == "reviews"
    assert e3["rps"] == pytest.approx(1.0) and e3["latency_ms"]["p95"] == pytest.approx(30.0)
    assert h.edges["wl:istio-system/istio-ingressgateway", "wl:default/productpage-v1"]["rps"] == pytest.approx(10.0)
    # nobody calls ratings' service in config-only terms? it is called by reviews-v3: folded too
    assert h.has_edge("wl:default/reviews-v3", "wl:default/ratings-v1")
    # terminal services stay: PassthroughCluster, the ServiceEntry nobody calls
    assert "PassthroughCluster" in h and "se:books.example.com" in h
    # totals agree with the service view of the same traffic
    assert sum(d["rps"] for *_, d in h.out_edges("wl:default/productpage-v1", data=True)) == pytest.approx(
        sum(d["rps"] for *_, d in g.out_edges("wl:default/productpage-v1", data=True)))
    vapp = view(g, "versionedApp", service_nodes=False)
    assert vapp.edges["vapp:default/productpage/v1", "vapp:default/reviews/v1"]["rps"] == pytest.approx(9.0)


def test_cli_no_service_nodes(cli):
    code, out, err = cli(["graph", "-f", str(BOOKINFO), "--no-service-nodes", "-o", "json"])
    assert code == 0, err
    ids = {n["id"] for n in json.loads(out)["nodes"]}
    # config only: nothing calls the services, so they stay (a config graph needs them to show routes)
    assert "svc:default/reviews" in ids


@pytest.mark.parametrize("expr", ["name = reviews AND", "name = reviews &&", "OR name = reviews", "name = reviews OR"])
def test_find_hide_rejects_dangling_operators(expr: str) -> None:
    from meshctl.errors import UsageError
    from meshctl.graph.findhide import parse

    with pytest.raises(UsageError, match="needs a term on both sides"):
        parse(expr)
