"""Draw the traffic graph on a character grid: boxes per node, orthogonal edges, labels, health colours.

Geometry (:class:`Scene`) is computed once per layout (node/edge set) and terminal size; each frame only
clips the scene to the visible window and paints it, so a refresh costs the same for 20 or 2,000 edges
off-screen. Lines are stored as direction bitmasks per cell, so crossings and joins get the right
box-drawing character. Labels are painted last: text wins over lines.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import networkx as nx
from rich.style import Style
from rich.text import Text

from meshctl.graph.layout import Layout

N, E, S, W = 1, 2, 4, 8
_LINE = {
    0: " ", N: "│", S: "│", N | S: "│", E: "─", W: "─", E | W: "─",
    S | E: "┌", S | W: "┐", N | E: "└", N | W: "┘",
    N | S | E: "├", N | S | W: "┤", E | W | S: "┬", E | W | N: "┴", N | E | S | W: "┼",
}
GAP = 25  # columns between layers: vertical channels + the edge label
CHANNELS = 4
MAX_LABEL = 21

HEALTH_STYLE = {
    "healthy": Style(color="green"),
    "degraded": Style(color="yellow"),
    "failure": Style(color="red", bold=True),
    "idle": Style(color="bright_black"),
    "na": Style(color="bright_black"),
}
TYPE_TAG = {"workload": "wl", "app": "app", "service": "svc", "serviceentry": "se", "unknown": "?",
            "passthrough": "ext", "blackhole": "drop"}
BADGE_ICON = {"trafficshifting": "⇄", "tcptrafficshifting": "⇄", "faultinjection": "ϟ", "mirroring": "⧉",
              "circuitbreaker": "⊘", "requesttimeout": "⏱", "missingsidecar": "✗", "gateway": "⛩",
              "virtualservice": "VS", "requestrouting": "↦", "serviceentry": "", "trafficsource": ""}


@dataclass
class Box:
    node: str
    x: int
    y: int
    w: int
    h: int  # total height incl. borders
    title: str
    sub: str


@dataclass
class Route:
    a: str
    b: str
    points: list[tuple[int, int]]  # polyline corners (x, y)
    label: str
    label_at: tuple[int, int]
    label_room: int


@dataclass
class Scene:
    boxes: dict[str, Box] = field(default_factory=dict)
    routes: list[Route] = field(default_factory=list)
    width: int = 0
    height: int = 0


def edge_text(e: dict[str, Any]) -> str:
    """Short edge label: ``12.3rps 4%e 8ms w90``."""
    parts = []
    if e.get("traffic"):
        parts.append(f"{e.get('bytes_per_s', 0.0):.0f}B/s" if e.get("protocol") == "tcp" else f"{e.get('rps', 0.0):.1f}rps")
        if e.get("errpct"):
            parts.append(f"{e['errpct']:.0f}%e")
        p95 = (e.get("latency_ms") or {}).get("p95")
        if p95 is not None:
            parts.append(f"{p95:.0f}ms")
    if e.get("weight") is not None:
        parts.append(f"w{e['weight']}")
    elif e.get("route_match"):
        parts.append("match")
    return " ".join(parts)


def node_title(n: str, d: dict[str, Any]) -> str:
    return str(d.get("name") or n)[:28]


def node_sub(d: dict[str, Any]) -> str:
    icons = "".join(BADGE_ICON.get(b, "") for b in d.get("badges", []))
    tag = TYPE_TAG.get(d.get("node_type", ""), "")
    ns = d.get("namespace") or ""
    return f"{tag} {ns} {icons}".strip()[:28]


def build_scene(g: nx.DiGraph, layout: Layout) -> Scene:
    """Place boxes and route every edge (once per layout; cheap to keep)."""
    scene = Scene()
    ins: dict[str, list[str]] = {n: [] for n in g}
    outs: dict[str, list[str]] = {n: [] for n in g}
    for a, b in g.edges:
        if (a, b) in layout.back_edges or a == b or a not in layout.layer or b not in layout.layer:
            continue
        outs[a].append(b)
        ins[b].append(a)
    x = 1
    for lay in layout.layers:
        width = 0
        y = 1
        for n in lay:
            d = g.nodes[n]
            title, sub = node_title(n, d), node_sub(d)
            w = max(len(title), len(sub)) + 4
            h = max(2, len(ins[n]), len(outs[n])) + 2
            scene.boxes[n] = Box(n, x, y, w, h, title, sub)
            width = max(width, w)
            y += h + 1
        scene.height = max(scene.height, y)
        x += width + GAP
    scene.width = x
    # Port rows: in-edges sorted by the source's row, out-edges by the target's row (fewer crossings).
    in_row: dict[tuple[str, str], int] = {}
    out_row: dict[tuple[str, str], int] = {}
    for n, box in scene.boxes.items():
        for i, src in enumerate(sorted(ins[n], key=lambda s: (scene.boxes[s].y, s))):
            in_row[(src, n)] = box.y + 1 + i
        for i, dst in enumerate(sorted(outs[n], key=lambda t: (scene.boxes[t].y, t))):
            out_row[(n, dst)] = box.y + 1 + i
    chan_count: dict[int, int] = {}
    for a, b in sorted(in_row, key=lambda ab: (scene.boxes[ab[1]].x, in_row[ab])):
        ba, bb = scene.boxes[a], scene.boxes[b]
        y1, y2 = out_row[(a, b)], in_row[(a, b)]
        x1 = ba.x + ba.w
        x_end = bb.x - 1
        k = chan_count.get(bb.x, 0)
        chan_count[bb.x] = k + 1
        cx = bb.x - GAP + 2 + (k % CHANNELS)
        cx = max(cx, x1)
        pts = [(x1, y1), (cx, y1), (cx, y2), (x_end, y2)]
        room = x_end - cx - 2
        scene.routes.append(Route(a, b, pts, edge_text(g.edges[a, b]), (cx + 1, y2), room))
    return scene


class Frame:
    """One clipped paint target: line masks, text overrides and styles for the visible window."""

    def __init__(self, vx: int, vy: int, w: int, h: int) -> None:
        self.vx, self.vy, self.w, self.h = vx, vy, w, h
        self.mask = [[0] * w for _ in range(h)]
        self.char: list[list[str | None]] = [[None] * w for _ in range(h)]
        self.style: list[list[Style | None]] = [[None] * w for _ in range(h)]

    def hline(self, x1: int, x2: int, y: int, style: Style) -> None:
        ry = y - self.vy
        if not 0 <= ry < self.h or x1 == x2:
            return
        lo, hi = min(x1, x2), max(x1, x2)
        row, srow = self.mask[ry], self.style[ry]
        for x in range(max(lo, self.vx), min(hi, self.vx + self.w - 1) + 1):
            rx = x - self.vx
            bits = (E if x < hi else 0) | (W if x > lo else 0)
            row[rx] |= bits
            srow[rx] = style

    def vline(self, x: int, y1: int, y2: int, style: Style) -> None:
        rx = x - self.vx
        if not 0 <= rx < self.w or y1 == y2:
            return
        lo, hi = min(y1, y2), max(y1, y2)
        for y in range(max(lo, self.vy), min(hi, self.vy + self.h - 1) + 1):
            ry = y - self.vy
            self.mask[ry][rx] |= (S if y < hi else 0) | (N if y > lo else 0)
            self.style[ry][rx] = style

    def text(self, x: int, y: int, s: str, style: Style | None) -> None:
        ry = y - self.vy
        if not 0 <= ry < self.h:
            return
        for i, ch in enumerate(s):
            rx = x + i - self.vx
            if 0 <= rx < self.w:
                self.char[ry][rx] = ch
                self.style[ry][rx] = style

    def to_text(self) -> Text:
        out = Text(no_wrap=True, overflow="crop")
        for ry in range(self.h):
            row_mask, row_char, row_style = self.mask[ry], self.char[ry], self.style[ry]
            run: list[str] = []
            run_style: Style | None = None
            for rx in range(self.w):
                ch = row_char[rx]
                if ch is None:
                    ch = _LINE.get(row_mask[rx], "┼")
                st = row_style[rx]
                if st is not run_style and run:
                    out.append("".join(run), run_style)
                    run = []
                run_style = st
                run.append(ch)
            if run:
                out.append("".join(run), run_style)
            if ry < self.h - 1:
                out.append("\n")
        return out


def _intersects(pts: list[tuple[int, int]], vx: int, vy: int, w: int, h: int) -> bool:
    xs = [p[0] for p in pts]
    ys = [p[1] for p in pts]
    return not (max(xs) < vx or min(xs) >= vx + w or max(ys) < vy or min(ys) >= vy + h)


def paint(scene: Scene, g: nx.DiGraph, vx: int, vy: int, w: int, h: int, selected: str | None = None,
          found: set[str] | None = None) -> Text:
    """Render the window (vx, vy, w, h) of the scene; the selected node and its edges are highlighted."""
    f = Frame(vx, vy, max(w, 1), max(h, 1))
    late: list[Route] = []
    for r in scene.routes:
        if not _intersects(r.points, vx, vy, w, h):
            continue
        if selected is not None and selected in (r.a, r.b):
            late.append(r)
            continue
        _draw_route(f, g, r, False)
    for r in late:
        _draw_route(f, g, r, True)
    for n, b in scene.boxes.items():
        if b.x > vx + w or b.x + b.w < vx or b.y > vy + h or b.y + b.h < vy:
            continue
        d = g.nodes[n]
        st = HEALTH_STYLE.get(d.get("health", "na"), HEALTH_STYLE["na"])
        if d.get("node_type") in ("passthrough", "blackhole") and not d.get("idle"):
            st = Style(color="magenta", bold=True)
        border = st + Style(bold=True, reverse=True) if n == selected else st
        if found and n in found:
            border = border + Style(underline=True, bold=True)
        inner = b.w - 2
        f.text(b.x, b.y, "╭" + "─" * inner + "╮", border)
        for i in range(1, b.h - 1):
            f.text(b.x, b.y + i, "│" + " " * inner + "│", border)
        f.text(b.x, b.y + b.h - 1, "╰" + "─" * inner + "╯", border)
        f.text(b.x + 2, b.y + 1, b.title, st + Style(bold=True))
        f.text(b.x + 2, b.y + 2, b.sub, Style(color="bright_black") if not d.get("hints") else Style(color="yellow"))
    return f.to_text()


def _draw_route(f: Frame, g: nx.DiGraph, r: Route, highlight: bool) -> None:
    e = g.edges[r.a, r.b]
    st = HEALTH_STYLE.get(e.get("health", "idle"), HEALTH_STYLE["idle"])
    if e.get("unexplained"):
        st = Style(color="magenta")
    if highlight:
        st = st + Style(bold=True)
    (x1, y1), (cx, _), (_, y2), (x3, _) = r.points
    f.hline(x1, cx, y1, st)
    f.vline(cx, y1, y2, st)
    f.hline(cx, x3, y2, st)
    f.text(x3, y2, "▶", st)
    if r.label and r.label_room > 3:
        lab = r.label if len(r.label) <= r.label_room else r.label[: r.label_room - 1] + "…"
        f.text(r.label_at[0] + 1, r.label_at[1], lab, st + Style(italic=not e.get("traffic")))
