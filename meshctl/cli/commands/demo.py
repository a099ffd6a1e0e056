"""``meshctl demo``: a local mesh of real Envoys on loopback, plus ``demo apply`` and ``demo status`` to drive it."""

from __future__ import annotations

import signal
import sys
import threading
from types import FrameType
from typing import Any

import click

from meshctl.cli.main import CONTEXT_SETTINGS
from meshctl.cli.output import emit, print_table
from meshctl.errors import InputError, UnavailableError

STATUS_FILE_HELP = "The JSON file the demo writes (default: a per-user file in $XDG_RUNTIME_DIR or /tmp)."


def running_demo_options(f: Any) -> Any:
    """How ``apply``, ``delete`` and ``status`` find the running demo: its status file or its control URL."""
    f = click.option(
        "--control", default=None, help="Control endpoint URL of the demo (default: from the status file)."
    )(f)
    return click.option("--status-file", default=None, help=STATUS_FILE_HELP)(f)


def port_option(flag: str, default: int, help: str) -> Any:
    """A TCP port option with its documented default."""
    return click.option(flag, type=click.IntRange(1, 65535), default=default, show_default=True, help=help)


@click.group(
    "demo",
    invoke_without_command=True,
    context_settings=CONTEXT_SETTINGS,
    epilog="""\b
Examples:
  meshctl demo                                   # bookinfo: 6 sidecars + an ingress gateway, Ctrl-C stops it
  meshctl demo --no-load --status-file demo.json # no generated traffic; machine-readable addresses
  meshctl demo -f my-mesh/ --subnet 7            # your own manifests, on 127.0.7.x
  meshctl demo apply meshctl/examples/bookinfo-changes/reviews-v3.yaml   # from another terminal
  meshctl demo delete meshctl/examples/bookinfo-changes/ratings-fault-jason.yaml  # delete that VS (not an undo)
  meshctl demo apply meshctl/examples/bookinfo/routing.yaml              # revert to the original routing
  meshctl demo status                            # proxies, xDS sync, traffic counts
  curl -H 'end-user: jason' http://127.0.1.10:8080/productpage
""",
)
@click.option(
    "-f",
    "--filename",
    "filenames",
    multiple=True,
    help="Mesh config to run (default: the bundled bookinfo example).",
)
@click.option(
    "--subnet",
    type=click.IntRange(0, 255),
    default=1,
    show_default=True,
    help="Use 127.0.<subnet>.x addresses.",
)
@port_option("--xds-port", 15010, "xDS (gRPC) port.")
@port_option("--debug-port", 15014, "xDS debug HTTP port.")
@port_option("--control-port", 15080, "Port of the demo's control endpoint.")
@port_option("--admin-port", 15000, "Envoy admin port (on each pod's IP).")
@click.option(
    "--load/--no-load", default=True, show_default=True, help="Generate traffic through the ingress gateway."
)
@click.option(
    "--rate",
    type=click.FloatRange(0.1, 100),
    default=2.0,
    show_default=True,
    help="Load generator requests per second.",
)
@click.option(
    "--xds-mode",
    type=click.Choice(["delta", "sotw"]),
    default="delta",
    show_default=True,
    help="xDS protocol variant.",
)
@click.option("--status-file", default=None, help=STATUS_FILE_HELP)
@click.option(
    "--meshconfig", "mesh_config", default=None, help="MeshConfig file (as for translate and xds serve)."
)
@click.option("--log-dir", default=None, help="Keep each Envoy's bootstrap and log in this directory.")
@click.option("--log-level", default="warning", show_default=True, help="Envoy log level.")
@click.option(
    "--ready-timeout",
    type=float,
    default=60.0,
    show_default=True,
    help="Seconds to wait for every proxy to sync.",
)
@click.pass_context
def command(ctx: click.Context, filenames: tuple[str, ...], **kw: Any) -> None:
    """Run a local service mesh of real Envoys on loopback: no cluster, no root.

    \b
    Starts meshctl's xDS server on the bookinfo example, one Envoy per workload (productpage, details,
    reviews v1/v2/v3, ratings) each on its own 127.0.x.y address with a small app behind it, an ingress
    gateway, and a light load generator. An Envoy that dies is restarted (same bootstrap and admin
    address); only a crash loop (3 restarts within 30 s) stops the demo. Stays up until Ctrl-C, then
    stops every process it started.
    """
    if ctx.invoked_subcommand is not None:
        return
    from meshctl.demo.mesh import DemoCancelled, DemoMesh, DemoOptions

    opts = DemoOptions(**kw)  # every option but -f is a DemoOptions field of the same name
    if filenames:
        opts.paths = list(filenames)
    stop = threading.Event()
    previous = _install_signal_handlers(stop)
    demo = DemoMesh(opts, progress=lambda msg: click.echo(f"demo: {msg}", err=True), cancel=stop)
    try:
        demo.start()
        click.echo(banner(demo.describe()))
        while not stop.wait(0.5):
            for line in demo.supervise():  # a dead Envoy is restarted; only a crash loop stops the demo
                click.echo(f"demo: {line}", err=True)
    except (KeyboardInterrupt, DemoCancelled):
        pass
    finally:
        click.echo("stopping the demo mesh ...", err=True)
        demo.close()
        _restore_signal_handlers(previous)
        click.echo("stopped: all Envoys and apps are down", err=True)


