"""Line-aware containers produced by the YAML loader, and lookups of field paths in them.

They are plain ``dict``/``list`` subclasses, so the rest of the code (and ``json``/protobuf) treats them as
ordinary data; only error reporting asks them for lines.
"""

from __future__ import annotations

import re
from typing import Any


class LDict(dict):  # type: ignore[type-arg]
    """A mapping that remembers its own line and the line of each key."""

    __slots__ = ("line", "key_lines")

    def __init__(self, *a: Any, **kw: Any) -> None:
        super().__init__(*a, **kw)
        self.line: int | None = None
        self.key_lines: dict[Any, int] = {}


class LList(list):  # type: ignore[type-arg]
    """A sequence that remembers its own line and the line of each item."""

    __slots__ = ("line", "item_lines")

    def __init__(self, *a: Any) -> None:
        super().__init__(*a)
        self.line: int | None = None
        self.item_lines: list[int] = []


_PATH_TOKEN = re.compile(r"([^.\[\]]+)|\[(\d+)\]")


def parse_path(path: str) -> list[str | int]:
    """``spec.http[0].route`` -> ``["spec", "http", 0, "route"]``."""
    out: list[str | int] = []
    for name, idx in _PATH_TOKEN.findall(path):
        out.append(int(idx) if idx else name)
    return out


def line_of(obj: Any, path: str | list[str | int]) -> int | None:
    """The line of the deepest part of ``path`` that exists in ``obj`` (None when nothing is known)."""
    parts = parse_path(path) if isinstance(path, str) else path
    best: int | None = getattr(obj, "line", None)
    cur = obj
    for part in parts:
        if isinstance(cur, dict) and not isinstance(part, int) and part in cur:
            kl = getattr(cur, "key_lines", None)
            if kl and part in kl:
                best = kl[part]
            cur = cur[part]
        elif isinstance(cur, list) and isinstance(part, int) and 0 <= part < len(cur):
            il = getattr(cur, "item_lines", None)
            if il and part < len(il):
                best = il[part]
            cur = cur[part]
        else:
            break
    return best


def format_path(parts: tuple[Any, ...] | list[Any]) -> str:
    """``("spec", "http", 0, "route")`` -> ``spec.http[0].route``."""
    out = ""
    for p in parts:
        if isinstance(p, int):
            out += f"[{p}]"
        else:
            out += ("." if out else "") + str(p)
    return out
