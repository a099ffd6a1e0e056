"""Build the traffic graph: configuration first (what routing allows), then observed traffic on top.

The base graph is Kiali's workload graph with service nodes injected: ``workload -> service -> workload``.
Edges from configuration carry route weights and are ``idle`` until traffic is seen; traffic the
configuration does not explain stays visible and is flagged: calls to hosts not in the registry, through
PassthroughCluster / BlackHoleCluster, responses without upstream (503 UH/NR/UO), callers nobody can name.
Other graph types (app, versionedApp, service) are aggregations of this one (:mod:`meshctl.graph.views`).
"""

from __future__ import annotations

from typing import Any

import networkx as nx

from meshctl.graph import health as H
from meshctl.graph.topology import Topology, WorkloadInfo, split_service_host
from meshctl.graph.traffic import BLACKHOLE, PASSTHROUGH, TrafficEdge, TrafficWindow

UNKNOWN = "unknown"

HINT_PASSTHROUGH = (
    "traffic to hosts not in the service registry leaves the mesh through PassthroughCluster: "
    "add a ServiceEntry for the external host to get routing, telemetry and policy"
)
HINT_BLACKHOLE = (
    "requests dropped by BlackHoleCluster (outboundTrafficPolicy REGISTRY_ONLY): add a ServiceEntry for the destination host"
)


def wl_id(ns: str, name: str) -> str:
    return f"wl:{ns}/{name}"


def svc_id(host: str, topo: Topology | None = None) -> str:
    """Node id of a destination host: ``svc:<ns>/<name>`` for Kubernetes hosts, ``se:<host>`` for others."""
    if host in (PASSTHROUGH, BLACKHOLE):
        return host
    svc = topo.services.get(host) if topo else None
    if svc is not None and svc.service_entry:
        return f"se:{host}"
    parts = split_service_host(host)
    if parts:
        return f"svc:{parts[1]}/{parts[0]}"
    return f"se:{host}"


def _workload_node(g: nx.DiGraph, w: WorkloadInfo, in_config: bool = True) -> str:
    nid = wl_id(w.namespace, w.name)
    badges = []
    if not w.sidecar and not w.gateway:  # a gateway is a proxy itself
        badges.append("missingsidecar")
    if w.gateway:
        badges.append("gateway")
    g.add_node(
        nid,
        node_type="workload",
        namespace=w.namespace,
        name=w.name,
        workload=w.name,
        app=w.app,
        version=w.version,
        service="",
        labels=dict(w.labels),
        badges=badges,
        is_gateway=w.gateway,
        in_config=in_config,
        hints=[],
    )
    if not w.sidecar and not w.gateway:
        g.nodes[nid]["hints"].append("no sidecar: traffic to and from this workload bypasses the mesh (no mTLS, no routing)")
    return nid


def _host_node(g: nx.DiGraph, host: str, topo: Topology) -> str:
    nid = svc_id(host, topo)
    if nid in g:
        return nid
    if host == PASSTHROUGH:
        g.add_node(nid, node_type="passthrough", namespace="", name=PASSTHROUGH, app="", version="", workload="", service=host,
                   labels={}, badges=[], in_config=False, hints=[HINT_PASSTHROUGH])
        return nid
    if host == BLACKHOLE:
        g.add_node(nid, node_type="blackhole", namespace="", name=BLACKHOLE, app="", version="", workload="", service=host,
                   labels={}, badges=[], in_config=False, hints=[HINT_BLACKHOLE])
        return nid
    svc = topo.services.get(host)
    parts = split_service_host(host)
    ns = svc.namespace if svc else (parts[1] if parts else "")
    name = svc.name if svc and not svc.service_entry else (parts[0] if parts else host)
    g.add_node(
        nid,
        node_type="serviceentry" if nid.startswith("se:") else "service",
        namespace=ns,
        name=name if not nid.startswith("se:") else host,
        app="",
        version="",
        workload="",
        service=host,
        labels={},
        badges=sorted(topo.badges.get(host, set()) | ({"serviceentry"} if svc and svc.service_entry else set())),
        in_config=svc is not None,
        external=bool(svc and svc.external),
        hints=[] if svc is not None else [f"host {host} is not in the configuration (no Service or ServiceEntry)"],
    )
    return nid


