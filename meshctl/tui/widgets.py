"""Textual widgets: the graph canvas (terminal drawing of the traffic graph) and the node detail panel."""

from __future__ import annotations

from typing import Any

import networkx as nx
from rich.console import RenderableType
from rich.table import Table
from rich.text import Text
from textual.widget import Widget

from meshctl.graph.layout import Layout, compute_layout, structure_key
from meshctl.tui.canvas import Box, Scene, build_scene, edge_text, paint, relabel


class GraphCanvas(Widget, can_focus=True):
    """The graph drawn with box characters; arrow keys move the selection, the view follows it.

    Layout is recomputed only when the node/edge set changes, so a refresh with new rates repaints
    in place (no jumping nodes, no flicker).
    """

    DEFAULT_CSS = """
    GraphCanvas { width: 1fr; height: 1fr; }
    """

    def __init__(self, *, prefer_dot: bool = True, id: str | None = None) -> None:
        super().__init__(id=id)
        self.graph: nx.DiGraph = nx.DiGraph()
        self.layout_: Layout | None = None
        self.scene: Scene = Scene()
        self._key: Any = None
        self.selected: str | None = None
        self.found: set[str] = set()
        self.vx = 0
        self.vy = 0
        self.prefer_dot = prefer_dot

    def set_graph(self, g: nx.DiGraph) -> None:
        key = structure_key(g)
        if key != self._key:
            self.layout_ = compute_layout(g, self.prefer_dot)
            self.scene = build_scene(g, self.layout_)
            self._key = key
        else:
            relabel(self.scene, g)  # same nodes and edges: geometry stays, labels carry the new rates
        self.graph = g
        if self.selected not in g:
            self.selected = self._ordered()[0] if g.number_of_nodes() else None
        self._follow()
        self.refresh()

    def _ordered(self) -> list[str]:
        """Nodes in reading order: by column, then row."""
        return sorted(self.scene.boxes, key=lambda n: (self.scene.boxes[n].x, self.scene.boxes[n].y))

    def select(self, node: str | None) -> None:
        if node is not None and node in self.graph:
            self.selected = node
            self._follow()
            self.refresh()

    def move(self, direction: str) -> None:
        """Select the nearest node in a direction (left/right/up/down); tab order with next/prev."""
        if not self.scene.boxes:
            return
        order = self._ordered()
        if self.selected not in self.scene.boxes:
            self.select(order[0])
            return
        if direction in ("next", "prev"):
            i = order.index(self.selected)  # type: ignore[arg-type]
            self.select(order[(i + (1 if direction == "next" else -1)) % len(order)])
            return
        cur = self.scene.boxes[self.selected]  # type: ignore[index]
        best, best_d = None, None
        for n, b in self.scene.boxes.items():
            dx, dy = b.x - cur.x, b.y - cur.y
            ok = {"left": dx < 0, "right": dx > 0, "up": dy < 0 and b.x == cur.x, "down": dy > 0 and b.x == cur.x}[direction]
            if not ok:
                continue
            dist = abs(dx) + 3 * abs(dy) if direction in ("left", "right") else abs(dy)
            if best_d is None or dist < best_d:
                best, best_d = n, dist
        if best is not None:
            self.select(best)

    def _follow(self) -> None:
        """Scroll so the selected node and as many of its neighbours as fit are visible, never cutting a box
        at the left edge.

        Horizontal candidates are the origin and, per layer, the start of the gap before it (the layer's
        incoming edges and labels stay readable) or, as a fallback, the layer's own left edge. The best one
        shows the selected box whole, then the most neighbour boxes whole, then the most of the left
        (smallest offset). Vertically: from the top when the box fits, else just enough to show it.
        """
        b = self.scene.boxes.get(self.selected or "")
        w, h = self.size.width, self.size.height
        if b is None or w < 10 or h < 4:
            return
        self.vx = best_offset(self.scene, self.graph, b.node, w)
        if b.y + b.h <= h:
            self.vy = 0
        elif b.y < self.vy or b.y + b.h > self.vy + h:
            self.vy = max(0, b.y + b.h - h + 2) if b.y + b.h > self.vy + h else max(0, b.y - 2)

    def on_resize(self) -> None:
        self._follow()

    def render(self) -> RenderableType:
        if not self.scene.boxes:
            return Text("(empty graph: no nodes match)", style="dim")
        return paint(self.scene, self.graph, self.vx, self.vy, self.size.width, self.size.height, self.selected, self.found)


