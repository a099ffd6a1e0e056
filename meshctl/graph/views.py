"""Kiali's graph types as aggregations of the workload graph: app, versionedApp, service (and workload).

Why aggregation and not separate builders: every type then agrees on the numbers (Kiali users complain
when views disagree, kiali#6492). Contracting nodes sums rates, per-code rates and bytes; latency quantiles
are merged as a request-weighted mean (an approximation, said so in the docs); route weights add up.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import networkx as nx

from meshctl.graph.build import finish

GRAPH_TYPES = ("workload", "app", "versionedApp", "service")


def _app_key(d: dict[str, Any], versioned: bool) -> tuple[str, dict[str, Any]] | None:
    if d.get("node_type") != "workload" or not d.get("app") or not d.get("labels", {}).get("app"):
        return None
    ns, app, ver = d["namespace"], d["app"], d.get("version") or ""
    if versioned and ver:
        return f"vapp:{ns}/{app}/{ver}", {"node_type": "app", "name": f"{app} {ver}", "app": app, "version": ver, "namespace": ns}
    return f"app:{ns}/{app}", {"node_type": "app", "name": app, "app": app, "version": "", "namespace": ns}


def _merge_edge(dst: dict[str, Any], src: dict[str, Any]) -> None:
    old, add = dst["rps"], src["rps"]
    for key in ("codes", "code_detail", "flags"):
        for k, v in src[key].items():
            dst[key][k] = dst[key].get(k, 0.0) + v
    for q, v in src["latency_ms"].items():
        prev = dst["latency_ms"].get(q)
        dst["latency_ms"][q] = v if prev is None or old + add <= 0 else (prev * old + v * add) / (old + add)
    dst["rps"] = old + add
    dst["bytes_per_s"] += src["bytes_per_s"]
    if src.get("weight") is not None:
        dst["weight"] = (dst.get("weight") or 0) + src["weight"]
    for key in ("routes", "hints"):
        dst[key] = dst[key] + [x for x in src[key] if x not in dst[key]]
    for key in ("configured", "traffic", "unexplained"):
        dst[key] = dst[key] or src[key]


def contract(g: nx.DiGraph, key_of: Callable[[str, dict[str, Any]], tuple[str, dict[str, Any]] | None]) -> nx.DiGraph:
    """Merge nodes that map to the same key (``key_of`` -> (new id, new attrs) or None to keep the node)."""
    mapping: dict[str, str] = {}
    out = nx.DiGraph(**g.graph)
    for n, d in g.nodes(data=True):
        k = key_of(n, d)
        if k is None:
            mapping[n] = n
            out.add_node(n, **{**d, "badges": list(d.get("badges", [])), "hints": list(d.get("hints", []))})
            continue
        nid, attrs = k
        mapping[n] = nid
        if nid not in out:
            base = {key: d.get(key) for key in ("labels", "in_config", "is_gateway")}
            out.add_node(nid, **{**base, "workload": "", "service": "", "badges": [], "hints": [], "members": [], **attrs})
        node = out.nodes[nid]
        node["members"].append(n)
        node["badges"] = sorted(set(node["badges"]) | set(d.get("badges", [])))
        node["hints"] += [h for h in d.get("hints", []) if h not in node["hints"]]
        node["is_gateway"] = bool(node.get("is_gateway")) or bool(d.get("is_gateway"))
    for a, b, e in g.edges(data=True):
        na, nb = mapping[a], mapping[b]
        if na == nb:
            continue
        if out.has_edge(na, nb):
            _merge_edge(out.edges[na, nb], e)
        else:
            out.add_edge(na, nb, **{**e, "codes": dict(e["codes"]), "code_detail": dict(e["code_detail"]),
                                    "flags": dict(e["flags"]), "latency_ms": dict(e["latency_ms"]),
                                    "routes": list(e["routes"]), "hints": list(e["hints"])})
    return out


def _service_key(g: nx.DiGraph) -> Callable[[str, dict[str, Any]], tuple[str, dict[str, Any]] | None]:
    """Workloads fold into the (first) service that routes to them; callers with no service stay workloads."""
    owner: dict[str, str] = {}
    for a, b in sorted(g.edges()):
        if g.nodes[a].get("node_type") in ("service", "serviceentry") and g.nodes[b].get("node_type") == "workload":
            owner.setdefault(b, a)

    def key(n: str, d: dict[str, Any]) -> tuple[str, dict[str, Any]] | None:
        s = owner.get(n)
        if s is None:
            return None
        sd = g.nodes[s]
        return s, {k: sd[k] for k in ("node_type", "name", "namespace", "app", "version", "service") if k in sd}

    return key


def view(g: nx.DiGraph, graph_type: str = "workload") -> nx.DiGraph:
    """The graph of one Kiali type, derived from the workload graph ``g`` (which is left unchanged)."""
    if graph_type == "workload":
        return g
    if graph_type == "app":
        return finish(contract(g, lambda n, d: _app_key(d, False)))
    if graph_type == "versionedApp":
        return finish(contract(g, lambda n, d: _app_key(d, True)))
    if graph_type == "service":
        return finish(contract(g, _service_key(g)))
    raise ValueError(f"unknown graph type {graph_type!r} (one of {', '.join(GRAPH_TYPES)})")