def _edge(g: nx.DiGraph, a: str, b: str) -> dict[str, Any]:
    if not g.has_edge(a, b):
        g.add_edge(
            a,
            b,
            protocol="http",
            rps=0.0,
            codes={},
            code_detail={},
            latency_ms={},
            bytes_per_s=0.0,
            weight=None,
            routes=[],
            configured=False,
            traffic=False,
            flags={},
            attempts_rps=0.0,
            retries_rps=0.0,
            retried_codes={},
            unexplained=False,
            health=H.IDLE,
            hints=[],
        )
    return g.edges[a, b]  # type: ignore[no-any-return]


def _add_traffic(e: dict[str, Any], t: TrafficEdge, share: float = 1.0) -> None:
    """Add ``share`` of a traffic sample to an edge (latency as a request-weighted mean of quantiles)."""
    rps = t.rps * share
    old = e["rps"]
    e["traffic"] = e["traffic"] or rps > 0 or t.bytes_per_s > 0
    e["protocol"] = t.protocol
    for key, src in (("codes", t.codes), ("code_detail", t.code_detail), ("flags", t.flags)):
        for k, v in src.items():
            e[key][k] = e[key].get(k, 0.0) + v * share
    if t.latency_ms and rps > 0:
        for q, v in t.latency_ms.items():
            prev = e["latency_ms"].get(q)
            e["latency_ms"][q] = v if prev is None or old <= 0 else (prev * old + v * rps) / (old + rps)
    e["rps"] = old + rps
    e["bytes_per_s"] += t.bytes_per_s * share
    e["attempts_rps"] += (t.attempts_rps if t.attempts_rps is not None else t.rps) * share
    e["retries_rps"] += t.retries_rps * share
    for k, v in t.retried_codes.items():
        e["retried_codes"][k] = e["retried_codes"].get(k, 0.0) + v * share


def config_graph(topo: Topology) -> nx.DiGraph:
    """The graph configuration alone implies: nodes for everything, edges for routes (weights), idle."""
    g = nx.DiGraph()
    for w in topo.workloads.values():
        _workload_node(g, w)
    for host, svc in topo.services.items():
        if svc.selector is not None or svc.service_entry:
            _host_node(g, host, topo)
    for host, svc in topo.services.items():
        routes = topo.routes.get(host)
        sid = svc_id(host, topo)
        if routes:
            # Weight shown = the share in the catch-all (last) rule that names the destination.
            for rd in routes:
                backends = topo.backends(rd.host, rd.subset)
                target_svc = svc_id(rd.host, topo)
                if rd.host != host and rd.host in topo.services:
                    _host_node(g, rd.host, topo)
                for w in backends:
                    e = _edge(g, sid, wl_id(w.namespace, w.name))
                    e["configured"] = True
                    if not rd.matched:
                        e["weight"] = round(rd.weight / len(backends)) if len(backends) > 1 else rd.weight
                    else:
                        e["route_match"] = True  # reached only by a conditional (match) rule
                    e["routes"].append(f"VirtualService {rd.vs.namespace}/{rd.vs.name} {rd.path} weight {rd.weight}")
                    if rd.host != host:
                        e["hints"].append(f"routed to {target_svc} by the VirtualService")
                if not backends and rd.host in topo.services:
                    g.nodes[sid]["hints"].append(
                        f"VirtualService {rd.vs.namespace}/{rd.vs.name} routes to {rd.host}"
                        + (f" subset {rd.subset}" if rd.subset else "")
                        + " which selects no workload"
                    )
        elif svc.selector is not None:
            for w in topo.backends(host):
                e = _edge(g, sid, wl_id(w.namespace, w.name))
                e["configured"] = True
    for w, rd in topo.gateway_routes:
        if rd.host not in topo.services:
            _host_node(g, rd.host, topo)
        e = _edge(g, wl_id(w.namespace, w.name), svc_id(rd.host, topo))
        e["configured"] = True
        e["weight"] = rd.weight
        e["routes"].append(f"VirtualService {rd.vs.namespace}/{rd.vs.name} {rd.path} weight {rd.weight}")
    return g


