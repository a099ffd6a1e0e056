"""``meshctl tui`` driven by Textual's Pilot: every screen and key, on the deterministic bookinfo fixture."""

from __future__ import annotations

import pytest

from meshctl.tui.app import MeshApp
from meshctl.tui.fixture import bookinfo_source
from meshctl.tui.screens import (
    FindingsScreen,
    GraphScreen,
    HelpScreen,
    OverviewScreen,
    ProxyScreen,
    ResourcesScreen,
    YamlScreen,
)
from meshctl.tui.widgets import GraphCanvas

pytestmark = pytest.mark.timeout(120)
SIZE = (150, 42)


def make_app(**kw) -> MeshApp:
    return MeshApp(bookinfo_source(), interval=None, prefer_dot=False, **kw)


async def _cmd(pilot, text: str) -> None:
    """``:`` opens the prompt (real key); the text is set at once (typing it key by key only costs time)."""
    await pilot.press("colon")
    await pilot.pause()
    pilot.app.screen.query_one("#prompt-input").value = text
    await pilot.press("enter")
    await pilot.pause()


async def test_overview_sort_filter_and_drill_in():
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        ov = app.screen
        assert isinstance(ov, OverviewScreen)
        assert "wl:default/reviews-v1" in ov._keys and "svc:default/reviews" in ov._keys
        await pilot.press("s")  # HEALTH -> RPS IN
        assert ov.sort_col == "RPS IN"
        rates = [app.snapshot.graph.nodes[k]["rps_in"] for k in ov._keys]
        assert rates == sorted(rates, reverse=True)
        await pilot.press("r")
        rates = [app.snapshot.graph.nodes[k]["rps_in"] for k in ov._keys]
        assert rates == sorted(rates)
        await pilot.press("slash")
        await pilot.pause()
        await pilot.press(*"reviews-v")
        await pilot.press("enter")
        await pilot.pause()
        assert ov._keys and all("reviews-v" in k for k in ov._keys)
        # Enter drills into the graph, focused on the row's node.
        await pilot.press("enter")
        await pilot.pause()
        assert isinstance(app.screen, GraphScreen)
        assert app.screen.query_one(GraphCanvas).selected == ov._keys[ov.query_one("DataTable").cursor_row]
        await pilot.press("escape")
        assert app.screen is ov


async def test_refresh_updates_in_place_and_keeps_cursor():
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        ov = app.screen
        table = ov.query_one("DataTable")
        before_health = app.snapshot.graph.nodes["wl:default/reviews-v3"]["health"]
        await pilot.press("down", "down")
        cursor = table.cursor_row
        keys = list(ov._keys)
        app.action_refresh_now()  # second fixture window: reviews-v3 answers 30 % 503
        await pilot.pause()
        assert app.refresh_count == 2
        assert before_health == "healthy"
        assert app.snapshot.graph.nodes["wl:default/reviews-v3"]["health"] == "failure"
        # sorted by health: the failing node moves up, the table was rebuilt and the cursor kept its node
        assert ov._keys[0] in ("wl:default/reviews-v3", "svc:default/reviews", "wl:default/productpage-v1")
        assert ov._keys[table.cursor_row] == keys[cursor]


async def test_graph_keys_select_cycle_find_hide():
    app = make_app(start="graph")
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        gs = app.screen
        assert isinstance(gs, GraphScreen)
        canvas = gs.query_one(GraphCanvas)
        first = canvas.selected
        await pilot.press("tab")
        assert canvas.selected != first
        await pilot.press("right")
        await pilot.press("down")
        assert canvas.selected in canvas.graph
        # detail panel follows the selection
        await pilot.press("slash")
        await pilot.pause()
        await pilot.press(*"name = reviews")
        await pilot.press("enter")
        await pilot.pause()
        assert gs.find_expr == "name = reviews" and canvas.found == {"svc:default/reviews"}
        await pilot.press("h")
        await pilot.pause()
        await pilot.press(*"ns = istio-system")
        await pilot.press("enter")
        await pilot.pause()
        assert not any("istio-system" in n for n in canvas.graph)
        await pilot.press("x")
        assert any("istio-system" in n for n in canvas.graph) and not canvas.found
        # bad expression: a message, not a crash
        await pilot.press("slash")
        await pilot.pause()
        await pilot.press(*"bogus > 1")
        await pilot.press("enter")
        await pilot.pause()
        assert "bad expression" in gs.message
        # t cycles Kiali graph types
        await pilot.press("t")
        assert gs.graph_type == "app" and any(n.startswith("app:") for n in canvas.graph)
        await pilot.press("t")
        assert gs.graph_type == "versionedApp" and "vapp:default/reviews/v3" in canvas.graph
        await pilot.press("t")
        assert gs.graph_type == "service" and not any(n.startswith("wl:default/") for n in canvas.graph)
        canvas.select("svc:default/reviews")
        text = canvas.render().plain
        assert "reviews" in text and "rps" in text


