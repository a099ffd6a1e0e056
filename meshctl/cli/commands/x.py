"""``meshctl x``: inspection and tooling commands (model dump, Kubernetes API emulator, ...)."""

from __future__ import annotations

import click

from meshctl.cli.main import CONTEXT_SETTINGS, LazyGroup


@click.group(cls=LazyGroup, package="meshctl.cli.x", context_settings=CONTEXT_SETTINGS)
def command() -> None:
    """Inspection and tooling commands (model, kube-emulator, ...)."""


command.name = "x"
