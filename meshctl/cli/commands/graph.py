"""``meshctl graph``: the mesh's traffic graph from config and live traffic, exported as DOT/SVG/PNG/JSON/GraphML."""

from __future__ import annotations

import re
import sys
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

import click

from meshctl.cli.options import filename_option, kube_options
from meshctl.errors import UnavailableError, UsageError

#: Prometheus duration: one or more <number><unit> (``5m``, ``1h30m``)
_PROM_DURATION = re.compile(r"^(\d+(ms|s|m|h|d|w|y))+$")

if TYPE_CHECKING:
    from meshctl.graph.source import LiveSource

EPILOG = """\b
Examples:
  meshctl graph -f meshctl/examples/bookinfo -o dot              # what the config routes where (idle edges, weights)
  meshctl graph --demo --type versionedApp -o json               # live rates from the running demo's proxies
  meshctl graph -f manifests/ --admin 127.0.0.1:15000 --admin 127.0.0.1:15001 -o svg > mesh.svg
  meshctl graph -f manifests/ --prometheus http://127.0.0.1:9090 --namespace default -o graphml
  meshctl graph --demo --find '%httperr > 0' -o json             # mark failing edges (Kiali find syntax)
  meshctl graph --demo --hide 'ns = istio-system OR idle' -o dot
"""


F = TypeVar("F", bound=Callable[..., Any])


def source_options(f: F) -> F:
    """Where the graph comes from: the flags ``graph`` and ``tui`` share (read by :func:`open_source`)."""
    for deco in reversed([
        filename_option(help="Mesh config: file, directory (recursive) or - ; repeatable."),
        click.option("--demo", is_flag=True,
                     help="The running `meshctl demo`: its proxies (status file) and the config it runs on now."),
        click.option("--status-file", default=None, help="The demo's status file (default: the per-user one)."),
        click.option("-k", "--kube", is_flag=True, help="Read config and proxies from the current Kubernetes cluster."),
        kube_options,
        click.option("--admin", "admin", multiple=True, help="Envoy admin URL of a proxy to poll; repeatable."),
        click.option("--prometheus", default=None, help="Prometheus base URL: istio_requests_total & co., like Kiali."),
        click.option("-n", "--namespace", default=None, help="Only this namespace (and what it talks to)."),
    ]):
        f = deco(f)
    return f


def open_source(opts: dict[str, Any], **extra: Any) -> LiveSource:
    """The source :func:`source_options`' flags name (``opts``: the command's keyword arguments)."""
    from meshctl.graph.source import make_source

    return make_source(opts["filenames"], opts["demo"], opts["status_file"], opts["kube"], opts["admin"],
                       opts["prometheus"], opts["namespace"], opts["kubeconfig"], opts["kube_context"], **extra)


@click.command("graph", epilog=EPILOG)
@source_options
@click.option("--window", "prom_window", default="1m", show_default=True, help="Prometheus rate window.")
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
    prom_window: str,
    graph_type: str,
    service_nodes: bool,
    interval: float,
    find_expr: str | None,
    hide_expr: str | None,
    output: str,
    **source: Any,
) -> None:
    """Traffic graph of the mesh (Kiali's model): nodes, route weights, live rates, errors, latency, health."""
    from meshctl.cli.output import progress
    from meshctl.graph import export, findhide
    from meshctl.graph.views import view

    if not _PROM_DURATION.match(prom_window):
        raise UsageError(f"--window {prom_window!r} is not a Prometheus duration",
                         field="--window", hints=["e.g. 30s, 1m, 5m, 1h (units ms s m h d w y, combinable: 1h30m)"])
    # Parse expressions first: a typo fails fast, before any network I/O.
    find_e = findhide.parse(find_expr) if find_expr else None
    hide_e = findhide.parse(hide_expr) if hide_expr else None
    if output in ("svg", "png") and not export.has_dot_binary():
        export.render(__import__("networkx").DiGraph(), output)  # raises the exit-69 error with its hint
    with progress("reading the mesh"):
        src = open_source(source, prom_window=prom_window)
        try:
            if src.poller is not None:
                src.prime()
                time.sleep(max(interval, 0.1))
            snap = src.snapshot()
        finally:
            src.close()
    if source.get("prometheus") and snap.window is None:
        # The one data source asked for gave nothing: an empty graph with exit 0 would read as "no traffic".
        msg = next((e for e in snap.errors if "Prometheus" in e), f"cannot query Prometheus at {source['prometheus']}")
        raise UnavailableError(msg, hints=[f"is Prometheus reachable at {source['prometheus']}? (port-forward, URL)"])
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