async def test_graph_canvas_labels_rates_weights_and_colours():
    app = make_app()
    async with app.run_test(size=(200, 50)) as pilot:
        await _cmd(pilot, "graph")
        canvas = app.screen.query_one(GraphCanvas)
        canvas.select("svc:default/reviews")
        await pilot.pause()
        txt = canvas.render()
        plain = txt.plain
        assert "9.0rps 14ms w90" in plain  # reviews -> reviews-v1: rate, p95, weight
        assert "w10" in plain and "match" in plain  # v3 split, v2 only via the jason rule
        colours = {str(span.style) for span in txt.spans}
        assert any("green" in c for c in colours)


async def test_commands_resources_yaml_findings_help_back_quit():
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        base = app.screen
        await _cmd(pilot, "svc")
        assert base.kind == "svc" and all(k.startswith(("svc:", "se:")) for k in base._keys)
        await _cmd(pilot, "gw")
        assert base._keys == ["wl:istio-system/istio-ingressgateway"]
        await _cmd(pilot, "vs")
        rs = app.screen
        assert isinstance(rs, ResourcesScreen) and rs.kind == "VirtualService"
        assert [r.name for r in rs._res] == ["bookinfo", "ratings", "reviews"]
        await pilot.press("enter")
        await pilot.pause()
        assert isinstance(app.screen, YamlScreen) and app.screen.resource.name == "bookinfo"
        await pilot.press("escape")
        await pilot.press("escape")
        assert app.screen is base
        await _cmd(pilot, "dr")
        assert {r.name for r in app.screen._res} == {"productpage", "reviews", "ratings", "details"}
        await _cmd(pilot, "gateway")
        assert [r.name for r in app.screen._res] == ["bookinfo-gateway"]
        await _cmd(pilot, "all")
        assert app.screen is base and base.kind == "all"
        await _cmd(pilot, "findings")
        fs = app.screen
        assert isinstance(fs, FindingsScreen) and fs.error == ""
        from meshctl.analyze.run import analyze

        want = [(m.code, m.origin) for m in analyze(app.snapshot.resources).messages]
        assert [(m.code, m.origin) for m in fs.messages] == want  # the screen shows exactly the analyzer's output
        assert fs.query_one("DataTable").row_count == len(want)
        await pilot.press("escape")
        await _cmd(pilot, "nonsense")
        assert app.screen is base
        await pilot.press("question_mark")
        await pilot.pause()
        assert isinstance(app.screen, HelpScreen)
        await pilot.press("escape")
        await pilot.pause()
        assert app.screen is base
        await _cmd(pilot, "q")
    assert app.return_code in (0, None)


async def test_findings_jump_to_the_offending_line(tmp_path):
    (tmp_path / "bad.yaml").write_text(
        "apiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata:\n  name: ghost\n  namespace: default\n"
        "spec:\n  hosts: [ghost]\n  gateways: [no-such-gateway]\n  http:\n  - route:\n    - destination: {host: ghost}\n"
    )
    from meshctl.graph.source import LiveSource

    app = MeshApp(LiveSource([str(tmp_path)]), interval=None, prefer_dot=False)
    async with app.run_test(size=SIZE) as pilot:
        await _cmd(pilot, "findings")
        fs = app.screen
        assert isinstance(fs, FindingsScreen)
        codes = {m.code for m in fs.messages}
        assert "IST0101" in codes  # referenced gateway / host not found
        await pilot.press("enter")
        await pilot.pause()
        ys = app.screen
        assert isinstance(ys, YamlScreen) and ys.resource.name == "ghost" and ys.line is not None


