"""The CLI shell: help, exit codes for usage errors, Go-tabwriter compatible tables."""

from __future__ import annotations

import subprocess
import sys

from meshctl.cli.output import format_table
from meshctl.cli.tabwriter import tabwrite


def test_help_lists_commands_and_examples(cli) -> None:  # type: ignore[no-untyped-def]
    code, out, _ = cli(["--help"])
    assert code == 0
    assert "Examples:" in out


def test_unknown_command_is_usage_error(cli) -> None:  # type: ignore[no-untyped-def]
    code, _, err = cli(["no-such-command"])
    assert code == 64
    assert "No such command" in err


def test_console_script_runs_as_module() -> None:
    proc = subprocess.run([sys.executable, "-m", "meshctl", "--version"], capture_output=True, text=True)
    assert proc.returncode == 0 and "meshctl" in proc.stdout


def test_tabwriter_matches_go_block_semantics() -> None:
    # Values taken from Go's text/tabwriter behaviour: the last cell is never padded and
    # widths are computed per block of consecutive lines having that column.
    text = "a\tbbb\tc\naaaa\tb\n\nx\ty\n"
    assert tabwrite(text, 0, 8, 1) == "a    bbb c\naaaa b\n\nx y\n"


def test_format_table_trailing_empty_cells_keep_padding() -> None:
    out = format_table(["A", "B"], [["x", ""], ["long", "v"]], padding=5)
    assert out == "A        B\nx        \nlong     v\n"


def test_completion_script_and_live_completion() -> None:
    import os

    proc = subprocess.run([sys.executable, "-m", "meshctl", "completion", "bash"], capture_output=True, text=True)
    assert proc.returncode == 0 and "_MESHCTL_COMPLETE" in proc.stdout
    # Ask the completion protocol itself, as bash would, for subcommands starting with "tr".
    env = dict(os.environ, _MESHCTL_COMPLETE="bash_complete", COMP_WORDS="meshctl tr", COMP_CWORD="1")
    proc = subprocess.run([sys.executable, "-c", "from meshctl.cli.main import cli; cli(prog_name='meshctl')"], capture_output=True, text=True, env=env)
    assert "translate" in proc.stdout