def best_offset(scene: Scene, g: nx.DiGraph, node: str, width: int) -> int:
    """The horizontal scroll offset for :meth:`GraphCanvas._follow` (see there): column-aligned, so the
    leftmost visible layer is never cut."""
    boxes = scene.boxes
    sel = boxes[node]
    neighbours = [boxes[n] for n in set(g.predecessors(node)) | set(g.successors(node)) if n in boxes and n != node] \
        if node in g else []
    starts = sorted({bx.x for bx in boxes.values()})
    right = {x: max(bx.x + bx.w for bx in boxes.values() if bx.x == x) for x in starts}
    candidates = {0}
    for prev, x in zip(starts, starts[1:], strict=False):
        candidates.add(right[prev] + 1)  # the gap before layer x: its incoming edges and labels in view
        candidates.add(x - 1)
    if not neighbours and sel.x + sel.w <= width:
        return 0

    def whole(bx: Box, vx: int) -> bool:
        return vx <= bx.x and bx.x + bx.w <= vx + width

    # The selected node's outgoing edges: their labels (rate, errors, latency, weight) are what one selects a
    # node to read, so a view showing them beats one showing more neighbour boxes.
    spans = []
    for r in scene.routes:
        if r.a == node and g.has_edge(r.a, r.b):
            text = edge_text(g.edges[r.a, r.b])
            if text and r.label_room > 3:
                spans.append((r.label_at[0], r.label_at[0] + 1 + min(len(text), r.label_room)))

    def labels(vx: int) -> int:
        return sum(vx <= lo and hi <= vx + width for lo, hi in spans)

    return max(candidates, key=lambda vx: (whole(sel, vx), labels(vx), sum(whole(n, vx) for n in neighbours), -vx))


def legend() -> Text:
    """Colours and badge icons of the graph canvas."""
    t = Text("\n")
    for label, style in (("healthy", "green"), ("degraded", "yellow"), ("failure", "bold red"), ("idle", "bright_black"),
                         ("unexplained", "magenta")):
        t.append("■ ", style=style)
        t.append(label + "  ")
    t.append("\n⇄ shifting  ϟ fault  ⧉ mirror  ⊘ circuit breaker  ◔ timeout/retries  ↦ routing  ✗ no sidecar  ⌂ gateway",
             style="bright_black")
    return t


def node_detail(g: nx.DiGraph, n: str | None) -> RenderableType:
    """The selected node's facts: kind, health, rates, badges, hints, and every edge in/out with its numbers."""
    if n is None or n not in g:
        return Text("no node selected", style="dim")
    d = g.nodes[n]
    t = Table.grid(padding=(0, 1))
    t.add_column(style="bold")
    t.add_column()
    t.add_row("node", n)
    t.add_row("kind", str(d.get("node_type", "")))
    if d.get("namespace"):
        t.add_row("namespace", d["namespace"])
    for k in ("app", "version", "workload"):
        if d.get(k):
            t.add_row(k, str(d[k]))
    t.add_row("health", Text(d.get("health", "na"), style={"healthy": "green", "degraded": "yellow", "failure": "red"}.get(d.get("health", ""), "dim")))
    t.add_row("rps in/out", f"{d.get('rps_in', 0):.2f} / {d.get('rps_out', 0):.2f}")
    if d.get("errpct"):
        t.add_row("errors", f"{d['errpct']:.1f}%")
    if d.get("badges"):
        t.add_row("badges", ", ".join(d["badges"]))
    node_hints = list(d.get("hints", []))
    for h in node_hints:
        t.add_row(Text("hint", style="yellow"), h)
    for title, edges, other in (("in", g.in_edges(n, data=True), 0), ("out", g.out_edges(n, data=True), 1)):
        for e in sorted(edges, key=lambda x: x[other]):
            peer, data = e[other], e[2]
            lat = data.get("latency_ms") or {}
            bits = [f"{data.get('rps', 0):.2f} rps"]
            if data.get("errpct"):
                bits.append(f"{data['errpct']:.1f}% err")
            if data.get("retries_rps"):
                bits.append(f"{data.get('attempts_rps', 0):.2f} tries/s ({data['retries_rps']:.2f} retries, "
                            f"{data.get('attempt_errpct', 0):.0f}% of tries failed)")
            if lat:
                bits.append(" ".join(f"{q} {v:.0f}ms" for q, v in sorted(lat.items())))
            if data.get("weight") is not None:
                bits.append(f"weight {data['weight']}%")
            codes = data.get("code_detail") or {}
            if codes:
                bits.append("codes " + " ".join(f"{c}:{v:.1f}" for c, v in sorted(codes.items())))
            style = {"healthy": "green", "degraded": "yellow", "failure": "red"}.get(data.get("health", ""), "dim")
            t.add_row(Text(f"{title} {'<-' if title == 'in' else '->'}", style=style), f"{peer}  " + ", ".join(bits))
            for h in data.get("hints", []):
                if h in node_hints:
                    continue
                t.add_row(Text("  hint", style="magenta"), h)
            for r in data.get("routes", [])[:3]:
                t.add_row(Text("  route", style="dim"), r)
    return t