def _install_signal_handlers(stop: threading.Event) -> dict[int, Any]:
    """SIGINT/SIGTERM/SIGHUP only set ``stop``: start-up checks it between steps and while waiting, the run loop
    wakes on it. (Raising from a handler could land inside a fork or logging lock and wedge the process.)"""
    previous: dict[int, Any] = {}
    if threading.current_thread() is not threading.main_thread():
        return previous

    def handler(signum: int, frame: FrameType | None) -> None:
        stop.set()

    for sig in (signal.SIGTERM, signal.SIGHUP, signal.SIGINT):
        previous[sig] = signal.signal(sig, handler)
    return previous


def _restore_signal_handlers(previous: dict[int, Any]) -> None:
    for sig, h in previous.items():
        signal.signal(sig, h)


def _change_file(name: str) -> str:
    """A bundled change file, as a path the user can paste from where they are."""
    from meshctl.cli.output import display_path
    from meshctl.demo.mesh import EXAMPLE

    return display_path(str(EXAMPLE.parent / "bookinfo-changes" / name))


def banner(info: dict[str, Any]) -> str:
    """What a new user needs after start-up: where things are and what to try next."""
    lines = ["", "meshctl demo mesh is up (Ctrl-C to stop)", ""]
    if info.get("ingress_url"):
        lines.append(f"  ingress gateway   {info['ingress_url']}")
    lines.append(f"  xDS server        {info['xds_address']}   (debug: {info['debug_url']}/debug/syncz)")
    lines.append(f"  control endpoint  {info['control_url']}")
    lines.append("")
    width = max(len(p["name"]) for p in info["proxies"])
    for p in info["proxies"]:
        lines.append(f"  {p['name']:<{width}}  {p['type']:<7}  admin {p['admin_url']}")
    sidecar = next((p for p in info["proxies"] if p["type"] == "sidecar"), None)
    status_file = info.get("status_file")
    sf = f" --status-file {status_file}" if status_file else ""
    lines += ["", "Try:"]
    if info.get("ingress_url"):
        lines.append(f"  curl -s {info['ingress_url']} | grep 'served by'")
        lines.append(f"  curl -s -H 'end-user: jason' {info['ingress_url']} | grep 'served by'")
    lines.append(f"  meshctl proxy-status --xds {info['xds_address']}")
    if sidecar:
        lines.append(f"  meshctl proxy-config routes --admin {sidecar['admin_url']}")
    lines.append(f"  meshctl tui --demo{sf}")
    lines.append(f"  meshctl demo apply{sf} {_change_file('reviews-v3.yaml')}")
    lines.append(f"  meshctl demo status{sf}")
    return "\n".join(lines) + "\n"


@command.command("apply", context_settings=CONTEXT_SETTINGS)
@click.argument("files", nargs=-1, required=True)
@running_demo_options
def apply_command(files: tuple[str, ...], status_file: str | None, control: str | None) -> None:
    """Change the running demo's mesh config live (resources replace same kind/namespace/name).

    \b
    Examples:
      meshctl demo apply meshctl/examples/bookinfo-changes/reviews-v3.yaml
      cat my-vs.yaml | meshctl demo apply -
    """
    _send(files, status_file, control, "apply")


