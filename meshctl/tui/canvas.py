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

from meshctl.graph.export import edge_label
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
              "circuitbreaker": "⊘", "requesttimeout": "◔", "missingsidecar": "✗", "gateway": "⌂",
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
    bbox: tuple[int, int, int, int] = (0, 0, 0, 0)  # min x, min y, max x, max y (clipping test per frame)

    def __post_init__(self) -> None:
        xs = [p[0] for p in self.points]
        ys = [p[1] for p in self.points]
        self.bbox = (min(xs), min(ys), max(xs), max(ys))


@dataclass
class Scene:
    boxes: dict[str, Box] = field(default_factory=dict)
    routes: list[Route] = field(default_factory=list)
    width: int = 0
    height: int = 0
    #: the whole drawing's line cells, rasterised once per layout: direction bits and the route drawn last
    mask: list[list[int]] = field(default_factory=list)
    owner: list[list[int]] = field(default_factory=list)

    def rasterise(self) -> None:
        """Lines never move between refreshes (only colours and labels do), so draw them once."""
        self.mask = [[0] * self.width for _ in range(self.height + 1)]
        self.owner = [[-1] * self.width for _ in range(self.height + 1)]
        for i, r in enumerate(self.routes):
            for (xa, ya), (xb, yb) in zip(r.points, r.points[1:], strict=False):
                if ya == yb:
                    lo, hi = min(xa, xb), max(xa, xb)
                    row, orow = self.mask[ya], self.owner[ya]
                    for x in range(max(lo, 0), min(hi, self.width - 1) + 1):
                        row[x] |= (E if x < hi else 0) | (W if x > lo else 0)
                        orow[x] = i
                else:
                    lo, hi = min(ya, yb), max(ya, yb)
                    if not 0 <= xa < self.width:
                        continue
                    for y in range(max(lo, 0), min(hi, self.height) + 1):
                        self.mask[y][xa] |= (S if y < hi else 0) | (N if y > lo else 0)
                        self.owner[y][xa] = i


def edge_text(e: dict[str, Any]) -> str:
    """Short edge label: ``12.3rps 4%e 8ms w90``."""
    return edge_label(e, compact=True)


def node_title(n: str, d: dict[str, Any]) -> str:
    return str(d.get("name") or n)[:28]


def node_sub(d: dict[str, Any]) -> str:
    icons = "".join(BADGE_ICON.get(b, "") for b in d.get("badges", []))
    tag = TYPE_TAG.get(d.get("node_type", ""), "")
    ns = d.get("namespace") or ""
    return f"{tag} {ns} {icons}".strip()[:28]


def build_scene(g: nx.DiGraph, layout: Layout) -> Scene:
    """Place boxes and route every edge (once per layout; :func:`relabel` refreshes the labels)."""
    scene = Scene()
    ins: dict[str, list[str]] = {n: [] for n in g}
    outs: dict[str, list[str]] = {n: [] for n in g}
    for a, b in g.edges:
        if a == b or a not in layout.layer or b not in layout.layer:
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
    boxes = scene.boxes
    # Port rows: in-edges sorted by the source's row, out-edges by the target's row (fewer crossings).
    in_row: dict[tuple[str, str], int] = {}
    out_row: dict[tuple[str, str], int] = {}
    for n, box in boxes.items():
        for i, src in enumerate(sorted(ins[n], key=lambda s: (boxes[s].y, s))):
            in_row[(src, n)] = box.y + 1 + i
        for i, dst in enumerate(sorted(outs[n], key=lambda t: (boxes[t].y, t))):
            out_row[(n, dst)] = box.y + 1 + i
    chan_count: dict[int, int] = {}
    for a, b in sorted(in_row, key=lambda ab: (boxes[ab[1]].x, in_row[ab])):
        ba, bb = boxes[a], boxes[b]
        y1, y2 = out_row[(a, b)], in_row[(a, b)]
        x1, x_end = ba.x + ba.w, bb.x - 1
        k = chan_count.get(bb.x, 0)
        chan_count[bb.x] = k + 1
        if bb.x > ba.x:  # forward: one vertical channel in the gap before the target's column
            cx = max(bb.x - GAP + 2 + (k % CHANNELS), x1)
            pts = [(x1, y1), (cx, y1), (cx, y2), (x_end, y2)]
        else:  # back or same-column edge: out to the right, over the target's box row, in from the left
            cxa = x1 + 1 + (k % CHANNELS)
            cxb = bb.x - 3 - (k % CHANNELS)
            ygap = bb.y - 1 if bb.y > 0 else bb.y + bb.h
            pts = [(x1, y1), (cxa, y1), (cxa, ygap), (cxb, ygap), (cxb, y2), (x_end, y2)]
            cx = cxb
        scene.routes.append(Route(a, b, pts, "", (cx + 1, y2), x_end - cx - 2))
    scene.height = max([scene.height] + [r.bbox[3] + 1 for r in scene.routes])
    scene.rasterise()
    return scene


