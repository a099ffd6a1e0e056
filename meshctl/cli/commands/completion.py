"""``meshctl completion bash|zsh|fish``: print a shell completion script (kubectl/istioctl style)."""

from __future__ import annotations

import click
from click.shell_completion import get_completion_class

from meshctl.errors import UsageError


@click.command(
    "completion",
    epilog="""\b
Examples:
  source <(meshctl completion bash)                       # bash, this shell
  meshctl completion zsh > "${fpath[1]}/_meshctl"          # zsh
  meshctl completion fish > ~/.config/fish/completions/meshctl.fish
""",
)
@click.argument("shell", type=click.Choice(["bash", "zsh", "fish"]))
def command(shell: str) -> None:
    """Print the completion script for SHELL; subcommands, flags and choices complete."""
    from meshctl.cli.main import cli

    cls = get_completion_class(shell)
    if cls is None:  # pragma: no cover - click knows all three
        raise UsageError(f"unsupported shell {shell!r}")
    comp = cls(cli, {}, "meshctl", "_MESHCTL_COMPLETE")
    click.echo(comp.source())
