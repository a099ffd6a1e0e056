"""Kubernetes label and field selectors (``app=x,tier!=db,env in (a,b),!legacy``), enough for list/watch filtering."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

Predicate = Callable[[dict[str, Any]], bool]

_SET_RE = re.compile(r"^\s*([A-Za-z0-9_./-]+)\s+(in|notin)\s*\(([^)]*)\)\s*$")


def _split_top(expr: str) -> list[str]:
    """Split on commas that are not inside parentheses."""
    out, depth, cur = [], 0, ""
    for ch in expr:
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
        if ch == "," and depth == 0:
            out.append(cur)
            cur = ""
        else:
            cur += ch
    if cur.strip():
        out.append(cur)
    return [p.strip() for p in out if p.strip()]


def parse_label_selector(expr: str | None) -> Callable[[dict[str, str]], bool]:
    """A predicate over a labels mapping; raises ValueError on a malformed selector."""
    if not expr:
        return lambda labels: True
    tests: list[Any] = []  # predicates over a labels mapping
    for term in _split_top(expr):
        m = _SET_RE.match(term)
        if m:
            key, op, vals = m.group(1), m.group(2), {v.strip() for v in m.group(3).split(",") if v.strip()}
            if op == "in":
                tests.append(lambda lb, k=key, vs=vals: lb.get(k) in vs)
            else:
                tests.append(lambda lb, k=key, vs=vals: lb.get(k) not in vs)
        elif "!=" in term:
            k, v = (s.strip() for s in term.split("!=", 1))
            tests.append(lambda lb, k=k, v=v: lb.get(k) != v)
        elif "==" in term or "=" in term:
            k, v = (s.strip() for s in re.split("==?", term, maxsplit=1))
            tests.append(lambda lb, k=k, v=v: lb.get(k) == v)
        elif term.startswith("!"):
            k = term[1:].strip()
            tests.append(lambda lb, k=k: k not in lb)
        elif re.fullmatch(r"[A-Za-z0-9_./-]+", term):
            tests.append(lambda lb, k=term: k in lb)
        else:
            raise ValueError(f"unable to parse requirement: {term!r}")
    return lambda labels: all(t(labels) for t in tests)


def field_value(obj: dict[str, Any], path: str) -> Any:
    cur: Any = obj
    for part in path.split("."):
        if not isinstance(cur, dict):
            return None
        cur = cur.get(part)
    return cur


def parse_field_selector(expr: str | None) -> Predicate:
    """``metadata.name=x,metadata.namespace!=y``: equality on dotted paths (what list/watch callers use)."""
    if not expr:
        return lambda obj: True
    tests: list[Predicate] = []
    for term in _split_top(expr):
        neg = "!=" in term
        m = re.split("!=|==|=", term, maxsplit=1)
        if len(m) != 2:
            raise ValueError(f"invalid field selector: {term!r}")
        path, want = m[0].strip(), m[1].strip()

        def test(obj: dict[str, Any], path: str = path, want: str = want, neg: bool = neg) -> bool:
            v = field_value(obj, path)
            got = "" if v is None else str(v)
            return (got != want) if neg else (got == want)

        tests.append(test)
    return lambda obj: all(t(obj) for t in tests)
