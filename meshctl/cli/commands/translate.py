"""``meshctl translate``: the Envoy config Istio's Pilot would send a proxy, computed offline from files.

A thin shell over :func:`meshctl.translate.translate`, :func:`meshctl.translate.dump.config_dump` and
:func:`meshctl.translate.bootstrap.bootstrap`. Default output is exactly Envoy's ``/config_dump?include_eds``
JSON, so ``meshctl proxy-config ... --file`` reads it back.
"""

from __future__ import annotations

import json
import os
from typing import Any

import click

from meshctl.cli.options import filename_option, kube_options
from meshctl.errors import UsageError

TYPES = {"cluster": "cluster", "listener": "listener", "route": "route", "endpoint": "endpoint", "all": None}

EPILOG = """\b
Examples:
  # Everything a productpage sidecar gets, as Envoy's /config_dump?include_eds JSON
  meshctl translate -f meshctl/examples/bookinfo --proxy deploy/productpage-v1
\b
  # Only the routes, as YAML
  meshctl translate -f meshctl/examples/bookinfo --proxy deploy/productpage-v1 --type route -o yaml
\b
  # A static bootstrap that a real Envoy runs as is (admin on 127.0.0.1:19000)
  meshctl translate -f manifests/ --proxy pod/reviews-v1-0 -o bootstrap --admin-port 19000 > envoy.json
  envoy -c envoy.json
\b
  # One dump per proxy (sidecars and gateways) into out/
  meshctl translate -f manifests/ --all-proxies out/
\b
  # Read the result with the proxy-config views
  meshctl translate -f manifests/ --proxy deploy/productpage-v1 > dump.json
  meshctl proxy-config routes --file dump.json
"""


def _render(pc: Any, output: str, type_: str, admin_port: int) -> Any:
    from meshctl.translate.bootstrap import bootstrap
    from meshctl.translate.dump import config_dump

    if output == "bootstrap":
        return bootstrap(pc, admin_port=admin_port)
    section = TYPES[type_]
    return config_dump(pc, frozenset({section}) if section else None)


def _write(data: Any, output: str, fh: Any) -> None:
    from meshctl.cli.output import to_yaml

    if output == "yaml":
        fh.write(to_yaml(data))
    else:
        fh.write(json.dumps(data, indent=2) + "\n")


@click.command(
    "translate",
    context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 110},
    epilog=EPILOG,
)
@filename_option(required=False)
@click.option("-k", "--kube", "use_kube", is_flag=True, help="Read the mesh from the live cluster (-f files are layered on top).")
@kube_options
@click.option(
    "--proxy",
    "proxy_target",
    default=None,
    metavar="TYPE/NAME",
    help="The proxy: pod/NAME, deploy/NAME, sts/NAME, workloadentry/NAME, or NAME[.NS].",
)
@click.option(
    "-n", "--namespace", default=None, help="Namespace of the proxy (default: any, must be unambiguous)."
)
@click.option(
    "--meshconfig",
    default=None,
    metavar="FILE",
    help="MeshConfig YAML (bare, or the istio ConfigMap). Default: Istio's defaults.",
)
@click.option(
    "--type",
    "type_",
    type=click.Choice(list(TYPES)),
    default="all",
    show_default=True,
    help="Which xDS resources to print.",
)
@click.option(
    "-o",
    "--output",
    type=click.Choice(["json", "yaml", "bootstrap"]),
    default="json",
    show_default=True,
    help="json/yaml: Envoy's /config_dump?include_eds shape; bootstrap: a static Envoy bootstrap (JSON).",
)
@click.option(
    "--admin-port",
    type=click.IntRange(0, 65535),
    default=15000,
    show_default=True,
    help="Admin port of the -o bootstrap config.",
)
@click.option(
    "--all-proxies",
    "all_dir",
    default=None,
    metavar="DIR",
    help="Write one file per proxy (<name>.<ns>.json|yaml) into DIR.",
)
@click.option(
    "--loopback",
    is_flag=True,
    help="Loopback bind mode: listeners really bind on the proxy's own IP (the local demo mesh).",
)
def command(
    filenames: tuple[str, ...],
    use_kube: bool,
    kubeconfig: str | None,
    kube_context: str | None,
    proxy_target: str | None,
    namespace: str | None,
    meshconfig: str | None,
    type_: str,
    output: str,
    admin_port: int,
    all_dir: str | None,
    loopback: bool,
) -> None:
    """Translate Istio config (-f) into the Envoy config (CDS/EDS/LDS/RDS) one proxy would receive."""
    from meshctl.translate import translate

    if not filenames and not use_kube:
        raise UsageError("no input: pass -f FILE|DIR|- (repeatable), or -k for the live cluster")
    if not proxy_target and not all_dir:
        raise UsageError(
            "say which proxy: --proxy TYPE/NAME (e.g. deploy/productpage-v1), or --all-proxies DIR"
        )
    if proxy_target and all_dir:
        raise UsageError("--proxy and --all-proxies are mutually exclusive")
    if output == "bootstrap" and type_ != "all":
        raise UsageError("--type applies to json/yaml dumps; -o bootstrap always holds every resource")
    from meshctl.cli.inputs import mesh_from_inputs

    mesh = mesh_from_inputs(
        filenames, use_kube=use_kube, kubeconfig=kubeconfig, kube_context=kube_context, meshconfig=meshconfig
    )

    if all_dir:
        proxies = [p for p in mesh.proxies() if namespace is None or p.namespace == namespace]
        if not proxies:
            raise UsageError("no proxies in the input" + (f" in namespace {namespace}" if namespace else ""))
        try:
            os.makedirs(all_dir, exist_ok=True)
        except OSError as e:
            raise UsageError(f"cannot create {all_dir}: {e.strerror}") from e
        ext = "yaml" if output == "yaml" else "json"
        for i, p in enumerate(proxies):
            p.loopback = loopback
            path = os.path.join(all_dir, f"{p.workload.name}.{p.namespace}.{ext}")
            # bootstraps meant to run side by side: proxy i gets admin port --admin-port + i
            port = admin_port + i if output == "bootstrap" and admin_port else admin_port
            with open(path, "w") as fh:
                _write(_render(translate(mesh, p), output, type_, port), output, fh)
            click.echo(f"{path}" + (f" (admin 127.0.0.1:{port})" if output == "bootstrap" else ""), err=True)
        return

    assert proxy_target is not None
    proxy = mesh.proxy(proxy_target, namespace)
    proxy.loopback = loopback
    data = _render(translate(mesh, proxy), output, type_, admin_port)
    import sys

    _write(data, output, sys.stdout)