def _source_node(g: nx.DiGraph, topo: Topology, src: tuple[str, str] | None) -> str:
    if src is None:
        if UNKNOWN not in g:
            g.add_node(UNKNOWN, node_type="unknown", namespace="", name=UNKNOWN, app="", version="", workload="", service="",
                       labels={}, badges=["trafficsource"], in_config=False,
                       hints=["callers the graph cannot name (outside the mesh, or proxies that were not polled)"])
        return UNKNOWN
    nid = wl_id(*src)
    if nid not in g:
        w = topo.workloads.get(src)
        if w is not None:
            _workload_node(g, w)
        else:
            _workload_node(g, WorkloadInfo(src[1], src[0], "unknown", {}, None), in_config=False)
            g.nodes[nid]["hints"].append("workload not in the configuration")
    return nid


def apply_traffic(g: nx.DiGraph, topo: Topology, window: TrafficWindow) -> nx.DiGraph:
    """Overlay one traffic window on a (config) graph, in place; returns ``g``."""
    # Inbound share per workload, used to split service -> workload traffic when the source cannot tell.
    for t in window.edges:
        src = _source_node(g, topo, t.source)
        dst = _host_node(g, t.dest_host, topo)
        e = _edge(g, src, dst)
        _add_traffic(e, t)
        if t.local:
            # Injected aborts: the caller's proxy answered, no workload behind the service saw the request.
            e["fault_attribution"] = t.fault or "exact"
            hint = ("fault injection: the caller's proxy answers these requests itself (VirtualService fault); "
                    "they never reach the destination")
            if hint not in e["hints"]:
                e["hints"].append(hint)
            continue
        if dst in (PASSTHROUGH, BLACKHOLE):
            e["unexplained"] = True
            if g.nodes[dst]["hints"][0] not in e["hints"]:
                e["hints"].append(g.nodes[dst]["hints"][0])
            continue
        svc = topo.services.get(t.dest_host)
        if svc is None:
            e["unexplained"] = True
            if not e["hints"]:
                e["hints"].append(f"traffic to {t.dest_host}, which no Service or ServiceEntry defines")
            continue
        if t.dest_workload is not None:
            targets = [(t.dest_workload, 1.0)]
        else:
            backends = topo.backends(t.dest_host, t.dest_subset)
            if t.dest_subset and not backends and (t.dest_host, t.dest_subset) not in topo.subsets:
                e["unexplained"] = True
                e["hints"].append(f"subset {t.dest_subset} of {t.dest_host} is not defined by any DestinationRule")
            keys = [(w.namespace, w.name) for w in backends]
            measured = [k for k in keys if k in window.inbound]
            total_in = sum(window.inbound[k] for k in measured)
            if measured and total_in > 0 and len(keys) > 1:
                targets = [(k, window.inbound[k] / total_in) for k in measured]
            else:
                targets = [(k, 1.0 / len(keys)) for k in keys]
        for key, share in targets:
            wid = _source_node(g, topo, key)
            we = _edge(g, dst, wid)
            _add_traffic(we, t, share)
            if not we["configured"] and g.nodes[dst].get("in_config"):
                we["unexplained"] = True
                we["hints"].append("traffic on an edge no configured route explains")
    # Callers nobody reported: inbound measured at a workload minus what the graph attributes to it.
    for key, rps_in in window.inbound.items():
        nid = wl_id(*key)
        if nid not in g:
            _source_node(g, topo, key)
        attributed = sum(d["rps"] for _, _, d in g.in_edges(nid, data=True))
        residual = rps_in - attributed
        # Proxies are polled a few ms apart: only a residual worth >= 2 requests and 20 % of the inbound is a
        # caller the graph cannot name, not polling skew.
        if residual > max(2.0 / window.seconds if window.seconds else 0.05, 0.2 * rps_in):
            codes = window.inbound_codes.get(key, {})
            scale = residual / rps_in if rps_in else 0.0
            t = TrafficEdge(None, "", rps=residual, codes={k: v * scale for k, v in codes.items()})
            _add_traffic(_edge(g, _source_node(g, topo, None), nid), t)
    for key, codes in window.node_codes.items():
        nid = _source_node(g, topo, key)
        g.nodes[nid]["local_codes"] = dict(codes)
        hosts = sorted(window.fault_hosts.get(key, set()))
        for host in hosts:
            if host in topo.services or host in g:
                e = _edge(g, nid, _host_node(g, host, topo))
                e["fault_attribution"] = "unattributed"
                e["hints"].append("fault injection configured on this route; its aborts share a listener with other "
                                  "faulted destinations, so they are counted on the caller node (unattributed)")
        g.nodes[nid]["hints"].append(
            f"{sum(codes.values()):.2f} rps aborted by fault injection on this proxy, not attributable to one "
            "destination (" + (", ".join(hosts) if hosts else "route config unreadable") + ")")
    for key, flags in window.node_flags.items():
        nid = _source_node(g, topo, key)
        node = g.nodes[nid]
        node.setdefault("flags", {}).update(flags)
        if "NR" in flags:
            node["hints"].append(
                f"{flags['NR']:.2f} rps answered 404 NR (no route): requests for hosts/paths no route matches; "
                "check the VirtualService hosts and matches"
            )
        if "NC" in flags:
            node["hints"].append(
                f"{flags['NC']:.2f} rps answered 503 NC (cluster not found): a route names a cluster this proxy "
                "does not have (a subset no DestinationRule defines, or config not pushed yet)"
            )
    g.graph["seconds"] = window.seconds
    g.graph["measured"] = sorted(f"{ns}/{n}" for ns, n in window.measured)
    g.graph["errors"] = dict(window.errors)
    return g


