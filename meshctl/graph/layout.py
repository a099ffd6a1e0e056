"""Layered (Sugiyama-style) layout for drawing the graph in a terminal: layers left to right, rows within.

Why our own: a terminal needs a grid (layer, row), not inches. With graphviz ``dot`` installed, its ``-Tplain``
output gives the ranks and the crossing-minimised order, which is snapped to the grid; without it (or for big
graphs, where dot is slow) a longest-path layering plus barycentre ordering sweeps does the same job in
milliseconds. Back edges (cycles) are reported, not laid out.
"""

from __future__ import annotations

import shutil
import subprocess
from dataclasses import dataclass, field

import networkx as nx

DOT_MAX_NODES = 150  # above this, dot's layout time grows past a refresh interval


@dataclass
class Layout:
    """``layer[n]`` (column index) and ``order[n]`` (position within the layer), plus back edges."""

    layer: dict[str, int] = field(default_factory=dict)
    order: dict[str, int] = field(default_factory=dict)
    layers: list[list[str]] = field(default_factory=list)
    back_edges: set[tuple[str, str]] = field(default_factory=set)
    engine: str = "layered"


def structure_key(g: nx.DiGraph) -> tuple[frozenset[str], frozenset[tuple[str, str]]]:
    """What a layout depends on: the node and edge sets (rates and colours do not move nodes)."""
    return frozenset(g.nodes), frozenset(g.edges)


def _acyclic(g: nx.DiGraph) -> tuple[nx.DiGraph, set[tuple[str, str]]]:
    """Drop a feedback edge set found by DFS so layering is well defined."""
    back: set[tuple[str, str]] = set()
    state: dict[str, int] = {}
    for root in sorted(g.nodes, key=lambda n: (g.in_degree(n) > 0, n)):
        if root in state:
            continue
        stack = [(root, iter(sorted(g.successors(root))))]
        state[root] = 1
        while stack:
            node, it = stack[-1]
            nxt = next(it, None)
            if nxt is None:
                state[node] = 2
                stack.pop()
                continue
            s = state.get(nxt)
            if s == 1:
                back.add((node, nxt))
            elif s is None:
                state[nxt] = 1
                stack.append((nxt, iter(sorted(g.successors(nxt)))))
    h = nx.DiGraph()
    h.add_nodes_from(g.nodes)
    h.add_edges_from(e for e in g.edges if e not in back and e[0] != e[1])
    return h, back


def _longest_path_layers(h: nx.DiGraph) -> dict[str, int]:
    layer: dict[str, int] = {}
    for n in nx.topological_sort(h):
        preds = list(h.predecessors(n))
        layer[n] = 1 + max(layer[p] for p in preds) if preds else 0
    # Pull sources right next to their first successor (callers sit just left of what they call).
    for n in sorted(h.nodes):
        if h.in_degree(n) == 0 and h.out_degree(n) > 0:
            layer[n] = max(0, min(layer[s] for s in h.successors(n)) - 1)
    return layer


def _bfs_layers(g: nx.DiGraph) -> dict[str, int]:
    """Shortest distance from the callers that nobody calls (or the biggest net caller of a cycle)."""
    layer: dict[str, int] = {}
    remaining = set(g.nodes)
    while remaining:
        roots = sorted(n for n in remaining if not any(p in remaining for p in g.predecessors(n)))
        if not roots:
            roots = [max(sorted(remaining), key=lambda n: g.out_degree(n) - g.in_degree(n))]
        frontier, depth = roots, 0
        for r in roots:
            layer[r] = 0
            remaining.discard(r)
        while frontier:
            depth += 1
            nxt = []
            for n in frontier:
                for s in sorted(g.successors(n)):
                    if s in remaining:
                        remaining.discard(s)
                        layer[s] = depth
                        nxt.append(s)
            frontier = nxt
    return layer


