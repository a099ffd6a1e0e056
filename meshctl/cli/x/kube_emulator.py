"""``meshctl x kube-emulator``: serve YAML files as a Kubernetes API server, for kubectl and ``meshctl -k``."""

from __future__ import annotations

import re
import signal
import threading

import click

from meshctl.cli.options import filename_option
from meshctl.errors import UsageError


def _parse_forward(spec: str) -> tuple[str, str, int, str, int]:
    m = re.fullmatch(r"(?:([^/]+)/)?([^:]+):(\d+)=(?:([^:]+):)?(\d+)", spec)
    if not m:
        raise UsageError(f"--forward {spec!r}: expected [NAMESPACE/]POD:PORT=[HOST:]LOCALPORT", field="--forward")
    return m.group(1) or "default", m.group(2), int(m.group(3)), m.group(4) or "127.0.0.1", int(m.group(5))


@click.command("kube-emulator")
@filename_option(help="Objects to serve: file, directory (recursive) or - ; repeatable.")
@click.option("--port", type=int, default=0, show_default=True, help="Port to listen on (0: a free one).")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on (loopback only by default).")
@click.option("--kubeconfig-out", "kubeconfig_out", type=click.Path(dir_okay=False), default=None,
              help="Write a kubeconfig for the emulator here (use it with kubectl --kubeconfig / meshctl --kubeconfig).")
@click.option("--context-name", default="emulator", show_default=True, help="Cluster/context name in the kubeconfig.")
@click.option("--token", default=None, help="Require this bearer token (others get 401; implies --tls); written into the kubeconfig.")
@click.option("--tls", is_flag=True, help="Serve HTTPS with a throwaway self-signed certificate (needs openssl).")
@click.option("--no-istio-crds", is_flag=True, help="Do not pre-install Istio's CRDs (as on a cluster without Istio).")
@click.option("--forward", "forwards", multiple=True, metavar="[NS/]POD:PORT=[HOST:]LOCALPORT",
              help="Where pods/portforward to POD:PORT connects, e.g. default/productpage-v1-0:15000=127.0.0.1:15000.")
@click.option("--no-controllers", is_flag=True,
              help="Do not simulate controllers (by default Deployments/StatefulSets/DaemonSets get Running Pods with IPs "
                   "and Services get EndpointSlices/Endpoints, like a running cluster).")
@click.option("-v", "--verbose", is_flag=True, help="Log every request to stderr.")
def command(filenames: tuple[str, ...], port: int, host: str, kubeconfig_out: str | None, context_name: str,
            token: str | None, tls: bool, no_istio_crds: bool, forwards: tuple[str, ...], no_controllers: bool, verbose: bool) -> None:
    """Serve the objects in -f as a Kubernetes API server until Ctrl-C.

    Supports what kubectl (get/-w/apply/patch/delete) and meshctl's cluster source need: discovery, list/watch
    with resourceVersions, writes, Istio CRDs, and pods/portforward to local ports. State lives in memory.

    \b
    Example:
      meshctl x kube-emulator -f meshctl/examples/bookinfo --kubeconfig-out /tmp/kubeconfig &
      kubectl --kubeconfig /tmp/kubeconfig get virtualservices -A
      meshctl analyze -k --kubeconfig /tmp/kubeconfig -A
    """
    from meshctl.testing.kubeapi import KubeEmulator

    parsed = [_parse_forward(f) for f in forwards]
    emu = KubeEmulator(host=host, port=port, istio_crds=not no_istio_crds, tokens={token: "admin"} if token else None,
                       verbose=verbose, tls=tls or bool(token), controllers=not no_controllers)
    loaded = emu.load(filenames) if filenames else []
    for ns, pod, pport, thost, tport in parsed:
        emu.add_port_forward(ns, pod, pport, (thost, tport))
    try:
        emu.start()
    except OSError as e:
        raise UsageError(f"cannot listen on {host}:{port}: {e.strerror}", field="--port") from None
    if kubeconfig_out:
        emu.write_kubeconfig(kubeconfig_out, context=context_name, token=token)
    click.echo(f"Kubernetes API emulator serving {len(loaded)} objects at {emu.url}"
               + (f"; kubeconfig: {kubeconfig_out}" if kubeconfig_out else "") + " (Ctrl-C to stop)", err=True)
    done = threading.Event()
    old = signal.signal(signal.SIGTERM, lambda *_: done.set()) if threading.current_thread() is threading.main_thread() else None
    try:
        while not done.wait(0.5):
            pass
    except KeyboardInterrupt:
        pass
    finally:
        emu.stop()
        if old is not None:
            signal.signal(signal.SIGTERM, old)