def relabel(scene: Scene, g: nx.DiGraph) -> Scene:
    """New rates on an unchanged layout: labels are derived from the graph while painting, so nothing to do
    but say so (kept as the explicit step callers make on a refresh)."""
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
        a, b = max(x, self.vx), min(x + len(s), self.vx + self.w)
        if a >= b:
            return
        ra, rb = a - self.vx, b - self.vx
        self.char[ry][ra:rb] = s[a - x : b - x]
        self.style[ry][ra:rb] = [style] * (rb - ra)

    def to_text(self) -> Text:
        """One Text with spans built directly (much cheaper than appending thousands of styled runs)."""
        from itertools import groupby

        from rich.text import Span

        line = _LINE
        out_rows: list[str] = []
        spans: list[Span] = []
        pos = 0
        for ry in range(self.h):
            row_char, row_mask = self.char[ry], self.mask[ry]
            out_rows.append("".join([line.get(m, "┼") if c is None else c for c, m in zip(row_char, row_mask, strict=True)]))
            for st, grp in groupby(self.style[ry]):
                n = sum(1 for _ in grp)
                if st is not None:
                    spans.append(Span(pos, pos + n, st))
                pos += n
            pos += 1  # the newline
        return Text("\n".join(out_rows), spans=spans, no_wrap=True, overflow="crop")


def _intersects(r: Route, vx: int, vy: int, w: int, h: int) -> bool:
    x0, y0, x1, y1 = r.bbox
    return not (x1 < vx or x0 >= vx + w or y1 < vy or y0 >= vy + h)


def _edge_style(e: dict[str, Any], highlight: bool = False) -> Style:
    st = HEALTH_STYLE.get(e.get("health", "idle"), HEALTH_STYLE["idle"])
    if e.get("unexplained"):
        st = Style(color="magenta")
    return st + Style(bold=True) if highlight else st


def paint(scene: Scene, g: nx.DiGraph, vx: int, vy: int, w: int, h: int, selected: str | None = None,
          found: set[str] | None = None) -> Text:
    """Render the window (vx, vy, w, h) of the scene; the selected node and its edges are highlighted."""
    w, h = max(w, 1), max(h, 1)
    f = Frame(vx, vy, w, h)
    routes = scene.routes
    visible_idx = [i for i, r in enumerate(routes) if _intersects(r, vx, vy, w, h)]
    visible = [routes[i] for i in visible_idx]
    style_of: dict[int, Style | None] = {-1: None}
    for i in visible_idx:
        r = routes[i]
        style_of[i] = _edge_style(g.edges[r.a, r.b])
    for ry in range(h):
        y = vy + ry
        if y >= len(scene.mask):
            break
        mrow = scene.mask[y][vx : vx + w]
        cells = len(mrow)
        f.mask[ry][:cells] = mrow
        f.style[ry][:cells] = [style_of.get(o) for o in scene.owner[y][vx : vx + w]]
    if selected is not None:
        for r in visible:
            if selected in (r.a, r.b):
                _draw_route(f, g, r, True)
    for r in visible:
        _draw_label(f, g, r, selected is not None and selected in (r.a, r.b))
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


def _draw_label(f: Frame, g: nx.DiGraph, r: Route, highlight: bool = False) -> None:
    x3, y2 = r.points[-1]
    if not (f.vy <= y2 < f.vy + f.h and r.label_at[0] < f.vx + f.w and x3 >= f.vx):
        return
    e = g.edges[r.a, r.b]
    st = _edge_style(e, highlight)
    f.text(x3, y2, "▶", st)
    label = edge_text(e)
    if label and r.label_room > 3:
        lab = label if len(label) <= r.label_room else label[: r.label_room - 1] + "…"
        f.text(r.label_at[0] + 1, r.label_at[1], lab, st + Style(italic=not e.get("traffic")))


def _draw_route(f: Frame, g: nx.DiGraph, r: Route, highlight: bool) -> None:
    """Draw one route over the raster (the selected node's edges, in bold on top)."""
    st = _edge_style(g.edges[r.a, r.b], highlight)
    pts = r.points
    for (xa, ya), (xb, yb) in zip(pts, pts[1:], strict=False):
        if ya == yb:
            f.hline(xa, xb, ya, st)
        else:
            f.vline(xa, ya, yb, st)