@pytest.mark.envoy
async def test_proxy_browser_from_live_envoy_shows_tree():
    """Enter on a workload opens its proxy's clusters/listeners/routes, read from the real Envoy admin."""
    from meshctl.graph.source import BOOKINFO, LiveSource
    from meshctl.graph.testbed import start_bed

    with start_bed() as bed:
        src = LiveSource([BOOKINFO], bed.targets)
        app = MeshApp(src, interval=None, prefer_dot=False)
        async with app.run_test(size=SIZE) as pilot:
            await _cmd(pilot, "proxy productpage-v1")
            ps = app.screen
            assert isinstance(ps, ProxyScreen)
            await app.workers.wait_for_complete()
            await pilot.pause()
            tree = ps.query_one("Tree")
            labels = [str(n.label) for n in tree.root.children]
            assert labels[0].startswith("Listeners (2)") and labels[1].startswith("Routes") and labels[2].startswith("Clusters (6)")
            clusters = [str(n.label) for n in tree.root.children[2].children]
            assert any(c.startswith("outbound|9080|v3|reviews.default.svc.cluster.local") for c in clusters)
            assert ps.where.startswith("live http://127.0.0.1:")
            await pilot.press("escape")
            await _cmd(pilot, "diff productpage-v1")
            await app.workers.wait_for_complete()
            await pilot.pause()
            # intended config comes from the embedded translator; the screen says what it found, never crashes
            assert app.screen.body


async def test_offline_proxy_tree_and_explain_from_the_translator():
    """With only config files, the proxy browser and explain use the embedded translator's intended dump."""
    from meshctl.graph.source import BOOKINFO, LiveSource
    from meshctl.tui.screens import ExplainScreen

    app = MeshApp(LiveSource([BOOKINFO]), interval=None, prefer_dot=False)
    async with app.run_test(size=SIZE) as pilot:
        await _cmd(pilot, "proxy productpage-v1")
        await app.workers.wait_for_complete()
        await pilot.pause()
        ps = app.screen
        assert isinstance(ps, ProxyScreen) and ps.where.startswith("intended"), ps.error
        routes = next(n for n in ps.query_one("Tree").root.children if str(n.label).startswith("Routes"))
        route_9080 = next(n for n in routes.children if str(n.label) == "9080")
        vhosts = [str(v.label) for v in route_9080.children]
        assert any(v.startswith("reviews.default.svc.cluster.local:9080") for v in vhosts)
        reviews_vh = next(v for v in route_9080.children if str(v.label).startswith("reviews.default"))
        assert any("VirtualService default/reviews" in str(r.label) for r in reviews_vh.children)
        await pilot.press("escape")
        await _cmd(pilot, "explain productpage-v1 http://reviews:9080/ end-user:jason")
        await app.workers.wait_for_complete()
        await pilot.pause()
        es = app.screen
        assert isinstance(es, ExplainScreen)
        assert "outbound|9080|v2|reviews.default.svc.cluster.local" in es.body, es.body
        await pilot.press("escape")
        await _cmd(pilot, "explain productpage-v1")
        await app.workers.wait_for_complete()
        await pilot.pause()
        assert "which request?" in app.screen.body


async def test_command_palette_offers_mesh_commands():
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        titles = [c.title for c in app.get_system_commands(app.screen)]
        assert "Graph: versioned app" in titles and "VirtualServices" in titles and "Quit" in titles
        cmd = next(c for c in app.get_system_commands(app.screen) if c.title == "VirtualServices")
        cmd.callback()
        await pilot.pause()
        assert isinstance(app.screen, ResourcesScreen) and app.screen.kind == "VirtualService"


