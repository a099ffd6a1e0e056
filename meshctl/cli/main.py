"""``meshctl`` entry point: a lazily loaded click group and the mapping of errors to exit codes.

Each top-level command lives in its own module ``meshctl/cli/commands/<name>.py`` (``-`` in the command
name becomes ``_``) exposing ``command``: a click command or group. Modules load only when their command
runs, so ``meshctl --help`` and simple commands start fast and one broken module cannot break the others.
"""

from __future__ import annotations

import importlib
import os
import pkgutil
import sys
from typing import Any

import click

from meshctl import __version__
from meshctl.errors import EXIT_SOFTWARE, EXIT_USAGE, MeshctlError

#: Short names users know from istioctl/kubectl.
ALIASES = {
    "pc": "proxy-config",
    "ps": "proxy-status",
    "experimental": "x",  # istioctl's name: `meshctl experimental describe pod ...`
}


class LazyGroup(click.Group):
    """A click group whose subcommands are modules of a package, imported on first use."""

    def __init__(self, *args: Any, package: str, aliases: dict[str, str] | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._package = package
        self._aliases = aliases or {}

    def _module_names(self) -> list[str]:
        pkg = importlib.import_module(self._package)
        return sorted(m.name for m in pkgutil.iter_modules(pkg.__path__) if not m.name.startswith("_"))

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(set(super().list_commands(ctx)) | {m.replace("_", "-") for m in self._module_names()})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        cmd = super().get_command(ctx, cmd_name)
        if cmd is not None:
            return cmd
        cmd_name = self._aliases.get(cmd_name, cmd_name)
        mod_name = cmd_name.replace("-", "_")
        if mod_name not in self._module_names():
            return None
        module = importlib.import_module(f"{self._package}.{mod_name}")
        command = getattr(module, "command", None)
        if not isinstance(command, click.Command):
            raise RuntimeError(f"{self._package}.{mod_name} does not define a click `command`")
        return command

    def resolve_command(self, ctx: click.Context, args: list[str]) -> tuple[str | None, click.Command | None, list[str]]:
        # Report the canonical name (so `meshctl pc --help` says "proxy-config").
        name, cmd, rest = super().resolve_command(ctx, args)
        return (cmd.name if cmd else name), cmd, rest


CONTEXT_SETTINGS = {"help_option_names": ["-h", "--help"], "max_content_width": 110}


@click.group(
    cls=LazyGroup,
    package="meshctl.cli.commands",
    aliases=ALIASES,
    context_settings=CONTEXT_SETTINGS,
    epilog="""\b
Examples:
  meshctl demo                                  # a local mesh of real Envoys, no cluster needed
  meshctl translate -f meshctl/examples/bookinfo --proxy deploy/productpage-v1 --type route
  meshctl analyze -A -f manifests/
  meshctl proxy-config cluster --admin http://127.0.0.1:15000
  meshctl pc diff --admin http://127.0.0.1:15000 -f manifests/ --proxy pod/reviews-v1-0
""",
)
@click.version_option(__version__, "--version", prog_name="meshctl")
def cli() -> None:
    """meshctl: why does traffic go where it goes? Debug Istio/Envoy meshes offline, live and in CI."""


def main(argv: list[str] | None = None) -> None:
    """Run the CLI and exit with meshctl's documented codes; errors are one clear line, never a traceback."""
    try:
        rv = cli.main(args=argv, prog_name="meshctl", standalone_mode=False)
    except click.exceptions.Exit as e:
        sys.exit(e.exit_code)
    except click.exceptions.Abort:
        click.echo("Aborted.", err=True)
        sys.exit(130)
    except click.UsageError as e:
        e.show()
        sys.exit(EXIT_USAGE)
    except click.ClickException as e:
        e.show()
        sys.exit(e.exit_code if e.exit_code not in (0, 1, 2) else EXIT_USAGE)
    except MeshctlError as e:
        click.echo(f"Error: {e}", err=True)
        for hint in e.hints:
            click.echo(f"  hint: {hint}", err=True)
        sys.exit(e.exit_code)
    except KeyboardInterrupt:
        sys.exit(130)
    except BrokenPipeError:
        # Output piped into `head` etc.: quiet exit, like other Unix tools.
        try:
            sys.stdout = open(os.devnull, "w")  # noqa: SIM115
        finally:
            sys.exit(0)
    except Exception as e:  # a bug: say so briefly; MESHCTL_DEBUG=1 shows the traceback
        if os.environ.get("MESHCTL_DEBUG"):
            raise
        click.echo(f"Internal error: {type(e).__name__}: {e}", err=True)
        click.echo("  hint: this is a bug in meshctl; rerun with MESHCTL_DEBUG=1 for the traceback", err=True)
        sys.exit(EXIT_SOFTWARE)
    sys.exit(rv if isinstance(rv, int) else 0)
