"""``meshctl tui``: the terminal UI (overview, live traffic graph, proxy config, findings, diff)."""

from __future__ import annotations

from typing import Any

import click

from meshctl.cli.commands.graph import open_source, source_options
from meshctl.cli.output import stdout_is_terminal
from meshctl.errors import UsageError

EPILOG = """\b
Examples:
  meshctl tui --demo                                  # the running demo mesh, live
  meshctl tui -f meshctl/examples/bookinfo            # config only: routes, weights, findings, intended config
  meshctl tui -f manifests/ --admin 127.0.0.1:15000   # config + one live proxy
  meshctl tui -f manifests/ --prometheus http://127.0.0.1:9090

\b
Keys (k9s conventions): ':' commands (:svc :vs :dr :gw :graph :proxy NAME :findings), '/' filter,
'?' help, Esc back, Enter drill in, q quit; ctrl+p opens Textual's command palette.
"""


@click.command("tui", epilog=EPILOG)
@source_options
@click.option("--interval", type=click.FloatRange(0.5, 60), default=1.5, show_default=True, help="Refresh every N seconds.")
@click.option("--start", type=click.Choice(["overview", "graph"]), default="overview", show_default=True, help="First screen.")
@click.option("--fixture", is_flag=True, hidden=True, help="Deterministic bookinfo fixture data (tests, screenshots).")
def command(interval: float, start: str, fixture: bool, **source_opts: Any) -> None:
    """Interactive terminal UI: mesh overview, live traffic graph, proxy config browser, findings, diff."""
    from meshctl.graph.source import GraphSource
    from meshctl.tui.app import MeshApp

    source: GraphSource
    if fixture:
        from meshctl.tui.fixture import bookinfo_source

        source = bookinfo_source()
    else:
        source = open_source(source_opts)
        try:
            # Bad config is an input error now (exit 65, file:line), not a toast inside a running app.
            load = getattr(getattr(source, "config", None), "load", None)
            if load is not None and source_opts["filenames"]:
                load()
        except BaseException:
            source.close()
            raise
    if not stdout_is_terminal():
        source.close()
        raise UsageError("meshctl tui needs a terminal (stdout is not one)",
                         hints=["for scripts and pipes use `meshctl graph -o json` (same sources and flags)"])
    if not fixture:
        prime = getattr(source, "prime", None)
        if prime is not None:
            prime()
    try:
        MeshApp(source, interval=interval, config_paths=list(source_opts["filenames"]), start=start).run()
    finally:
        source.close()