def layered(g: nx.DiGraph, sweeps: int = 4) -> Layout:
    """Layer assignment + barycentre ordering (deterministic: ties break on node id).

    Longest-path layering suits meshes (mostly acyclic call chains); when cycles make it deep (more than
    ``2 * sqrt(n)`` layers, as in big random call graphs) breadth-first layering keeps the drawing compact.
    Edges that then point backwards or within a layer are drawn as back edges.
    """
    h, _ = _acyclic(g)
    layer = _longest_path_layers(h)
    if layer and max(layer.values()) + 1 > 2 * max(1.0, g.number_of_nodes() ** 0.5) + 4:
        layer = _bfs_layers(g)
    back = {(a, b) for a, b in g.edges if a != b and layer[b] <= layer[a]}
    nlayers = max(layer.values(), default=-1) + 1
    layers: list[list[str]] = [[] for _ in range(nlayers)]
    for n in sorted(layer, key=lambda n: (layer[n], n)):
        layers[layer[n]].append(n)
    pos = {n: i for lay in layers for i, n in enumerate(lay)}
    preds = {n: [p for p in g.predecessors(n) if layer[p] < layer[n]] for n in g}
    succs = {n: [s for s in g.successors(n) if layer[s] > layer[n]] for n in g}

    def bary(n: str, nbrs: list[str]) -> float:
        return sum(pos[m] for m in nbrs) / len(nbrs) if nbrs else pos[n]

    for sweep in range(sweeps):
        rng = range(1, nlayers) if sweep % 2 == 0 else range(nlayers - 2, -1, -1)
        for i in rng:
            nb = preds if sweep % 2 == 0 else succs
            layers[i].sort(key=lambda n: (bary(n, nb[n]), n))
            for j, n in enumerate(layers[i]):
                pos[n] = j
    return Layout(layer, pos, layers, back, "layered")


def dot_plain(g: nx.DiGraph, timeout: float = 5.0) -> Layout | None:
    """Ranks and order from graphviz ``dot -Tplain`` (None when dot is missing, slow or fails)."""
    exe = shutil.which("dot")
    if exe is None or g.number_of_nodes() == 0:
        return None
    ids = {n: f"n{i}" for i, n in enumerate(sorted(g.nodes))}
    back = {v: k for k, v in ids.items()}
    src = ["digraph G { rankdir=LR; node [shape=box];"]
    src += [f"{ids[n]};" for n in sorted(g.nodes)]
    src += [f"{ids[a]} -> {ids[b]};" for a, b in sorted(g.edges) if a != b]
    src.append("}")
    try:
        out = subprocess.run([exe, "-Tplain"], input="\n".join(src), capture_output=True, text=True, timeout=timeout)
    except (OSError, subprocess.TimeoutExpired):
        return None
    if out.returncode != 0:
        return None
    xy: dict[str, tuple[float, float]] = {}
    for line in out.stdout.splitlines():
        parts = line.split()
        if len(parts) >= 4 and parts[0] == "node" and parts[1] in back:
            xy[back[parts[1]]] = (float(parts[2]), float(parts[3]))
    if len(xy) != g.number_of_nodes():
        return None
    xs = sorted({round(x, 1) for x, _ in xy.values()})
    col = {x: i for i, x in enumerate(xs)}
    layers: list[list[str]] = [[] for _ in xs]
    for n, (x, _y) in sorted(xy.items(), key=lambda kv: (-kv[1][1], kv[0])):  # dot's y grows upwards
        layers[col[round(x, 1)]].append(n)
    layer = {n: i for i, lay in enumerate(layers) for n in lay}
    order = {n: j for lay in layers for j, n in enumerate(lay)}
    back_edges = {(a, b) for a, b in g.edges if layer[a] >= layer[b]}
    return Layout(layer, order, layers, back_edges, "dot")


def compute_layout(g: nx.DiGraph, prefer_dot: bool = True) -> Layout:
    """dot's order when available and the graph is small, else the built-in layered layout."""
    if prefer_dot and g.number_of_nodes() <= DOT_MAX_NODES:
        lay = dot_plain(g)
        if lay is not None:
            return lay
    return layered(g)
