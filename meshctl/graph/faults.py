"""Which destinations a proxy injects faults for: its listeners' route tables, keyed by HCM stat prefix.

Why: a VirtualService ``fault.abort`` makes the *caller's* Envoy answer locally. No upstream cluster counter
moves, so an edge built from cluster stats would be missing and the caller would look healthy. What does move
is the caller's HTTP connection manager (``http.<stat_prefix>.fault.aborts_injected``, ``downstream_rq_5xx``).
A stat prefix names a listener, not a destination: the listener's route table (from ``/config_dump``) says
which routes carry a fault and where they lead. One faulted destination per listener -> exact attribution;
several -> the aborts cannot be split from counters alone (unattributed, shown on the caller node).
"""

from __future__ import annotations

import json
import urllib.request
from dataclasses import dataclass, field
from typing import Any

from meshctl.graph.stats import parse_cluster_name
from meshctl.graph.weights import _route_configs

FAULT_FILTER = "envoy.filters.http.fault"
HCM_TYPE = "envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager"
_DENOMINATORS = {"HUNDRED": 100.0, "TEN_THOUSAND": 10_000.0, "MILLION": 1_000_000.0}


@dataclass
class RouteFault:
    """A route (or virtual host) with a fault: where it leads and what it injects."""

    hosts: tuple[str, ...]  # destination service hosts of the route's clusters
    abort_status: int | None = None  # HTTP status of injected aborts (None: grpc/header abort, or delay only)
    abort_percent: float | None = None
    delay: bool = False
    route: str = ""  # "vhost/route" name, for hints


@dataclass
class ListenerFaults:
    """The faults reachable through one HTTP connection manager (one stat prefix)."""

    stat_prefix: str
    faults: list[RouteFault] = field(default_factory=list)

    @property
    def hosts(self) -> set[str]:
        return {h for f in self.faults for h in f.hosts}

    def abort_status(self, host: str) -> int | None:
        return next((f.abort_status for f in self.faults if host in f.hosts and f.abort_status), None)


def _percent(p: Any) -> float | None:
    if not isinstance(p, dict):
        return None
    return 100.0 * float(p.get("numerator", 0) or 0) / _DENOMINATORS.get(str(p.get("denominator", "HUNDRED")), 100.0)


def _fault_of(per_filter: Any) -> dict[str, Any] | None:
    if not isinstance(per_filter, dict):
        return None
    cfg = per_filter.get(FAULT_FILTER)
    if isinstance(cfg, dict) and "config" in cfg and isinstance(cfg["config"], dict):  # FilterConfig wrapper
        cfg = cfg["config"]
    return cfg if isinstance(cfg, dict) and (cfg.get("abort") or cfg.get("delay")) else None


def _route_hosts(route: dict[str, Any]) -> tuple[str, ...]:
    action = route.get("route") or {}
    names = [c.get("name", "") for c in (action.get("weighted_clusters") or {}).get("clusters", []) or []]
    if action.get("cluster"):
        names.append(action["cluster"])
    hosts = []
    for n in names:
        cn = parse_cluster_name(n)
        if cn.direction == "outbound" and cn.host not in hosts:
            hosts.append(cn.host)
    return tuple(hosts)


def _faults_in_route_config(rc: dict[str, Any]) -> list[RouteFault]:
    out: list[RouteFault] = []
    for vh in rc.get("virtual_hosts", []) or []:
        vh_fault = _fault_of(vh.get("typed_per_filter_config"))
        for i, route in enumerate(vh.get("routes", []) or []):
            cfg = _fault_of(route.get("typed_per_filter_config")) or vh_fault
            if cfg is None:
                continue
            abort = cfg.get("abort") or {}
            status = abort.get("http_status")
            out.append(RouteFault(
                hosts=_route_hosts(route),
                abort_status=int(status) if status else None,
                abort_percent=_percent(abort.get("percentage")) if abort else None,
                delay=bool(cfg.get("delay")),
                route=f"{vh.get('name', '')}/{route.get('name') or i}",
            ))
    return out


def _listeners(dump: dict[str, Any]) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for cfg in dump.get("configs", []):
        for s in cfg.get("static_listeners", []) or []:
            if isinstance(s.get("listener"), dict):
                out.append(s["listener"])
        for d in cfg.get("dynamic_listeners", []) or []:
            active = d.get("active_state") or {}
            if isinstance(active.get("listener"), dict):
                out.append(active["listener"])
    return out


def faults_from_config_dump(dump: dict[str, Any]) -> dict[str, ListenerFaults]:
    """stat prefix (without Istio's trailing ``;``) -> the faults its routes inject.

    Only HCMs that run the fault filter and have faults on some route or virtual host are listed.
    """
    routes = {rc.get("name", ""): rc for rc in _route_configs(dump)}
    result: dict[str, ListenerFaults] = {}
    for lis in _listeners(dump):
        chains = list(lis.get("filter_chains", []) or [])
        if lis.get("default_filter_chain"):
            chains.append(lis["default_filter_chain"])
        for chain in chains:
            for f in chain.get("filters", []) or []:
                tc = f.get("typed_config") or {}
                if not str(tc.get("@type", "")).endswith(HCM_TYPE):
                    continue
                if not any(h.get("name") == FAULT_FILTER for h in tc.get("http_filters", []) or []):
                    continue
                rc = tc.get("route_config") or routes.get((tc.get("rds") or {}).get("route_config_name", ""))
                faults = _faults_in_route_config(rc) if isinstance(rc, dict) else []
                if faults:
                    prefix = str(tc.get("stat_prefix", "")).removesuffix(";")  # Istio's delimited prefix
                    lf = result.setdefault(prefix, ListenerFaults(prefix))
                    lf.faults += [x for x in faults if x not in lf.faults]
    return result


def fetch_faults(admin_url: str, timeout: float = 3.0) -> dict[str, ListenerFaults]:
    """Fault map of one proxy ({} when it cannot be read: the aborts then stay unattributed)."""
    try:
        with urllib.request.urlopen(admin_url.rstrip("/") + "/config_dump", timeout=timeout) as r:  # noqa: S310
            return faults_from_config_dump(json.loads(r.read()))
    except Exception:
        return {}
