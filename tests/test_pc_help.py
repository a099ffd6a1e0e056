"""Every proxy-config subcommand, ``describe pod|service`` and ``explain`` shows kubectl-style examples in
``--help``, and every example names the command it documents and parses with its real options (so an example
cannot go stale when a flag is renamed)."""

from __future__ import annotations

import shlex
from typing import Any

import click
import pytest

from meshctl.cli.main import cli as root

COMMANDS = [
    ["pc"],
    *(
        ["pc", sub]
        for sub in (
            "cluster",
            "listener",
            "route",
            "endpoint",
            "eds",
            "secret",
            "bootstrap",
            "ecds",
            "all",
            "log",
            "rootca-compare",
            "diff",
        )
    ),
    ["describe"],
    ["describe", "pod"],
    ["describe", "service"],
    ["explain"],
]
SPELLINGS = {"pc": {"pc", "proxy-config"}, "describe": {"describe"}, "explain": {"explain"}}


def _examples(help_text: str) -> list[str]:
    lines = help_text.splitlines()
    start = next(i for i, ln in enumerate(lines) if ln.strip() == "Examples:")
    out = []
    for ln in lines[start + 1 :]:
        if not ln.strip():
            break
        out.append(ln.strip())
    return out


def _resolve(args: list[str]) -> tuple[click.Command, list[str], list[str]]:
    """(leaf command, its remaining args, the command path) the way the CLI dispatches ``meshctl ARGS``."""
    ctx = root.make_context("meshctl", list(args), resilient_parsing=True)
    cmd: Any = root
    rest = list(args)
    path: list[str] = []
    while isinstance(cmd, click.Group) and rest and not rest[0].startswith("-"):
        name, sub, rest = cmd.resolve_command(ctx, rest)
        assert sub is not None, f"no command {name!r}"
        path.append(sub.name or "")
        ctx = sub.make_context(sub.name, list(rest), parent=ctx, resilient_parsing=True)
        cmd = sub
    return cmd, rest, path


@pytest.mark.parametrize("command", COMMANDS, ids=lambda c: " ".join(c))
def test_help_has_examples_that_parse(cli: Any, command: list[str]) -> None:
    code, out, err = cli([*command, "--help"])
    assert code == 0, err
    examples = _examples(out)
    assert examples, out
    leaf_expected, _, path_expected = _resolve(command)
    for ex in examples:
        assert "meshctl " in ex, ex
        words = shlex.split(ex.split("meshctl ", 1)[1], comments=True)
        assert words[0] in SPELLINGS[command[0]], ex
        leaf, rest, path = _resolve(words)
        if len(command) > 1 or not isinstance(leaf_expected, click.Group):
            assert path == path_expected, ex  # the example shows this very command
        with leaf.make_context(leaf.name, list(rest)) as _:  # real option parsing: raises on a stale flag
            pass
