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
    dst["attempts_rps"] = dst.get("attempts_rps", 0.0) + src.get("attempts_rps", 0.0)
    dst["retries_rps"] = dst.get("retries_rps", 0.0) + src.get("retries_rps", 0.0)
    rc = dict(dst.get("retried_codes") or {})
    for k, v in (src.get("retried_codes") or {}).items():
        rc[k] = rc.get(k, 0.0) + v
    dst["retried_codes"] = rc
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
        if d.get("local_codes"):  # unattributed fault aborts of a member proxy stay on the merged node
            lc = dict(node.get("local_codes") or {})
            for k, v in d["local_codes"].items():
                lc[k] = lc.get(k, 0.0) + v
            node["local_codes"] = lc
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


def view(g: nx.DiGraph, graph_type: str = "workload", service_nodes: bool = True) -> nx.DiGraph:
    """The graph of one Kiali type, derived from the workload graph ``g`` (which is left unchanged).

    ``service_nodes=False`` folds called services into direct edges (not for the ``service`` type itself).
    """
    if not service_nodes and graph_type != "service":
        return view(without_service_nodes(g), graph_type)
    if graph_type == "workload":
        return g
    if graph_type == "app":
        return finish(contract(g, lambda n, d: _app_key(d, False)))
    if graph_type == "versionedApp":
        return finish(contract(g, lambda n, d: _app_key(d, True)))
    if graph_type == "service":
        return finish(contract(g, _service_key(g)))
    raise ValueError(f"unknown graph type {graph_type!r} (one of {', '.join(GRAPH_TYPES)})")


def without_service_nodes(g: nx.DiGraph) -> nx.DiGraph:
    """Kiali's "service nodes" display option turned off: ``a -> svc -> b`` becomes ``a -> b``.

    Each caller's traffic to a service is split over the service's workloads in the proportions the service
    actually sent (its out-edges), latency and codes following the service -> workload edge; the route weight is
    the workload edge's. Services nobody calls (config only) and services with no workload behind them
    (ServiceEntries, PassthroughCluster, unknown hosts) stay as nodes.
    """
    out = nx.DiGraph(**g.graph)
    drop = {
        n for n, d in g.nodes(data=True)
        if d.get("node_type") in ("service", "serviceentry") and g.in_degree(n) and g.out_degree(n)
    }
    for n, d in g.nodes(data=True):
        if n not in drop:
            out.add_node(n, **d)
    for a, b, e in g.edges(data=True):
        if a not in drop and b not in drop:
            out.add_edge(a, b, **e)
    for s in sorted(drop):
        outs = list(g.out_edges(s, data=True))
        total = sum(e["rps"] for *_, e in outs)
        for a, _, ein in g.in_edges(s, data=True):
            for _, b, eout in outs:
                share = eout["rps"] / total if total > 0 else 0.0
                new = {**eout, "rps": ein["rps"] * share, "bytes_per_s": ein["bytes_per_s"] * share,
                       "codes": {k: v * share for k, v in ein["codes"].items()},
                       "code_detail": {k: v * share for k, v in ein["code_detail"].items()},
                       "flags": {k: v * share for k, v in ein["flags"].items()},
                       "attempts_rps": ein.get("attempts_rps", ein["rps"]) * share,
                       "retries_rps": ein.get("retries_rps", 0.0) * share,
                       "retried_codes": {k: v * share for k, v in (ein.get("retried_codes") or {}).items()},
                       "latency_ms": dict(eout["latency_ms"]), "traffic": ein["traffic"] and share > 0,
                       "routes": list(eout["routes"]), "hints": list(dict.fromkeys(ein["hints"] + eout["hints"])),
                       "unexplained": ein["unexplained"] or eout["unexplained"], "via": g.nodes[s].get("name", s)}
                if out.has_edge(a, b):
                    _merge_edge(out.edges[a, b], new)
                else:
                    out.add_edge(a, b, **new)
    return finish(out)