def finish(g: nx.DiGraph) -> nx.DiGraph:
    """Compute derived attributes: error percentages, health, per-node rates, traffic-source and idle flags."""
    for _, _, e in g.edges(data=True):
        rps = e["rps"]
        ecodes: dict[str, float] = dict(e["codes"])
        for flag, text in _FLAG_TEXT.items():
            hint = f"response flag {flag}: {text}"
            if flag in e["flags"] and hint not in e["hints"]:
                e["hints"].append(hint)
        e["err4xx"] = 100.0 * ecodes.get("4xx", 0.0) / rps if rps else 0.0
        e["err5xx"] = 100.0 * (ecodes.get("5xx", 0.0) + ecodes.get("0", 0.0)) / rps if rps else 0.0
        e["errpct"] = e["err4xx"] + e["err5xx"]
        e.setdefault("attempts_rps", rps)
        e.setdefault("retries_rps", 0.0)
        e.setdefault("retried_codes", {})
        # Per try (what the upstream itself did): final failures plus the failed attempts that were retried.
        # Exact when Envoy charged every retried try a code (retry.upstream_rq_*); retries after a reset or a
        # connect failure have no code, so then each retry counts as one failed try (retry_on fired on it).
        att = e["attempts_rps"]
        retried_fail = max(sum(v for k, v in e["retried_codes"].items() if k in ("4xx", "5xx")), e["retries_rps"])
        final_fail = ecodes.get("4xx", 0.0) + ecodes.get("5xx", 0.0) + ecodes.get("0", 0.0)
        e["attempt_errpct"] = min(100.0, 100.0 * (final_fail + retried_fail) / att) if att else 0.0
        e["health"] = H.health_of(rps, ecodes) if e["traffic"] else H.IDLE
    total_out_by_node: dict[str, float] = {}
    for n, d in g.nodes(data=True):
        ins = list(g.in_edges(n, data=True))
        outs = list(g.out_edges(n, data=True))
        d["rps_in"] = sum(e["rps"] for *_, e in ins)
        d["rps_out"] = sum(e["rps"] for *_, e in outs)
        # per protocol, for Kiali's httpin/grpcin/tcpin operands (tcp in bytes per second)
        for proto in ("http", "grpc"):
            d[f"{proto}_in"] = sum(e["rps"] for *_, e in ins if e["protocol"] == proto)
            d[f"{proto}_out"] = sum(e["rps"] for *_, e in outs if e["protocol"] == proto)
        d["tcp_in"] = sum(e["bytes_per_s"] for *_, e in ins if e["protocol"] == "tcp")
        d["tcp_out"] = sum(e["bytes_per_s"] for *_, e in outs if e["protocol"] == "tcp")
        total_out_by_node[n] = d["rps_out"]
        codes: dict[str, float] = {}
        for *_, e in ins or outs:
            for k, v in e["codes"].items():
                codes[k] = codes.get(k, 0.0) + v
        base = d["rps_in"] if ins else d["rps_out"]
        d["errpct"] = 100.0 * (codes.get("4xx", 0) + codes.get("5xx", 0) + codes.get("0", 0)) / base if base else 0.0
        d["health"] = H.health_of(base, codes) if base > 0 else H.IDLE
        local = d.get("local_codes") or {}
        if local:
            # Unattributed fault aborts at this proxy: its outbound requests plus them, judged on their own.
            lbase = d["rps_out"] + sum(local.values())
            d["health"] = H.worst(d["health"], H.health_of(lbase, local))
        d["idle"] = not any(e["traffic"] for *_, e in ins + outs)
        d["traffic_source"] = not ins and bool(outs) and not d["idle"]
        badges = set(d.get("badges", []))
        if d["traffic_source"]:
            badges.add("trafficsource")
        d["badges"] = sorted(badges)
    # Kiali's rank: 1 for the nodes with the most inbound edges, 2 for the next in-degree, ... (dense)
    degrees = sorted({g.in_degree(n) for n in g}, reverse=True)
    pos = {deg: i + 1 for i, deg in enumerate(degrees)}
    for n, d in g.nodes(data=True):
        d["rank"] = pos[g.in_degree(n)]
    # Kiali's %traffic: an edge's share of its source node's outbound requests.
    for a, _, e in g.edges(data=True):
        tot = total_out_by_node.get(a, 0.0)
        e["pcttraffic"] = 100.0 * e["rps"] / tot if tot else 0.0
    return g


