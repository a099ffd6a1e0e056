"""``meshctl proxy-status`` (alias ``ps``): xDS sync state of every proxy connected to ``meshctl xds serve``."""

from __future__ import annotations

import click

from meshctl.cli.options import kube_options, output_option


@click.command("proxy-status")
@click.argument("proxy", required=False)
@click.option(
    "--xds",
    "xds",
    metavar="HOST:PORT",
    help="Ask the xDS server over ADS (istio.io/debug/syncz). Default 127.0.0.1:15010.",
)
@click.option(
    "--debug",
    "debug",
    metavar="URL",
    help="Ask the server's HTTP debug endpoint instead, e.g. http://127.0.0.1:15014.",
)
@click.option(
    "--syncz",
    "syncz_file",
    type=click.Path(dir_okay=False),
    help="Recorded istiod syncz answers (JSON), printed as istioctl does.",
)
@click.option(
    "-v",
    "--verbosity",
    type=click.IntRange(0, 1),
    default=0,
    help="With --syncz: 1 shows one column per xDS type.",
)
@click.option(
    "--file",
    "envoy_file",
    type=click.Path(dir_okay=False),
    help="With PROXY: the proxy's Envoy config dump to compare.",
)
@click.option(
    "--admin",
    "admin_url",
    metavar="URL",
    help="With PROXY: the proxy's Envoy admin URL (fetches /config_dump).",
)
@click.option(
    "--intended",
    "intended_file",
    type=click.Path(dir_okay=False),
    help="With PROXY: intended config dump (default: the server's).",
)
@click.option(
    "-k",
    "--kube",
    "use_kube",
    is_flag=True,
    help="Reach istiod (or an in-cluster meshctl) through a port-forward to its 15010.",
)
@kube_options
@click.option(
    "--istio-namespace", default="istio-system", show_default=True, help="With -k: where istiod runs."
)
@click.option("-n", "--namespace", default=None, help="Only proxies in this namespace.")
@click.option("--ca", type=click.Path(exists=True, dir_okay=False), help="CA (PEM) of a TLS xDS server.")
@click.option(
    "--cert",
    type=click.Path(exists=True, dir_okay=False),
    help="Client certificate (PEM) for an mTLS xDS server.",
)
@click.option("--key", type=click.Path(exists=True, dir_okay=False), help="Client key (PEM).")
@output_option(["table", "json", "yaml"], "table")
def command(
    proxy: str | None,
    xds: str | None,
    debug: str | None,
    syncz_file: str | None,
    verbosity: int,
    envoy_file: str | None,
    admin_url: str | None,
    intended_file: str | None,
    use_kube: bool,
    kubeconfig: str | None,
    kube_context: str | None,
    istio_namespace: str,
    namespace: str | None,
    ca: str | None,
    cert: str | None,
    key: str | None,
    output: str,
) -> None:
    """Show, per proxy, whether CDS, LDS, EDS and RDS are SYNCED, STALE, NOT SENT or NACKed (with Envoy's message).

    \b
    Examples:
      meshctl proxy-status                              # asks 127.0.0.1:15010 over ADS, like istioctl
      meshctl ps --debug http://127.0.0.1:15014 -o json
      meshctl ps -k --context kind-mesh                 # through a port-forward to istiod's 15010
      meshctl ps productpage-v1.default
      meshctl ps --syncz syncz.json -v 1                # istiod's recorded answers, printed like istioctl
      meshctl ps productpage-v1.default --admin http://127.0.0.1:15000   # intended vs Envoy's config (exit 1 if not)
    """
    from meshctl.cli.output import emit, print_table
    from meshctl.errors import UsageError
    from meshctl.xds.proxystatus import fetch, matches, table_rows, unknown_proxy

    if sum(bool(x) for x in (xds, debug, syncz_file)) > 1:
        raise UsageError("--xds, --debug and --syncz are alternatives; give one")
    if envoy_file or admin_url or intended_file:
        if not proxy:
            raise UsageError("--file/--admin/--intended compare one proxy: give PROXY (<pod>.<namespace>)")
        if bool(envoy_file) == bool(admin_url):
            raise UsageError(
                "give the proxy's config dump with --file or its admin URL with --admin (one of them)"
            )
        click.get_current_context().exit(_compare(proxy, envoy_file, admin_url, intended_file, debug or _debug_for(xds)))
    if syncz_file:
        _print_istiod(syncz_file, proxy, verbosity, output)
        return
    creds = _credentials(ca, cert, key)
    if use_kube:
        if xds or debug:
            raise UsageError("-k finds the server itself; do not combine it with --xds or --debug")
        from meshctl.sources.kubernetes import open_istiod

        with open_istiod(
            kubeconfig=kubeconfig, context=kube_context, istio_namespace=istio_namespace, port=15010
        ) as pf:
            rows = fetch(xds=f"127.0.0.1:{pf.local_port}", credentials=creds)
        where = f"istiod in {istio_namespace}"
    else:
        rows = fetch(xds=xds, debug=debug, credentials=creds)
        where = f"the xDS server at {debug or xds or '127.0.0.1:15010'}"
    connected = [r.name for r in rows]
    if namespace:
        rows = [r for r in rows if r.namespace == namespace]
    if proxy:
        rows = [r for r in rows if matches(proxy, r.name, r.node_id)]
        if not rows:
            raise unknown_proxy(proxy, connected, where, namespace)
    if output == "table":
        headers, body = table_rows(rows)
        print_table(headers, body)
    else:
        emit([r.to_json() for r in rows], output)


