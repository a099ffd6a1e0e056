"""``meshctl explain``: why does this request go where it goes? Envoy's routing decision, step by step.

Reads the config of one proxy -- a live Envoy (``--admin``), a saved dump (``--file``), a pod, or the intended
config from Istio YAML (``-f PATH --proxy TYPE/NAME``, through the embedded translator) -- and walks it for a
request like Envoy would. The logic lives in :mod:`meshctl.envoy.explain`.
"""

from __future__ import annotations

import sys

import click

from meshctl.cli.commands.proxy_config import pod_options
from meshctl.envoy.admin import Target
from meshctl.errors import UsageError


@click.command("explain")
@click.argument("args", nargs=-1, required=True, metavar="[TARGET] URL")
@click.option(
    "--admin",
    default=None,
    metavar="URL",
    help="A live Envoy admin endpoint (adds endpoint health from /clusters).",
)
@click.option(
    "--file", "dumps", multiple=True, metavar="DUMP", help="A saved /config_dump (intended or actual)."
)
@click.option(
    "-f",
    "--filename",
    "filenames",
    multiple=True,
    metavar="PATH",
    help="Istio YAML: explain the intended config (with --proxy).",
)
@click.option("--proxy", default=None, help="With -f: the proxy whose config to walk (deploy/x, pod/x, ...).")
@click.option(
    "--meshconfig", default=None, metavar="FILE", help="With -f: MeshConfig YAML (or the istio ConfigMap)."
)
@click.option(
    "-H",
    "--header",
    "headers",
    multiple=True,
    help="Request header 'Name: value' (repeatable; 'Host: x' sets the authority).",
)
@click.option("-X", "--method", default="GET", show_default=True, help="Request method.")
@click.option(
    "--port", type=int, default=None, help="Destination port to match listeners on (default: the URL's)."
)
@pod_options
@click.option("-o", "--output", type=click.Choice(["text", "json"]), default="text", show_default=True)
def command(
    args: tuple[str, ...],
    admin: str | None,
    dumps: tuple[str, ...],
    filenames: tuple[str, ...],
    proxy: str | None,
    meshconfig: str | None,
    headers: tuple[str, ...],
    method: str,
    port: int | None,
    namespace: str | None,
    kubeconfig: str | None,
    kube_context: str | None,
    admin_port: int,
    output: str,
) -> None:
    """Explain how a proxy routes one request: listener, filter chain, virtual host, route, cluster, endpoints.

    \b
    Examples:
      meshctl explain -f meshctl/examples/bookinfo --proxy deploy/productpage-v1 http://reviews:9080/ -H 'end-user: jason'
      meshctl explain --admin http://127.0.0.1:15000 http://ratings:9080/ratings/0
      meshctl explain --file dump.json http://unknown.example.com/
      meshctl explain --admin http://127.0.1.11:15000 http://reviews:9080/   # a demo proxy (loopback bind mode)
    """
    from meshctl.envoy.explain import Request, explain, render

    if len(args) > 2:
        raise UsageError("expected [TARGET] URL")
    target, url = (args[0], args[1]) if len(args) == 2 else (None, args[0])
    req = Request.parse(url, method, headers)
    status = None
    if filenames:
        if target or admin or dumps:
            raise UsageError(
                "give either -f PATH (intended config) or one target (--admin/--file/pod), not both"
            )
        from meshctl.envoy.diff import intended_dump

        dump = intended_dump(list(filenames), proxy, namespace, mesh_config=meshconfig)
    else:
        t = Target.from_args(
            target,
            admin=admin,
            files=dumps,
            namespace=namespace,
            kubeconfig=kubeconfig,
            context=kube_context,
            admin_port=admin_port,
        )
        dump = t.config_dump(include_eds=True)
        if not t.files:
            status = t.clusters_status()
    exp = explain(dump, req, clusters_status=status, port=port)
    if output == "json":
        from meshctl.cli.output import emit

        emit(exp.to_json(), "json")
    else:
        sys.stdout.write(render(exp))
    dump.warn_unknown_types()
    for w in dict.fromkeys(dump.warnings):
        click.echo(f"Warning: {w}", err=True)
