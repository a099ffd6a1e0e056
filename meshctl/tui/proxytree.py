"""A proxy's config as a browsable tree: listeners, routes, clusters, with the Istio config that owns each.

Built from :class:`meshctl.envoy.dump.ConfigDump` (the shared dump parser), from a live admin endpoint or from
the embedded translator. Ownership ("blame") comes from ``metadata.filter_metadata.istio.config`` -- the
VirtualService of a route, the DestinationRule of a cluster -- as Pilot writes it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from meshctl.envoy.dump import ConfigDump
from meshctl.envoy.views.common import config_ref


@dataclass
class TreeNode:
    label: str
    detail: str = ""  # shown in the side panel when selected
    owner: str = ""  # "VirtualService default/reviews"
    children: list[TreeNode] = field(default_factory=list)

    def add(self, label: str, detail: str = "", owner: str = "") -> TreeNode:
        node = TreeNode(label, detail, owner)
        self.children.append(node)
        return node

    def walk(self) -> list[TreeNode]:
        out = [self]
        for c in self.children:
            out += c.walk()
        return out


def owner_of(obj: dict[str, Any]) -> str:
    """``Kind ns/name`` from ``metadata.filter_metadata.istio.config``, or ``""``."""
    meta = ((obj.get("metadata") or {}).get("filter_metadata") or {}).get("istio") or {}
    path = meta.get("config")
    if not isinstance(path, str):
        return ""
    ref = config_ref(path)
    return f"{ref[0]} {ref[1]}/{ref[2]}" if ref else path


def _addr(a: dict[str, Any]) -> str:
    sa = (a or {}).get("socket_address") or (a or {}).get("socketAddress") or {}
    return f"{sa.get('address', '')}:{sa.get('port_value', sa.get('portValue', ''))}"


def _route_target(r: dict[str, Any]) -> str:
    act = r.get("route") or {}
    if "weighted_clusters" in act:
        cl = act["weighted_clusters"].get("clusters") or []
        return ", ".join(f"{c.get('name')} {c.get('weight', 0)}%" for c in cl)
    if act.get("cluster"):
        return str(act["cluster"])
    if "redirect" in r:
        return "redirect"
    if "direct_response" in r:
        return f"direct {r['direct_response'].get('status', '')}"
    return "?"


def _match(m: dict[str, Any]) -> str:
    for k in ("prefix", "path", "safe_regex", "path_separated_prefix"):
        if k in m:
            v = m[k]
            return f"{k} {v.get('regex', v) if isinstance(v, dict) else v}"
    return "any"


def _json_brief(obj: Any, limit: int = 4000) -> str:
    import json

    text = json.dumps(obj, indent=2, sort_keys=True)
    return text if len(text) <= limit else text[:limit] + "\n…"


def build_tree(dump: ConfigDump, title: str) -> TreeNode:
    """Listeners / Routes / Clusters (and endpoints counts) of one dump."""
    root = TreeNode(title)
    lis = root.add("Listeners")
    for it in sorted(dump.of("listener"), key=lambda i: i.name):
        raw = it.raw
        n = lis.add(f"{it.name}  {_addr(raw.get('address') or {})}", _json_brief(raw))
        for i, fc in enumerate(raw.get("filter_chains") or []):
            fcm = fc.get("filter_chain_match") or {}
            label = fc.get("name") or f"chain {i}"
            if fcm:
                label += "  " + " ".join(f"{k}={v}" for k, v in sorted(fcm.items()) if not isinstance(v, (dict, list)))
            c = n.add(label, _json_brief(fc))
            for f in fc.get("filters") or []:
                tc = f.get("typed_config") or {}
                rds = (tc.get("rds") or {}).get("route_config_name")
                cl = tc.get("cluster")
                extra = f" -> route {rds}" if rds else (f" -> {cl}" if cl else "")
                c.add(f"{f.get('name', '').rsplit('.', 1)[-1]}{extra}", _json_brief(f))
        lis.label = f"Listeners ({len(lis.children)})"
    routes = root.add("Routes")
    for it in sorted(dump.of("route"), key=lambda i: i.name):
        rc = it.raw
        n = routes.add(it.name, _json_brief(rc))
        for vh in rc.get("virtual_hosts") or []:
            v = n.add(f"{vh.get('name')}  [{', '.join((vh.get('domains') or [])[:3])}{'…' if len(vh.get('domains') or []) > 3 else ''}]",
                      _json_brief(vh))
            for r in vh.get("routes") or []:
                own = owner_of(r)
                v.add(f"{r.get('name') or _match(r.get('match') or {})} -> {_route_target(r)}"
                      + (f"  ({own})" if own else ""), _json_brief(r), own)
        routes.label = f"Routes ({len(routes.children)})"
    clusters = root.add("Clusters")
    for it in sorted(dump.of("cluster"), key=lambda i: i.name):
        raw = it.raw
        own = owner_of(raw)
        typ = raw.get("type") or ("EDS" if "eds_cluster_config" in raw else "")
        clusters.add(f"{it.name}  {typ}" + (f"  ({own})" if own else ""), _json_brief(raw), own)
    clusters.label = f"Clusters ({len(clusters.children)})"
    eps = dump.of("endpoint")
    if eps:
        e = root.add(f"Endpoints ({len(eps)})")
        for it in sorted(eps, key=lambda i: i.name):
            n_hosts = sum(len(g.get("lb_endpoints") or []) for g in it.raw.get("endpoints") or [])
            e.add(f"{it.name}  {n_hosts} endpoint(s)", _json_brief(it.raw))
    return root


def load_live_dump(admin_url: str) -> ConfigDump:
    """A live proxy's dump through the shared admin client."""
    from meshctl.envoy.admin import AdminClient
    from meshctl.envoy.dump import load_dump

    body = AdminClient(admin_url, timeout=5.0).config_dump(include_eds=True)
    return load_dump(body, source=admin_url)
