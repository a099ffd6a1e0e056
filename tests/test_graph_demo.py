"""The graph and the TUI on the real demo mesh (``meshctl demo``: 7 real Envoys fed by meshctl's xDS server).

Load enters through the ingress gateway (as a user's browser would), the graph is read from the proxies'
admin /stats, and the edges productpage -> reviews carry rates that follow the VirtualService weights;
``meshctl demo apply`` shifting reviews to v3 shows up in the graph's weights and rates, and in a running TUI,
within seconds; a fault applied to ratings shows up as its badge (nodes and badges come from what the demo
serves, not from the bundled files).
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from behaviour.harness import free_subnet
from conftest import BOOKINFO, ROOT, run_cli

from meshctl.demo.launch import demo_process
from meshctl.demo.loadgen import fetch
from meshctl.errors import UnavailableError
from meshctl.graph.source import make_source

pytestmark = [pytest.mark.envoy, pytest.mark.slow, pytest.mark.timeout(240)]
CHANGES = ROOT / "meshctl" / "examples" / "bookinfo-changes"


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    status = tmp_path_factory.mktemp("gdemo") / "demo.json"
    args = ["--subnet", str(free_subnet()), "--no-load", "--log-level", "error", "--ready-timeout", "60"]
    try:
        with demo_process(status, args) as running:
            yield {**running.info, "status_file": str(status)}
    except UnavailableError as e:
        pytest.fail(str(e))


def ingress_load(info: dict[str, Any], n: int) -> int:
    """``n`` product pages through the ingress gateway; returns how many answered 200."""

    def one(_: int) -> int:
        return fetch(info["ingress_url"], timeout=10)[0]

    with ThreadPoolExecutor(4) as pool:
        return sum(1 for s in pool.map(one, range(n)) if s == 200)


def reviews_split(g: Any) -> dict[str, float]:
    return {b.rsplit("/", 1)[1]: e["rps"] for _, b, e in g.out_edges("svc:default/reviews", data=True)}


def test_graph_rates_follow_weights_then_live_apply(demo: dict[str, Any]) -> None:
    src = make_source(demo=True, status_file=demo["status_file"])
    assert src.poller is not None
    src.poller.window = 0  # each snapshot covers exactly the time since the previous one (no smoothing)
    src.prime()
    assert ingress_load(demo, 200) == 200
    snap = src.snapshot()
    assert not snap.errors
    g = snap.graph
    pr = g.edges["wl:default/productpage-v1", "svc:default/reviews"]
    assert pr["rps"] > 0 and pr["health"] == "healthy"
    split = reviews_split(g)
    total = sum(split.values())
    assert total * snap.window.seconds == pytest.approx(200, rel=0.1)  # proxies are polled a few ms apart
    assert 100 * split["reviews-v1"] / total == pytest.approx(90, abs=7)
    assert 100 * split["reviews-v3"] / total == pytest.approx(10, abs=7)
    assert split.get("reviews-v2", 0) == 0
    # weights on the graph are the proxies' own (RDS weighted_clusters)
    assert g.edges["svc:default/reviews", "wl:default/reviews-v1"]["weight"] == 90
    assert g.edges["svc:default/reviews", "wl:default/reviews-v1"]["weight_source"] == "proxy"
    # the gateway is productpage's caller; the gateway's own callers are outside the mesh (Kiali's `unknown`)
    gw = g.edges["wl:istio-system/istio-ingressgateway", "svc:default/productpage"]
    assert gw["rps"] * snap.window.seconds == pytest.approx(200, rel=0.1)
    assert set(g.successors("unknown")) == {"wl:istio-system/istio-ingressgateway"}  # callers outside the mesh

    code, out, err = run_cli(["demo", "apply", "--status-file", demo["status_file"], str(CHANGES / "reviews-v3.yaml")])
    assert code == 0, err
    src.snapshot()  # start a fresh window after the change
    assert ingress_load(demo, 60) == 60
    g = src.snapshot().graph
    assert g.edges["svc:default/reviews", "wl:default/reviews-v3"]["weight"] == 100
    # the graph's config is what the demo runs on now: the applied VS routes only to v3
    assert not g.has_edge("svc:default/reviews", "wl:default/reviews-v1")
    split = reviews_split(g)
    assert split["reviews-v3"] > 0 and split.get("reviews-v1", 0) == 0


def test_cli_graph_demo_json(demo: dict[str, Any]) -> None:
    import threading

    t = threading.Thread(target=ingress_load, args=(demo, 40))
    t.start()
    code, out, err = run_cli(["graph", "--demo", "--status-file", demo["status_file"], "--interval", "1.5",
                              "--type", "versionedApp", "-o", "json"])
    t.join()
    assert code == 0, err
    data = json.loads(out)
    edges = {(e["source"], e["target"]): e for e in data["edges"]}
    assert edges[("vapp:default/productpage/v1", "svc:default/reviews")]["rps"] > 0


def test_badges_follow_applied_config(demo: dict[str, Any]) -> None:
    """A fault applied to the running demo appears as ratings' badge, in a long-lived source (as the TUI
    holds one) and in ``meshctl graph --demo``; re-applying the original routing takes it away again."""
    sf = demo["status_file"]
    src = make_source(demo=True, status_file=sf)
    assert "faultinjection" not in src.snapshot().graph.nodes["svc:default/ratings"]["badges"]
    code, _, err = run_cli(["demo", "apply", "--status-file", sf, str(CHANGES / "ratings-fault-jason.yaml")])
    assert code == 0, err
    assert "faultinjection" in src.snapshot().graph.nodes["svc:default/ratings"]["badges"]
    code, out, err = run_cli(["graph", "--demo", "--status-file", sf, "--interval", "0.1", "-o", "json"])
    assert code == 0, err
    nodes = {n["id"]: n for n in json.loads(out)["nodes"]}
    assert "faultinjection" in nodes["svc:default/ratings"]["badges"]
    code, _, err = run_cli(["demo", "apply", "--status-file", sf, str(BOOKINFO / "routing.yaml")])
    assert code == 0, err
    assert "faultinjection" not in src.snapshot().graph.nodes["svc:default/ratings"]["badges"]


async def test_tui_follows_live_change(demo: dict[str, Any]) -> None:
    from meshctl.tui.app import MeshApp
    from meshctl.tui.screens import GraphScreen
    from meshctl.tui.widgets import GraphCanvas

    code, _, err = run_cli(["demo", "apply", "--status-file", demo["status_file"], str(CHANGES / "reviews-50-v3.yaml")])
    assert code == 0, err
    src = make_source(demo=True, status_file=demo["status_file"])
    app = MeshApp(src, interval=0.5, prefer_dot=False, start="graph")
    async with app.run_test(size=(160, 45)) as pilot:
        gs = app.screen
        assert isinstance(gs, GraphScreen)
        canvas = gs.query_one(GraphCanvas)
        code, _, err = run_cli(["demo", "apply", "--status-file", demo["status_file"], str(CHANGES / "reviews-v3.yaml")])
        assert code == 0, err
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            await pilot.pause(0.5)
            g = canvas.graph
            if g.has_edge("svc:default/reviews", "wl:default/reviews-v3") and \
                    g.edges["svc:default/reviews", "wl:default/reviews-v3"]["weight"] == 100:
                break
        assert canvas.graph.edges["svc:default/reviews", "wl:default/reviews-v3"]["weight"] == 100
        canvas.select("svc:default/reviews")
        await pilot.pause()
        assert "w100" in canvas.render().plain


async def test_tui_proxy_tree_and_diff_on_the_demo(demo: dict[str, Any]) -> None:
    """The proxy browser reads the live dump (owners from istio.config); the diff compares it with what the
    demo's xDS server intends for that proxy (its /debug/config_dump)."""
    from meshctl.tui.app import MeshApp
    from meshctl.tui.screens import DiffScreen, ProxyScreen

    app = MeshApp(make_source(demo=True, status_file=demo["status_file"]), interval=None, prefer_dot=False)
    async with app.run_test(size=(160, 45)) as pilot:
        app.run_command("proxy productpage-v1")
        await app.workers.wait_for_complete()
        await pilot.pause()
        ps = app.screen
        assert isinstance(ps, ProxyScreen) and ps.where.startswith("live ")
        clusters = next(n for n in ps.query_one("Tree").root.children if str(n.label).startswith("Clusters"))
        owned = [str(c.label) for c in clusters.children if "DestinationRule default/reviews" in str(c.label)]
        assert any(lbl.startswith("outbound|9080|v3|reviews.default.svc.cluster.local") for lbl in owned)
        app.action_go_back()
        app.run_command("diff productpage-v1")
        await app.workers.wait_for_complete()
        await pilot.pause()
        ds = app.screen
        assert isinstance(ds, DiffScreen)
        assert "In sync:" in ds.body, ds.body[-2000:]
