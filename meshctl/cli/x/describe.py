"""``meshctl x describe``: istioctl's spelling (``istioctl experimental describe``) of ``meshctl describe``."""

from __future__ import annotations

from meshctl.cli.commands.describe import command

__all__ = ["command"]
