"""Kiali's graph Find / Hide expression language, over meshctl's graph.

Grammar (Kiali ``GraphFind.tsx`` / ``GraphHelpFind.tsx``): an expression is terms joined by ``AND`` / ``OR``
(also ``&&`` / ``||``; ``OR`` binds tighter than ``AND``; no parentheses). A term is ``operand op value``
with ``op`` one of ``= != ^= !^= $= !$= *= !*= > >= < <=`` (``startswith``/``endswith``/``contains`` spelled
out work too), or a unary flag optionally negated with ``!``/``not``. ``= NaN`` means "no activity".
One expression targets nodes or edges, never both. Names compare case-insensitively.

Find marks what matches; Hide removes it: hiding a node hides its edges, hiding edges hides the nodes left
with no visible edge (as Kiali does).
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import networkx as nx

from meshctl.errors import UsageError

# operand aliases -> canonical
_ALIASES = {
    "ns": "namespace", "svc": "service", "wl": "workload", "se": "serviceentry", "we": "workloadentry",
    "op": "operation", "rt": "responsetime", "om": "outofmesh", "vs": "virtualservice", "cb": "circuitbreaker",
    "fi": "faultinjection", "mi": "mirroring", "rr": "requestrouting", "rto": "requesttimeout",
    "ts": "trafficshifting", "tcpts": "tcptrafficshifting", "root": "trafficsource", "sc": "outofmesh",
    "%error": "%httperr", "%err": "%httperr",
}
NODE_STRING = {"app", "cluster", "name", "namespace", "node", "operation", "service", "version", "workload"}
NODE_NUMERIC = {"grpcin", "grpcout", "httpin", "httpout", "tcpin", "tcpout", "rank"}
NODE_FLAGS = {
    "circuitbreaker", "faultinjection", "healthy", "degraded", "failure", "unhealthy", "idle", "mirroring", "outside",
    "requestrouting", "requesttimeout", "outofmesh", "serviceentry", "tcptrafficshifting", "trafficshifting",
    "trafficsource", "virtualservice", "workloadentry", "gateway", "unexplained",
}
EDGE_STRING = {"destprincipal", "sourceprincipal", "protocol"}
EDGE_NUMERIC = {"grpc", "%grpcerr", "%grpctraffic", "http", "%httperr", "%httptraffic", "responsetime", "tcp",
                "throughput", "weight", "rps"}
EDGE_FLAGS = {"mtls", "traffic", "unexplained", "configured"}
OPERANDS = sorted(NODE_STRING | NODE_NUMERIC | NODE_FLAGS | EDGE_STRING | EDGE_NUMERIC | EDGE_FLAGS | {"label:"})

_OPS = ("!^=", "!$=", "!*=", "!=", "^=", "$=", "*=", ">=", "<=", "=", ">", "<")
_WORD_OPS = {"startswith": "^=", "endswith": "$=", "contains": "*=", "!startswith": "!^=", "!endswith": "!$=",
             "!contains": "!*=", "is": "="}
_TERM = re.compile(r"^\s*(?P<operand>[%A-Za-z][\w%:./-]*)\s*(?P<op>!\^=|!\$=|!\*=|!=|\^=|\$=|\*=|>=|<=|=|>|<)\s*(?P<value>.+?)\s*$")


@dataclass(frozen=True)
class Term:
    target: str  # "node" | "edge"
    operand: str
    op: str | None  # None = unary flag
    value: str
    negate: bool = False


@dataclass(frozen=True)
class Expression:
    """Parsed expression: a list of AND-groups, each a list of OR-ed terms (OR binds tighter than AND)."""

    target: str
    groups: tuple[tuple[Term, ...], ...]
    text: str

    def matches(self, attrs: dict[str, Any]) -> bool:
        return all(any(_eval(t, attrs) for t in group) for group in self.groups)


def _canon(operand: str) -> str:
    o = operand.lower()
    return _ALIASES.get(o, o)


def _target(operand: str) -> str | None:
    if operand.startswith("label:") or operand in NODE_STRING | NODE_NUMERIC | NODE_FLAGS - {"unexplained"}:
        return "node"
    if operand in EDGE_STRING | EDGE_NUMERIC | EDGE_FLAGS:
        return "edge"
    return None


def _parse_term(text: str, expr: str) -> Term:
    raw = text.strip()
    if not raw:
        raise UsageError(f"find/hide expression {expr!r}: empty term", field="expression")
    # word operators: "name contains rev"
    words = raw.split()
    if len(words) >= 3 and words[1].lower() in _WORD_OPS:
        raw = f"{words[0]} {_WORD_OPS[words[1].lower()]} {' '.join(words[2:])}"
    m = _TERM.match(raw)
    if m is None:
        negate = False
        flag = raw
        if flag.startswith("!"):
            negate, flag = True, flag[1:].strip()
        elif flag.lower().startswith("not "):
            negate, flag = True, flag[4:].strip()
        operand = _canon(flag)
        if operand not in NODE_FLAGS | EDGE_FLAGS:
            raise UsageError(
                f"find/hide expression {expr!r}: {flag!r} is not a unary operand "
                f"(use operand op value, e.g. name = reviews; unary: {', '.join(sorted(NODE_FLAGS | EDGE_FLAGS))})",
                field="expression",
            )
        target = "edge" if operand in EDGE_FLAGS and operand not in NODE_FLAGS else "node"
        if operand == "unexplained":
            target = "edge"
        return Term(target, operand, None, "", negate)
    operand = _canon(m.group("operand"))
    found = _target(operand)
    if found is None:
        raise UsageError(f"find/hide expression {expr!r}: unknown operand {m.group('operand')!r} "
                         f"(known: {', '.join(OPERANDS)})", field="expression")
    value = m.group("value").strip().strip("'\"")
    op = m.group("op")
    numeric = operand in NODE_NUMERIC | EDGE_NUMERIC
    if numeric and value.lower() != "nan":
        try:
            float(value)
        except ValueError:
            raise UsageError(f"find/hide expression {expr!r}: {operand} needs a number, got {value!r}", field="expression") from None
    if not numeric and op in (">", ">=", "<", "<="):
        raise UsageError(f"find/hide expression {expr!r}: {op} needs a numeric operand, {operand} is text", field="expression")
    return Term(found, operand, op, value)


def parse(expr: str) -> Expression:
    """Parse a Kiali find/hide expression; raises :class:`UsageError` naming the problem."""
    text = expr.strip()
    if not text:
        raise UsageError("empty find/hide expression", field="expression")
    norm = re.sub(r"\s*&&\s*", " AND ", re.sub(r"\s*\|\|\s*", " OR ", text)).strip()
    dangling = re.search(r"(?:^|\s)(and|or)$", norm, flags=re.IGNORECASE) or re.match(r"^(and|or)(?:\s|$)", norm, flags=re.IGNORECASE)
    if dangling:
        raise UsageError(f"find/hide expression {expr!r}: {dangling.group(1).upper()} needs a term on both sides", field="expression")
    groups = []
    for part in re.split(r"\s+and\s+", norm, flags=re.IGNORECASE):
        groups.append(tuple(_parse_term(t, expr) for t in re.split(r"\s+or\s+", part, flags=re.IGNORECASE)))
    targets = {t.target for g in groups for t in g}
    if len(targets) > 1:
        raise UsageError(f"find/hide expression {expr!r} mixes node and edge operands; use one kind per expression",
                         field="expression")
    return Expression(targets.pop(), tuple(groups), text)


# ---------------------------------------------------------------------------------------------------
def _node_value(operand: str, d: dict[str, Any]) -> Any:
    if operand.startswith("label:"):
        return (d.get("labels") or {}).get(operand[len("label:"):], "")
    if operand == "name":
        return d.get("name", "")
    if operand == "node":
        return d.get("node_type", "")
    if operand in ("httpin", "grpcin", "tcpin", "httpout", "grpcout", "tcpout"):
        inbound = operand.endswith("in")
        proto = operand[:-2] if inbound else operand[:-3]
        return d.get(f"{proto}_{'in' if inbound else 'out'}", 0.0)
    if operand == "rank":
        return d.get("rank", 0)
    return d.get(operand, "")


def _node_flag(operand: str, d: dict[str, Any]) -> bool:
    badges = set(d.get("badges", []))
    health = d.get("health")
    return {
        "healthy": health == "healthy",
        "degraded": health == "degraded",
        "failure": health == "failure",
        "unhealthy": health in ("degraded", "failure"),
        "idle": bool(d.get("idle")),
        "outside": bool(d.get("outside")) or bool(d.get("external")),
        "outofmesh": "missingsidecar" in badges,
        "serviceentry": d.get("node_type") == "serviceentry",
        "trafficsource": bool(d.get("traffic_source")),
        "gateway": bool(d.get("is_gateway")),
        "workloadentry": "workloadentry" in badges,
    }.get(operand, operand in badges)


def _edge_value(operand: str, e: dict[str, Any]) -> Any:
    lat = e.get("latency_ms") or {}
    return {
        "http": e.get("rps", 0.0) if e.get("protocol", "http") == "http" else 0.0,
        "grpc": e.get("rps", 0.0) if e.get("protocol") == "grpc" else 0.0,
        "tcp": e.get("bytes_per_s", 0.0) if e.get("protocol") == "tcp" else 0.0,
        "rps": e.get("rps", 0.0),
        "%httperr": e.get("errpct", 0.0),
        "%grpcerr": e.get("errpct", 0.0),
        "%httptraffic": e.get("pcttraffic", 0.0),
        "%grpctraffic": e.get("pcttraffic", 0.0),
        "responsetime": lat.get("p95", math.nan),
        "throughput": e.get("bytes_per_s", 0.0),
        "weight": e.get("weight") if e.get("weight") is not None else math.nan,
        "protocol": e.get("protocol", ""),
        "destprincipal": e.get("dest_principal", ""),
        "sourceprincipal": e.get("source_principal", ""),
    }.get(operand, "")


def _edge_flag(operand: str, e: dict[str, Any]) -> bool:
    return {"traffic": bool(e.get("traffic")), "mtls": bool(e.get("mtls")), "unexplained": bool(e.get("unexplained")),
            "configured": bool(e.get("configured"))}.get(operand, False)


def _compare(actual: Any, op: str, value: str) -> bool:
    if isinstance(actual, (int, float)) and not isinstance(actual, bool):
        a = float(actual)
        if value.lower() == "nan":
            none = math.isnan(a) or a == 0.0
            return none if op == "=" else (not none if op == "!=" else False)
        if math.isnan(a):
            return op == "!="
        v = float(value)
        return {"=": a == v, "!=": a != v, ">": a > v, ">=": a >= v, "<": a < v, "<=": a <= v}.get(op, False)
    sa, sv = str(actual).lower(), value.lower()
    fn: dict[str, Callable[[], bool]] = {
        "=": lambda: sa == sv, "!=": lambda: sa != sv, "^=": lambda: sa.startswith(sv),
        "!^=": lambda: not sa.startswith(sv), "$=": lambda: sa.endswith(sv), "!$=": lambda: not sa.endswith(sv),
        "*=": lambda: sv in sa, "!*=": lambda: sv not in sa,
    }
    return fn[op]() if op in fn else False


def _eval(t: Term, attrs: dict[str, Any]) -> bool:
    if t.op is None:
        hit = _node_flag(t.operand, attrs) if t.target == "node" else _edge_flag(t.operand, attrs)
        return hit != t.negate
    actual = _node_value(t.operand, attrs) if t.target == "node" else _edge_value(t.operand, attrs)
    return _compare(actual, t.op, t.value)


# ---------------------------------------------------------------------------------------------------
def find(g: nx.DiGraph, expr: str | Expression) -> tuple[set[str], set[tuple[str, str]]]:
    """Nodes and edges an expression matches."""
    e = parse(expr) if isinstance(expr, str) else expr
    if e.target == "node":
        return {n for n, d in g.nodes(data=True) if e.matches(d)}, set()
    return set(), {(a, b) for a, b, d in g.edges(data=True) if e.matches(d)}


def mark_found(g: nx.DiGraph, expr: str | Expression) -> nx.DiGraph:
    """Set ``found=True`` on matching nodes/edges (False elsewhere), in place."""
    nodes, edges = find(g, expr)
    for n, d in g.nodes(data=True):
        d["found"] = n in nodes
    for a, b, d in g.edges(data=True):
        d["found"] = (a, b) in edges
    return g


def hide(g: nx.DiGraph, expr: str | Expression) -> nx.DiGraph:
    """A copy of ``g`` without what the expression matches, Kiali-style."""
    nodes, edges = find(g, expr)
    out = g.copy()
    had_edges = {n for n in out if out.degree(n) > 0}
    out.remove_nodes_from(nodes)
    out.remove_edges_from(edges)
    out.remove_nodes_from([n for n in list(out) if n in had_edges and out.degree(n) == 0])
    return out