_FLAG_TEXT = {
    "UH": "no healthy upstream (503): the destination has no ready endpoints",
    "NR": "no route configured (404/503): no route or cluster matched the request",
    "NC": "upstream cluster not found (503): a route points at a cluster the proxy does not have",
    "UO": "upstream overflow (503): the circuit breaker (connectionPool limits) rejected the request",
    "UF": "upstream connection failure (503)",
    "URX": "retry limit reached",
    "FI": "fault injected: the request was aborted by the caller's VirtualService fault (no upstream call)",
    "DI": "fault injected: the request was delayed by the caller's VirtualService fault",
}


def build_graph(topo: Topology, window: TrafficWindow | None = None,
                weights: dict[str, dict[str, float]] | None = None) -> nx.DiGraph:
    """Config graph + live route weights + traffic overlay + derived attributes: what CLI and TUI use."""
    g = config_graph(topo)
    if weights:
        apply_weights(g, topo, weights)
    if window is not None:
        apply_traffic(g, topo, window)
    return finish(g)


def apply_weights(g: nx.DiGraph, topo: Topology, weights: dict[str, dict[str, float]]) -> nx.DiGraph:
    """Overwrite ``service -> workload`` edge weights with the proxies' live route weights (in place).

    ``weights`` is host -> subset -> percent (see :mod:`meshctl.graph.weights`). Edges for a subset that
    now gets traffic but had no configured edge are added; subsets that dropped to 0 % show weight 0.
    """
    for host, split in weights.items():
        if host not in topo.services:
            continue
        sid = _host_node(g, host, topo)
        seen: set[str] = set()
        for subset, pct in split.items():
            backends = topo.backends(host, subset)
            for w in backends:
                wid = wl_id(w.namespace, w.name)
                if wid not in g:
                    _workload_node(g, w)
                e = _edge(g, sid, wid)
                e["configured"] = True
                e["weight"] = round(pct / len(backends))
                e["weight_source"] = "proxy"
                seen.add(wid)
        if any(subset for subset in split):
            for _, wid, e in g.out_edges(sid, data=True):
                if wid not in seen and e.get("weight") is not None:
                    e["weight"] = 0
                    e["weight_source"] = "proxy"
    return g
