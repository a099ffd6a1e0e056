"""Route weights as the proxies really have them: RDS ``weighted_clusters`` from Envoy's config dump.

Why: configuration files say what weights should be; a proxy's route table says what it does now. When a
live mesh changes (``meshctl demo apply`` shifting reviews to v3, a kubectl apply), the proxies' routes move
first-hand, so the graph takes the weights shown on ``service -> workload`` edges from them when it can.
The catch-all route (the last route of a virtual host) is the split; earlier routes are conditional.
"""

from __future__ import annotations

import json
import urllib.request
from typing import Any

from meshctl.graph.stats import parse_cluster_name

ROUTES_PATH = "/config_dump?resource=dynamic_route_configs"


def _route_configs(dump: dict[str, Any]) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for cfg in dump.get("configs", []):
        # resource= form: each entry is a DynamicRouteConfig; full form: a RoutesConfigDump
        if "route_config" in cfg:
            out.append(cfg["route_config"])
        for key in ("dynamic_route_configs", "static_route_configs"):
            for rc in cfg.get(key, []) or []:
                if "route_config" in rc:
                    out.append(rc["route_config"])
    return out


def weights_from_config_dump(dump: dict[str, Any]) -> dict[str, dict[str, float]]:
    """host -> subset -> percent, from each virtual host's catch-all route (Istio cluster names)."""
    result: dict[str, dict[str, float]] = {}
    for rc in _route_configs(dump):
        for vh in rc.get("virtual_hosts", []) or []:
            routes = vh.get("routes") or []
            if not routes:
                continue
            action = routes[-1].get("route") or {}
            if "weighted_clusters" in action:
                clusters = action["weighted_clusters"].get("clusters") or []
                total = sum(int(c.get("weight", 0) or 0) for c in clusters) or 1
                split = [(c.get("name", ""), 100.0 * int(c.get("weight", 0) or 0) / total) for c in clusters]
            elif action.get("cluster"):
                split = [(action["cluster"], 100.0)]
            else:
                continue
            seen_here: dict[str, dict[str, float]] = {}
            for name, pct in split:
                cn = parse_cluster_name(name)
                if cn.direction != "outbound":
                    continue
                sub = seen_here.setdefault(cn.host, {})
                sub[cn.subset] = sub.get(cn.subset, 0.0) + pct
            for host, sub in seen_here.items():
                result.setdefault(host, sub)  # first virtual host naming a service wins (one per port otherwise)
    return result


def fetch_weights(admin_url: str, timeout: float = 3.0) -> dict[str, dict[str, float]]:
    """Weights from one proxy's live route tables ({} when it has none or cannot be read)."""
    try:
        with urllib.request.urlopen(admin_url.rstrip("/") + ROUTES_PATH, timeout=timeout) as r:  # noqa: S310
            dump = json.loads(r.read())
    except Exception:
        return {}
    return weights_from_config_dump(dump)