def _credentials(ca: str | None, cert: str | None, key: str | None) -> object:
    """gRPC channel credentials for a TLS (``--ca``) or mTLS (plus ``--cert``/``--key``) xDS server, or None.

    The PEM files are checked first, so a bad one is named (exit 65) instead of surfacing as gRPC C++ log
    lines and an "unreachable server".
    """
    from meshctl.xds.pem import read_client_tls

    pems = read_client_tls(ca, cert, key)
    if pems is None:
        return None
    import grpc

    root, chain, private_key = pems
    return grpc.ssl_channel_credentials(root, private_key, chain)


def _print_istiod(path: str, proxy: str | None, verbosity: int, output: str) -> None:
    """istioctl's rendering of recorded istiod answers (table v0/v1, or the raw responses as JSON/YAML)."""
    from google.protobuf.json_format import MessageToDict

    from meshctl.cli.output import emit, print_table
    from meshctl.xds.proxystatus import istiod_rows, istiod_table, load_syncz_file, unknown_proxy

    responses = load_syncz_file(path)
    if output != "table":
        for dr in responses.values():
            emit(MessageToDict(dr), output)
        return
    rows = istiod_rows(responses)
    if proxy:
        known = [r.name for r in rows]
        rows = [r for r in rows if proxy in r.name]
        if not rows:
            raise unknown_proxy(proxy, known, f"the istiod answers in {path}")
    headers, body = istiod_table(rows, verbosity)
    print_table(headers, body)


def _debug_for(xds: str | None) -> str | None:
    """The debug endpoint next to an xDS address: gRPC port + 4, as ``meshctl xds serve`` and istiod
    (15010 -> 15014) lay them out. None when no ``--xds`` was given."""
    if not xds:
        return None
    host, _, port = xds.rpartition(":")
    if not port.isdigit():
        from meshctl.errors import UsageError

        raise UsageError(f"--xds {xds!r}: expected HOST:PORT")
    return f"http://{host or '127.0.0.1'}:{int(port) + 4}"


def _compare(
    proxy: str, envoy_file: str | None, admin_url: str | None, intended_file: str | None, debug: str | None
) -> int:
    """Intended vs actual for one proxy, printed like ``istioctl proxy-status <pod>``; exit 1 when they differ."""
    import sys

    from meshctl.envoy.dump import load_dump, read_dump_file
    from meshctl.xds.compare import compare, intended_from_server

    if intended_file:
        intended = read_dump_file(intended_file)
    else:
        intended = intended_from_server(debug or "http://127.0.0.1:15014", proxy)
    if envoy_file:
        actual = read_dump_file(envoy_file)
    else:
        from meshctl.envoy.admin import AdminClient

        actual = load_dump(AdminClient(str(admin_url)).get("/config_dump"), source=str(admin_url))
    text, same = compare(intended, actual)
    sys.stdout.write(text)
    return 0 if same else 1
