"""Pictures of the main screens (pytest-textual-snapshot) on the deterministic bookinfo fixture.

The layout engine is the built-in layered one (``prefer_dot=False``) so the pictures do not depend on
whether graphviz is installed. Update with ``pytest tests/test_tui_snapshots.py --snapshot-update``.
"""

from __future__ import annotations

import pytest

from meshctl.tui.app import MeshApp
from meshctl.tui.fixture import bookinfo_source
from meshctl.tui.widgets import GraphCanvas

pytestmark = pytest.mark.timeout(120)
SIZE = (150, 40)


def app(**kw) -> MeshApp:
    return MeshApp(bookinfo_source(), interval=None, prefer_dot=False, **kw)


def test_overview(snap_compare):
    assert snap_compare(app(), terminal_size=SIZE)


def test_overview_after_refresh_shows_failure(snap_compare):
    async def refresh(pilot):
        pilot.app.action_refresh_now()
        await pilot.pause()

    assert snap_compare(app(), terminal_size=SIZE, run_before=refresh)


def test_graph_workload(snap_compare):
    async def select(pilot):
        pilot.app.screen.query_one(GraphCanvas).select("svc:default/reviews")
        pilot.app.screen._update_detail()
        await pilot.pause()

    assert snap_compare(app(start="graph"), terminal_size=SIZE, run_before=select)


def test_graph_versioned_app(snap_compare):
    assert snap_compare(app(start="graph"), press=["t", "t"], terminal_size=SIZE)


def test_virtual_services(snap_compare):
    async def go(pilot):
        pilot.app.run_command("vs")
        await pilot.pause()

    assert snap_compare(app(), terminal_size=SIZE, run_before=go)


def test_help(snap_compare):
    assert snap_compare(app(), press=["question_mark"], terminal_size=SIZE)