@command.command("delete", context_settings=CONTEXT_SETTINGS)
@click.argument("files", nargs=-1, required=True)
@running_demo_options
def delete_command(files: tuple[str, ...], status_file: str | None, control: str | None) -> None:
    """Delete the resources a file names from the running demo (kubectl delete -f semantics).

    Resources are matched by kind/namespace/name; their bodies are ignored. This is not an undo of
    `demo apply`: deleting the VirtualService an apply changed removes it altogether. To revert an
    apply, apply the original file again.

    \b
    Examples:
      meshctl demo delete meshctl/examples/bookinfo-changes/ratings-fault-jason.yaml
      # revert `demo apply .../reviews-v3.yaml` (do not delete it): re-apply the original routing
      meshctl demo apply meshctl/examples/bookinfo/routing.yaml
    """
    _send(files, status_file, control, "delete")


def _send(files: tuple[str, ...], status_file: str | None, control: str | None, action: str) -> None:
    from meshctl.demo.control import control_url, post_apply

    url = control_url(control, status_file)
    for f in files:
        result = post_apply(url, _read(f), f, action=action)
        for line in result["applied"]:
            click.echo(line)
        note = (
            "all proxies synced" if result["synced"] else f"not yet synced: {', '.join(result['not_synced'])}"
        )
        click.echo(
            f"config version {result['version']}: {len(result['changed_proxies'])} proxies changed, {note}"
        )
        rejected = result.get("rejected") or {}
        if rejected:
            for node, per_type in sorted(rejected.items()):
                for type_, msg in sorted(per_type.items()):
                    click.echo(f"{node}: {type_} NACK: {msg}", err=True)
            raise InputError(
                f"Envoy rejected config version {result['version']} on {len(rejected)} proxies; they keep their "
                "previous config",
                file=f,
                hints=["fix the file and apply it again (meshctl proxy-status shows the NACKs)"],
            )
        if not result["synced"]:
            raise UnavailableError(
                f"{len(result['not_synced'])} proxies did not acknowledge config version {result['version']} in time",
                hints=["meshctl demo status shows each proxy's xDS state"],
            )


def _read(path: str) -> str:
    if path == "-":
        return sys.stdin.read()
    try:
        with open(path, encoding="utf-8") as fh:
            return fh.read()
    except FileNotFoundError:
        raise InputError("no such file", file=path) from None
    except OSError as e:
        raise InputError(f"cannot read: {e.strerror}", file=path) from None


@command.command("status", context_settings=CONTEXT_SETTINGS)
@running_demo_options
@click.option(
    "-o", "--output", type=click.Choice(["text", "json", "yaml"]), default="text", show_default=True
)
def status_command(status_file: str | None, control: str | None, output: str) -> None:
    """Show the running demo: addresses, each proxy's Envoy (UP/DOWN, restarts), xDS sync state, traffic counts.

    \b
    Examples:
      meshctl demo status
      meshctl demo status --status-file demo.json -o json   # for scripts: proxies[].alive, .restarts, .sync
    """
    from meshctl.demo.control import control_url, get_status

    data = get_status(control_url(control, status_file))
    if output != "text":
        emit(data, output)
        return
    click.echo(
        f"ingress: {data.get('ingress_url') or '-'}   xDS: {data['xds_address']}   config version: {data['config_version']}"
    )
    rows = []
    for p in data["proxies"]:
        sync = p.get("sync") or {}
        rows.append(
            [
                p["name"],
                p["type"],
                p["ip"],
                "UP" if p.get("alive") else "DOWN",
                str(p.get("restarts", 0)),
                *(sync.get(t, "-") for t in ("CDS", "LDS", "EDS", "RDS")),
                p["admin_url"] or "-",
            ]
        )
    print_table(["NAME", "TYPE", "IP", "ENVOY", "RESTARTS", "CDS", "LDS", "EDS", "RDS", "ADMIN"], rows)
    load = data.get("load")
    if load:
        by = ", ".join(f"{k}={v}" for k, v in sorted(load["by_reviews"].items())) or "-"
        codes = ", ".join(f"{k}={v}" for k, v in sorted(load["by_status"].items())) or "-"
        click.echo(f"load: {load['requests']} requests ({codes}); reviews served by: {by}")
    for a in data.get("applied") or []:
        click.echo(
            f"applied {a['file']} -> version {a['version']} ({'synced' if a['synced'] else 'not synced'})"
        )
