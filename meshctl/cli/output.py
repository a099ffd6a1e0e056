"""Output helpers shared by every command: terminal detection, tables, JSON/YAML.

Rich tables and colour only when stdout is a terminal; otherwise plain, parseable text (Go-tabwriter
aligned, like istioctl/kubectl). Progress goes to stderr, and only when stderr is a terminal.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import yaml

from meshctl.cli.tabwriter import tabwrite


def stdout_is_terminal() -> bool:
    if os.environ.get("NO_COLOR") or os.environ.get("MESHCTL_PLAIN"):
        return False
    return sys.stdout.isatty()


def stderr_is_terminal() -> bool:
    return sys.stderr.isatty()


def format_table(headers: Sequence[str], rows: Sequence[Sequence[Any]], *, minwidth: int = 0, tabwidth: int = 8, padding: int = 5) -> str:
    """Plain table text exactly like Go's tabwriter with the given settings (trailing newline included)."""
    lines = ["\t".join(headers)] + ["\t".join("" if c is None else str(c) for c in row) for row in rows]
    return tabwrite("\n".join(lines) + "\n", minwidth, tabwidth, padding)


def print_table(
    headers: Sequence[str],
    rows: Sequence[Sequence[Any]],
    *,
    minwidth: int = 0,
    tabwidth: int = 8,
    padding: int = 5,
    title: str | None = None,
    styles: dict[str, str] | None = None,
) -> None:
    """A Rich table on a terminal, else the istioctl-compatible plain table."""
    if stdout_is_terminal():
        from rich.console import Console
        from rich.table import Table

        table = Table(title=title, box=None, header_style="bold", pad_edge=False)
        for h in headers:
            table.add_column(h, style=(styles or {}).get(h))
        for row in rows:
            table.add_row(*("" if c is None else str(c) for c in row))
        Console().print(table)
    else:
        sys.stdout.write(format_table(headers, rows, minwidth=minwidth, tabwidth=tabwidth, padding=padding))


def to_json(data: Any, indent: int = 2) -> str:
    return json.dumps(data, indent=indent, ensure_ascii=False)


def to_yaml(data: Any) -> str:
    # Plain dict/list copies so the line-aware subclasses dump as ordinary YAML.
    return yaml.safe_dump(json.loads(json.dumps(data)), sort_keys=False, default_flow_style=False, allow_unicode=True)


def emit(data: Any, fmt: str) -> None:
    """Print ``data`` as ``json`` or ``yaml``."""
    if fmt == "yaml":
        sys.stdout.write(to_yaml(data))
    else:
        sys.stdout.write(to_json(data) + "\n")


@contextmanager
def progress(message: str) -> Iterator[None]:
    """A spinner on stderr while long work runs, only when stderr is a terminal."""
    if not stderr_is_terminal():
        yield
        return
    from rich.console import Console

    with Console(stderr=True).status(message):
        yield


def display_path(path: str) -> str:
    """``path`` relative to the current directory when it lies under it (what a user can paste), else as is."""
    if not os.path.isabs(path):
        return path
    rel = os.path.relpath(path)
    return path if rel.startswith("..") else rel
