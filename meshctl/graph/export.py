"""Export the graph: DOT (no binary needed), SVG/PNG (graphviz ``dot``), JSON node-link, GraphML.

DOT text is produced by the ``graphviz`` Python package, which needs no binary; rendering to SVG/PNG needs
the ``dot`` program and fails with exit 69 and an install hint when it is missing. JSON is networkx's
node-link form (``nodes``/``edges`` lists); GraphML holds only scalars, so lists and dicts are JSON-encoded.
"""

from __future__ import annotations

import io
import json
import shutil
from typing import Any

import networkx as nx

from meshctl.errors import UnavailableError

HEALTH_COLORS = {"healthy": "#3e8635", "degraded": "#f0ab00", "failure": "#c9190b", "idle": "#8a8d90", "na": "#8a8d90"}
NODE_SHAPES = {
    "workload": "ellipse",
    "app": "box",
    "service": "triangle",
    "serviceentry": "diamond",
    "unknown": "doublecircle",
    "passthrough": "octagon",
    "blackhole": "octagon",
}


def edge_label(e: dict[str, Any], compact: bool = False) -> str:
    """``12.3rps 4.1%err p95 12ms w90`` in DOT; ``compact`` (the TUI's narrow gaps): ``12.3rps 4%e 12ms w90``.

    Destinations reached only through a conditional (``match``) rule say ``match`` instead of a weight.
    """
    parts = []
    if e.get("traffic"):
        parts.append(f"{e.get('bytes_per_s', 0.0):.0f}B/s" if e.get("protocol") == "tcp" else f"{e.get('rps', 0.0):.1f}rps")
        if e.get("errpct"):
            parts.append(f"{e['errpct']:.0f}%e" if compact else f"{e['errpct']:.1f}%err")
        p95 = (e.get("latency_ms") or {}).get("p95")
        if p95 is not None:
            parts.append(f"{p95:.0f}ms" if compact else f"p95 {p95:.0f}ms")
    if e.get("weight") is not None:
        parts.append(f"w{e['weight']}")
    elif e.get("route_match"):
        parts.append("match")
    return " ".join(parts)


def node_label(n: str, d: dict[str, Any]) -> str:
    name = d.get("name") or n
    ns = d.get("namespace")
    badges = [b for b in d.get("badges", []) if b not in ("trafficsource",)]
    label = f"{name}\n{ns}" if ns else name
    if badges:
        label += "\n[" + ",".join(badges) + "]"
    return label


def _q(s: str) -> str:
    """A DOT double-quoted ID (node ids contain ':' which DOT edge syntax would read as a port)."""
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


def _attrs(**kw: str) -> str:
    return "[" + " ".join(f"{k}={_q(v)}" for k, v in kw.items()) + "]"


def to_dot(g: nx.DiGraph) -> str:
    """Graphviz DOT source (colours by health, dashed idle edges, bold unexplained ones, rate/weight labels).

    Written directly rather than through the ``graphviz`` package's builder, whose edge syntax reads ``:``
    in node ids as ``node:port``.
    """
    lines = [
        "digraph meshctl {",
        '\tgraph [fontname="Helvetica" rankdir="LR"]',
        '\tnode [fontname="Helvetica" fontsize="10"]',
        '\tedge [fontname="Helvetica" fontsize="9"]',
    ]
    for n, d in sorted(g.nodes(data=True)):
        color = HEALTH_COLORS.get(d.get("health", "na"), "#8a8d90")
        lines.append(f"\t{_q(n)} " + _attrs(label=node_label(n, d), shape=NODE_SHAPES.get(d.get("node_type", ""), "ellipse"),
                                             color=color, penwidth="2" if d.get("found") else "1"))
    for a, b, e in sorted(g.edges(data=True), key=lambda x: (x[0], x[1])):
        color = HEALTH_COLORS.get(e.get("health", "idle"), "#8a8d90")
        style = "bold" if e.get("unexplained") else ("solid" if e.get("traffic") else "dashed")
        lines.append(f"\t{_q(a)} -> {_q(b)} " + _attrs(label=edge_label(e), color=color, style=style,
                                                         penwidth="2" if e.get("found") else "1"))
    lines.append("}")
    return "\n".join(lines) + "\n"


def has_dot_binary() -> bool:
    return shutil.which("dot") is not None


def render(g: nx.DiGraph, fmt: str) -> bytes:
    """SVG or PNG through graphviz ``dot``; :class:`UnavailableError` (exit 69) without the binary."""
    if not has_dot_binary():
        raise UnavailableError(
            f"cannot render {fmt}: the graphviz 'dot' program is not installed",
            hints=["install graphviz (apt-get install graphviz / brew install graphviz), or use -o dot|json|graphml"],
        )
    import graphviz

    return bytes(graphviz.Source(to_dot(g)).pipe(format=fmt))


def _jsonable(v: Any) -> Any:
    if isinstance(v, (set, frozenset)):
        return sorted(v)
    if isinstance(v, float):
        return round(v, 6)
    if isinstance(v, dict):
        return {str(k): _jsonable(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [_jsonable(x) for x in v]
    return v


def to_json_data(g: nx.DiGraph) -> dict[str, Any]:
    """networkx node-link data (``directed``, ``graph``, ``nodes``, ``edges``) with plain JSON values."""
    data = nx.node_link_data(g, edges="edges")
    return _jsonable(data)  # type: ignore[no-any-return]


def to_json(g: nx.DiGraph) -> str:
    return json.dumps(to_json_data(g), indent=2, sort_keys=True)


def _scalar(v: Any) -> Any:
    if v is None:
        return ""
    if isinstance(v, (bool, int, float, str)):
        return v
    return json.dumps(_jsonable(v), sort_keys=True)


def to_graphml(g: nx.DiGraph) -> str:
    """GraphML text; non-scalar attributes are JSON strings (GraphML types are scalars only)."""
    h = nx.DiGraph()
    h.graph.update({k: _scalar(v) for k, v in g.graph.items()})
    for n, d in g.nodes(data=True):
        h.add_node(n, **{k: _scalar(v) for k, v in d.items()})
    for a, b, d in g.edges(data=True):
        h.add_edge(a, b, **{k: _scalar(v) for k, v in d.items()})
    buf = io.BytesIO()
    nx.write_graphml(h, buf)
    return buf.getvalue().decode()


def export(g: nx.DiGraph, fmt: str) -> bytes:
    """One entry point: ``dot``/``json``/``graphml`` text or ``svg``/``png`` bytes."""
    if fmt == "dot":
        return to_dot(g).encode()
    if fmt == "json":
        return (to_json(g) + "\n").encode()
    if fmt == "graphml":
        return to_graphml(g).encode()
    if fmt in ("svg", "png"):
        return render(g, fmt)
    raise ValueError(f"unknown format {fmt}")
