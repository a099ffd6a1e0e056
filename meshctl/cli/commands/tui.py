"""``meshctl tui``: the terminal UI (overview, live traffic graph, proxy config, findings, diff)."""

from __future__ import annotations

import click

from meshctl.cli.options import filename_option, kube_options

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
@filename_option(help="Mesh config: file, directory (recursive) or - ; repeatable.")
@click.option("--demo", is_flag=True, help="Attach to the running `meshctl demo`.")
@click.option("--status-file", default=None, help="The demo's status file (default: the per-user one).")
@click.option("-k", "--kube", is_flag=True, help="Read from the current Kubernetes cluster.")
@kube_options
@click.option("--admin", "admin", multiple=True, help="Envoy admin URL of a proxy to poll; repeatable.")
@click.option("--prometheus", default=None, help="Prometheus base URL (istio_requests_total & co.).")
@click.option("-n", "--namespace", default=None, help="Only this namespace (and what it talks to).")
@click.option("--interval", type=click.FloatRange(0.5, 60), default=1.5, show_default=True, help="Refresh every N seconds.")
@click.option("--start", type=click.Choice(["overview", "graph"]), default="overview", show_default=True, help="First screen.")
@click.option("--fixture", is_flag=True, hidden=True, help="Deterministic bookinfo fixture data (tests, screenshots).")
def command(
    filenames: tuple[str, ...],
    demo: bool,
    status_file: str | None,
    kube: bool,
    kubeconfig: str | None,
    kube_context: str | None,
    admin: tuple[str, ...],
    prometheus: str | None,
    namespace: str | None,
    interval: float,
    start: str,
    fixture: bool,
) -> None:
    """Interactive terminal UI: mesh overview, live traffic graph, proxy config browser, findings, diff."""
    from meshctl.graph.source import GraphSource, make_source
    from meshctl.tui.app import MeshApp

    source: GraphSource
    if fixture:
        from meshctl.tui.fixture import bookinfo_source

        source = bookinfo_source()
    else:
        source = make_source(filenames, demo, status_file, kube, admin, prometheus, namespace, kubeconfig, kube_context)
        prime = getattr(source, "prime", None)
        if prime is not None:
            prime()
    try:
        MeshApp(source, interval=interval, config_paths=list(filenames), start=start).run()
    finally:
        source.close()
