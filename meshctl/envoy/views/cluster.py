"""``proxy-config cluster``: the clusters a proxy knows, like istioctl (active dynamic then static; warming ignored)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from meshctl.envoy.dump import ConfigDump
from meshctl.envoy.views.common import (
    Table,
    cluster_sort_key,
    istio_config_path,
    parse_subset_key,
    render_config,
)


@dataclass
class ClusterFilter:
    """istioctl's filters: substring matches on the cluster name; ``port`` matches ``|PORT|``."""

    fqdn: str = ""
    port: int = 0
    subset: str = ""
    direction: str = ""

    def verify(self, name: str) -> bool:
        if self.fqdn and self.fqdn not in name:
            return False
        if self.direction and self.direction not in name:
            return False
        if self.subset and self.subset not in name:
            return False
        if self.port and f"|{self.port}|" not in name:
            return False
        return True


def clusters(dump: ConfigDump, flt: ClusterFilter | None = None) -> list[Any]:
    """Cluster messages in istioctl's order (hostname, subset, port, direction), filtered."""
    dump.require("cluster")
    flt = flt or ClusterFilter()
    msgs = [m for _, m in dump.messages("cluster", ("active",))] + [
        m for _, m in dump.messages("cluster", ("static",))
    ]
    msgs = [m for m in msgs if flt.verify(m.name)]
    return sorted(msgs, key=lambda m: cluster_sort_key(m.name))


def cluster_type(c: Any) -> str:
    """The ``type`` enum name; clusters using ``cluster_type`` (extensions) print STATIC like istioctl."""
    return c.DiscoveryType.Name(c.type) if c.WhichOneof("cluster_discovery_type") == "type" else "STATIC"


def table(dump: ConfigDump, flt: ClusterFilter | None = None, *, with_name: bool = False) -> Table:
    headers = ["SERVICE FQDN", "PORT", "SUBSET", "DIRECTION", "TYPE", "DESTINATION RULE"]
    if with_name:
        headers = ["NAME", *headers]
    rows = []
    for c in clusters(dump, flt):
        dr = render_config(istio_config_path(c.metadata if c.HasField("metadata") else None))
        if len(c.name.split("|")) > 3:
            direction, port, subset, fqdn = parse_subset_key(c.name)
            row: list[Any] = [fqdn, port, subset or "-", direction, cluster_type(c), dr]
        else:
            row = [f"cluster/{c.name}" if with_name else c.name, "-", "-", "-", cluster_type(c), dr]
        if with_name:
            row = [f"cluster/{c.name}", *row]
        rows.append(row)
    return Table(headers, rows, 0, 8, 5)
