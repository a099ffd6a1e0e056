"""``meshctl xds``: serve xDS to real Envoys from config files, and print bootstraps that connect to it."""

from __future__ import annotations

import asyncio
import json

import click

from meshctl.cli.options import filename_option, kube_options
from meshctl.errors import UsageError


@click.group("xds")
def command() -> None:
    """An Istio-like xDS control plane for test environments (ADS, SotW and delta).

    \b
    Examples:
      meshctl xds serve -f meshctl/examples/bookinfo       # ADS on 127.0.0.1:15010, debug on :15014
      meshctl xds bootstrap --pod productpage-v1 -n default > envoy.json
      envoy -c envoy.json --concurrency 1
      meshctl proxy-status                                 # SYNCED / STALE / NACK per proxy
    """


@command.command("serve")
@filename_option()
@click.option(
    "-k",
    "--kube",
    "use_kube",
    is_flag=True,
    help="Serve the live cluster's config (list + watch); -f files are layered on top.",
)
@kube_options
@click.option(
    "-n", "--namespace", default=None, help="With -k: only this namespace (plus istio-system); default all."
)
@click.option(
    "--address", default="127.0.0.1", show_default=True, help="Listen address (loopback by default)."
)
@click.option(
    "--port", default=15010, show_default=True, type=int, help="gRPC (ADS) port; 0 picks a free one."
)
@click.option(
    "--debug-port",
    type=int,
    default=None,
    help="HTTP debug port (/debug/syncz); default PORT+4 (15014); -1 disables.",
)
@click.option(
    "--watch/--no-watch", default=True, show_default=True, help="Reload and push when the files change."
)
@click.option(
    "--tls-cert", type=click.Path(exists=True, dir_okay=False), help="Server certificate (PEM) to serve TLS."
)
@click.option("--tls-key", type=click.Path(exists=True, dir_okay=False), help="Server private key (PEM).")
@click.option(
    "--client-ca",
    type=click.Path(exists=True, dir_okay=False),
    help="CA (PEM) clients must present a certificate from (mTLS).",
)
@click.option(
    "--meshconfig",
    type=click.Path(exists=True, dir_okay=False),
    help="MeshConfig YAML (or the istio ConfigMap).",
)
@click.option(
    "--loopback",
    is_flag=True,
    help="Proxies bind their listeners on their own 127.0.0.x address (the local demo mesh).",
)
@click.option(
    "--log-level", type=click.Choice(["debug", "info", "warning", "error"]), default="info", show_default=True
)
def serve_cmd(
    filenames: tuple[str, ...],
    use_kube: bool,
    kubeconfig: str | None,
    kube_context: str | None,
    namespace: str | None,
    address: str,
    port: int,
    debug_port: int | None,
    watch: bool,
    tls_cert: str | None,
    tls_key: str | None,
    client_ca: str | None,
    meshconfig: str | None,
    loopback: bool,
    log_level: str,
) -> None:
    """Serve the xDS config Pilot would send each proxy of the mesh described by -f.

    \b
    An Envoy connects with an Istio node id (sidecar~<ip>~<pod>.<ns>~<ns>.svc.cluster.local); the pod name may
    be a Deployment's name, with or without pod hashes. Get a matching bootstrap with `meshctl xds bootstrap`.
    \b
    Examples:
      meshctl xds serve -f meshctl/examples/bookinfo
      meshctl xds serve -k --context kind-mesh          # the live cluster, following its changes
      meshctl xds bootstrap --pod productpage-v1 -n default > envoy.json && envoy -c envoy.json
      meshctl proxy-status
    """
    from meshctl.xds.serve import ServeOptions, serve, setup_logging
    from meshctl.xds.server import TlsFiles, check_bindable

    if not filenames and not use_kube:
        raise UsageError("give the mesh config with -f PATH, or -k to serve the live cluster")
    if bool(tls_cert) != bool(tls_key):
        raise UsageError("--tls-cert and --tls-key go together")
    if client_ca and not tls_cert:
        raise UsageError("--client-ca (mTLS) needs --tls-cert and --tls-key")
    tls = TlsFiles(tls_cert, tls_key, client_ca) if tls_cert and tls_key else None
    # Fail fast, before the (maybe slow) model load and before gRPC could log its own errors:
    if tls is not None:
        tls.read()  # bad PEM: `Error: FILE: not a PEM certificate` (65)
    check_bindable(address, port)  # 69, saying why (in use, not an address of this host, ...)
    setup_logging(log_level)
    opts = ServeOptions(
        list(filenames),
        address=address,
        port=port,
        debug_port=debug_port,
        watch=watch,
        tls=tls,
        mesh_config=meshconfig,
        loopback=loopback,
        kube=use_kube,
        kubeconfig=kubeconfig,
        kube_context=kube_context,
        namespace=namespace,
    )
    asyncio.run(serve(opts))