async def test_overview_p_and_g_keys_and_proxy_d_e_keys():
    from meshctl.graph.source import BOOKINFO, LiveSource
    from meshctl.tui.screens import DiffScreen, ExplainScreen

    app = MeshApp(LiveSource([BOOKINFO]), interval=None, prefer_dot=False)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        ov = app.screen
        ov.query_one("DataTable").move_cursor(row=ov._keys.index("wl:default/reviews-v1"))
        await pilot.press("g")
        await pilot.pause()
        assert isinstance(app.screen, GraphScreen)
        assert app.screen.query_one(GraphCanvas).selected == "wl:default/reviews-v1"
        await pilot.press("escape")
        await pilot.press("p")
        await app.workers.wait_for_complete()
        await pilot.pause()
        ps = app.screen
        assert isinstance(ps, ProxyScreen) and ps.target == "reviews-v1.default"
        # d: the diff needs a live proxy; with files only it says so instead of failing
        await pilot.press("d")
        await app.workers.wait_for_complete()
        await pilot.pause()
        assert isinstance(app.screen, DiffScreen) and "needs an admin URL" in app.screen.body
        await pilot.press("escape")
        # e: asks for the request, then walks it through the proxy's (intended) config
        await pilot.press("e")
        await pilot.pause()
        app.screen.query_one("#prompt-input").value = "http://ratings:9080/ratings/0"
        await pilot.press("enter")
        await app.workers.wait_for_complete()
        await pilot.pause()
        es = app.screen
        assert isinstance(es, ExplainScreen)
        assert "outbound|9080|v1|ratings.default.svc.cluster.local" in es.body, es.body


async def test_graph_n_toggles_service_nodes():
    app = make_app(start="graph")
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        canvas = app.screen.query_one(GraphCanvas)
        assert "svc:default/reviews" in canvas.graph
        await pilot.press("n")
        assert "svc:default/reviews" not in canvas.graph
        assert canvas.graph.has_edge("wl:default/productpage-v1", "wl:default/reviews-v1")
        await pilot.press("n")
        assert "svc:default/reviews" in canvas.graph


def test_graph_view_never_cuts_a_box_at_the_left_edge():
    """Whatever node is selected and however narrow the canvas, the view starts in a gap between layers
    (no half box on the left), shows the selected node whole, and as many of its neighbours as can fit."""
    from meshctl.graph.layout import compute_layout
    from meshctl.tui.canvas import build_scene
    from meshctl.tui.widgets import best_offset

    g = bookinfo_source().snapshot().graph
    scene = build_scene(g, compute_layout(g, False))
    for width in (60, 101, 131, 200, 400):
        for node, sel in scene.boxes.items():
            vx = best_offset(scene, g, node, width)
            assert not any(b.x < vx < b.x + b.w for b in scene.boxes.values()), (node, width, vx)
            assert vx <= sel.x and sel.x + sel.w <= vx + width, (node, width, vx)
    # wide enough for reviews, its caller productpage-v1 with the edge into it, and its callees
    rv, pp = scene.boxes["svc:default/reviews"], scene.boxes["wl:default/productpage-v1"]
    vx = best_offset(scene, g, "svc:default/reviews", 131)
    assert vx < pp.x - 20 and max(scene.boxes[f"wl:default/reviews-v{i}"].x for i in (1, 2, 3)) + 14 <= vx + 131
    assert best_offset(scene, g, "unknown", 131) == 0 and rv.x > 131


def test_tui_missing_file_is_exit_65_before_the_app(cli, tmp_path):
    code, _, err = cli(["tui", "-f", str(tmp_path / "nope.yaml")])
    assert code == 65 and "nope.yaml" in err


def test_tui_refuses_without_a_terminal(cli):
    from conftest import BOOKINFO

    code, _, err = cli(["tui", "-f", str(BOOKINFO)])
    assert code == 64 and "needs a terminal" in err and "meshctl graph -o json" in err


def test_graph_view_keeps_the_selected_nodes_outgoing_labels_in_view():
    """QA: productpage-v1's edge labels ran off the right side. Whenever the selected box and its outgoing
    edges' labels fit in the canvas width together, the chosen scroll offset shows all of them."""
    from meshctl.graph.layout import compute_layout
    from meshctl.tui.canvas import build_scene, edge_text
    from meshctl.tui.widgets import best_offset

    g = bookinfo_source().snapshot().graph
    scene = build_scene(g, compute_layout(g, False))
    checked = 0
    for width in (60, 72, 101, 131):
        for node, sel in scene.boxes.items():
            spans = [(r.label_at[0], r.label_at[0] + 1 + min(len(edge_text(g.edges[r.a, r.b])), r.label_room))
                     for r in scene.routes if r.a == node and edge_text(g.edges[r.a, r.b]) and r.label_room > 3]
            if not spans or max(hi for _, hi in spans) - (sel.x - 1) > width:
                continue
            vx = best_offset(scene, g, node, width)
            assert all(vx <= lo and hi <= vx + width for lo, hi in spans), (node, width, vx, spans)
            checked += 1
    assert checked > 10
