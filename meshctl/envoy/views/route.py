"""``proxy-config route``: route configurations, one row per route (istioctl's columns and quirks)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from meshctl.envoy.dump import ConfigDump
from meshctl.envoy.views.common import Table, go_insertion_sorted, istio_config_path, render_config


@dataclass
class RouteFilter:
    name: str = ""

    def verify(self, rc: Any) -> bool:
        return not self.name or rc.name == self.name


def _numeric_less(a: Any, b: Any) -> bool:
    try:
        return int(a.name) < int(b.name)
    except ValueError:
        return False


def route_configs(dump: ConfigDump, flt: RouteFilter | None = None) -> list[Any]:
    """Dynamic then static route configurations, ordered like istioctl (numeric names ascending)."""
    dump.require("route")
    flt = flt or RouteFilter()
    msgs = [m for _, m in dump.messages("route", ("active",))] + [
        m for _, m in dump.messages("route", ("static",))
    ]
    return [m for m in go_insertion_sorted(msgs, _numeric_less) if flt.verify(m)]


def describe_route_domains(domains: list[str]) -> str:
    """The DOMAINS column: short forms only, at most two, ``+ N more...``."""
    if not domains:
        return ""
    if len(domains) == 1:
        return domains[0]
    without_port = []
    for d in domains:
        if ":" not in d:
            without_port.append(d)
        elif d.count(":") > 2 and d.endswith("]"):
            without_port.append(d)  # a bare [ipv6] address
    unique = set(without_port)
    drop = set()
    for h in without_port:
        for suffix in (".svc.cluster.local", ".svc"):
            if h.endswith(suffix) and h[: -len(suffix)] in unique:
                drop.add(h)
    kept = [h for h in without_port if h not in drop]
    if len(kept) > 2:
        return f"{', '.join(kept[:2])} + {len(kept) - 2} more..."
    return ", ".join(kept)


def describe_match(match: Any) -> str:
    """The MATCH column (headers and query parameters are not shown, as in istioctl)."""
    conds = []
    which = match.WhichOneof("path_specifier")
    if which == "prefix" and match.prefix:
        conds.append(f"{match.prefix}*")
    elif which == "path" and match.path:
        conds.append(match.path)
    elif which == "safe_regex":
        conds.append(f"regex regex:{json.dumps(match.safe_regex.regex)}")
    elif which == "path_separated_prefix":
        conds.append(f"PathPrefix:{match.path_separated_prefix}")
    return " ".join(conds)


def is_passthrough(route: Any) -> bool:
    return (
        route.WhichOneof("action") == "route"
        and route.route.WhichOneof("cluster_specifier") == "cluster"
        and route.route.cluster == "PassthroughCluster"
    )


def table(
    dump: ConfigDump, flt: RouteFilter | None = None, *, verbose: bool = True, with_name: bool = False
) -> Table:
    rcs = route_configs(dump, flt)
    prefix = "route/" if with_name else ""
    if not verbose:
        return Table(
            ["NAME", "VIRTUAL HOSTS"], [[prefix + rc.name, len(rc.virtual_hosts)] for rc in rcs], 0, 8, 5
        )
    rows: list[list[Any]] = []
    for rc in rcs:
        for vh in rc.virtual_hosts:
            domains = describe_route_domains(list(vh.domains))
            for r in vh.routes:
                if not is_passthrough(r):
                    vs = render_config(istio_config_path(r.metadata if r.HasField("metadata") else None))
                    rows.append([prefix + rc.name, vh.name, domains, describe_match(r.match), vs])
            if not vh.routes:
                rows.append([prefix + rc.name, vh.name, domains, "/*", "404"])
    return Table(["NAME", "VHOST NAME", "DOMAINS", "MATCH", "VIRTUAL SERVICE"], rows, 0, 8, 5)