@command.command("bootstrap")
@click.option("--node-id", help="Full Istio node id; default built from --pod/--namespace/--ip.")
@click.option("--pod", help="Pod (or Deployment) name the proxy stands for.")
@click.option("-n", "--namespace", default="default", show_default=True)
@click.option("--ip", default="127.0.0.1", show_default=True, help="The proxy's IP in the node id.")
@click.option("--router", is_flag=True, help="A gateway (router~...) instead of a sidecar.")
@click.option(
    "--xds-address", default="127.0.0.1:15010", show_default=True, help="HOST:PORT of `meshctl xds serve`."
)
@click.option("--delta", is_flag=True, help="Use incremental (delta) ADS instead of State of the World.")
@click.option("--admin-port", type=int, default=15000, show_default=True)
@click.option(
    "--ca",
    type=click.Path(exists=True, dir_okay=False),
    help="CA (PEM) of the server certificate: connect with TLS.",
)
@click.option(
    "--cert", type=click.Path(exists=True, dir_okay=False), help="Client certificate (PEM) for mTLS."
)
@click.option("--key", type=click.Path(exists=True, dir_okay=False), help="Client key (PEM) for mTLS.")
def bootstrap_cmd(
    node_id: str | None,
    pod: str | None,
    namespace: str,
    ip: str,
    router: bool,
    xds_address: str,
    delta: bool,
    admin_port: int,
    ca: str | None,
    cert: str | None,
    key: str | None,
) -> None:
    """Print an Envoy bootstrap (JSON) that gets all its config from `meshctl xds serve` over ADS.

    \b
    Examples:
      meshctl xds bootstrap --pod productpage-v1 -n default > envoy.json && envoy -c envoy.json
      meshctl xds bootstrap --pod reviews-v1 --delta --admin-port 15001   # incremental (delta) ADS
      meshctl xds bootstrap --pod istio-ingressgateway -n istio-system --router
      meshctl xds bootstrap --pod ratings-v1 --ca ca.pem --cert cert.pem --key key.pem   # mTLS to the server
    """
    from meshctl.xds.bootstrap import ClientTls, istio_node_id, xds_bootstrap

    if not node_id and not pod:
        raise UsageError("give --node-id or --pod")
    host, sep, port_s = xds_address.rpartition(":")
    if not sep or not port_s.isdigit():
        raise UsageError(f"--xds-address must be HOST:PORT, got {xds_address!r}")
    from meshctl.xds.pem import read_client_tls

    read_client_tls(ca, cert, key)  # Envoy reads the files only when it connects: check them now (exit 64/65)
    nid = node_id or istio_node_id(str(pod), namespace, ip, "router" if router else "sidecar")
    tls = ClientTls(ca, cert, key) if ca else None
    boot = xds_bootstrap(
        nid, xds_host=host.strip("[]"), xds_port=int(port_s), delta=delta, admin_port=admin_port, tls=tls
    )
    click.echo(json.dumps(boot, indent=2))
