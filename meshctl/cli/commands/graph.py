"""``meshctl graph``: the mesh's traffic graph from config and live traffic, exported as DOT/SVG/PNG/JSON/GraphML."""

from __future__ import annotations

import sys
import time

import click

from meshctl.cli.options import filename_option, kube_options

EPILOG = """\b
Examples:
  meshctl graph -f meshctl/examples/bookinfo -o dot              # what the config routes where (idle edges, weights)
  meshctl graph --demo --type versionedApp -o json               # live rates from the running demo's proxies
  meshctl graph -f manifests/ --admin 127.0.0.1:15000 --admin 127.0.0.1:15001 -o svg > mesh.svg
  meshctl graph -f manifests/ --prometheus http://127.0.0.1:9090 --namespace default -o graphml
  meshctl graph --demo --find '%httperr > 0' -o json             # mark failing edges (Kiali find syntax)
  meshctl graph --demo --hide 'ns = istio-system OR idle' -o dot
"""


@click.command("graph", epilog=EPILOG)
@filename_option(help="Mesh config: file, directory (recursive) or - ; repeatable.")
@click.option("--demo", is_flag=True, help="Graph the running `meshctl demo` (proxies from its status file).")
@click.option("--status-file", default=None, help="The demo's status file (default: the per-user one).")
@click.option("-k", "--kube", is_flag=True, help="Read config and proxies from the current Kubernetes cluster.")
@kube_options
@click.option("--admin", "admin", multiple=True, help="Envoy admin URL of a proxy to read stats from; repeatable.")
@click.option("--prometheus", default=None, help="Prometheus base URL: read istio_requests_total & co. like Kiali.")
@click.option("--window", "prom_window", default="1m", show_default=True, help="Prometheus rate window.")
@click.option("-n", "--namespace", default=None, help="Only this namespace (and what it talks to).")
@click.option("--type", "graph_type", type=click.Choice(["workload", "app", "versionedApp", "service"]), default="workload",
              show_default=True, help="Kiali graph type.")
@click.option("--service-nodes/--no-service-nodes", default=True, show_default=True,
              help="Kiali's service nodes; off folds called services into direct workload edges.")
@click.option("--interval", type=float, default=1.0, show_default=True, help="Seconds between the two stats polls (admin/demo).")
@click.option("--find", "find_expr", default=None, help="Kiali find expression: mark matches (found=true).")
@click.option("--hide", "hide_expr", default=None, help="Kiali hide expression: drop matches.")
@click.option("-o", "--output", type=click.Choice(["dot", "svg", "png", "json", "graphml"]), default="dot",
              show_default=True, help="Output format (svg/png need the graphviz 'dot' program).")
def command(
    filenames: tuple[str, ...],
    demo: bool,
    status_file: str | None,
    kube: bool,
    kubeconfig: str | None,
    kube_context: str | None,
    admin: tuple[str, ...],
    prometheus: str | None,
    prom_window: str,
    namespace: str | None,
    graph_type: str,
    service_nodes: bool,
    interval: float,
    find_expr: str | None,
    hide_expr: str | None,
    output: str,
) -> None:
    """Traffic graph of the mesh (Kiali's model): nodes, route weights, live rates, errors, latency, health."""
    from meshctl.cli.output import progress
    from meshctl.graph import export, findhide
    from meshctl.graph.source import make_source
    from meshctl.graph.views import view

    # Parse expressions first: a typo fails fast, before any network I/O.
    find_e = findhide.parse(find_expr) if find_expr else None
    hide_e = findhide.parse(hide_expr) if hide_expr else None
    if output in ("svg", "png") and not export.has_dot_binary():
        export.render(__import__("networkx").DiGraph(), output)  # raises the exit-69 error with its hint
    with progress("reading the mesh"):
        source = make_source(filenames, demo, status_file, kube, admin, prometheus, namespace, kubeconfig, kube_context)
        try:
            if source.poller is not None:
                source.prime()
                time.sleep(max(interval, 0.1))
            snap = source.snapshot()
        finally:
            source.close()
    for err in snap.errors:
        click.echo(f"warning: {err}", err=True)
    g = view(snap.graph, graph_type, service_nodes)
    if hide_e is not None:
        g = findhide.hide(g, hide_e)
    if find_e is not None:
        findhide.mark_found(g, find_e)
    data = export.export(g, output)
    if output == "png":
        sys.stdout.buffer.write(data)
        sys.stdout.flush()
    else:
        click.echo(data.decode(), nl=not data.endswith(b"\n"))
