"""``proxy-config cluster``: the clusters a proxy knows, like istioctl (active dynamic then static; warming ignored)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from meshctl.envoy.dump import ConfigDump, field
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


#: Above this many clusters the short table reads the dump's JSON directly instead of building protobuf
#: messages (seconds saved on big meshes; per-resource parse warnings are then not produced).
FAST_PATH_MIN = 1000


def _raw_rows(dump: ConfigDump, flt: ClusterFilter) -> list[tuple[str, str, str]]:
    """(name, TYPE, DESTINATION RULE) straight from the dump's JSON, for big dumps."""
    out = []
    for state in ("active", "static"):
        for it in dump.of("cluster", (state,)):
            if not flt.verify(it.name):
                continue
            raw = it.raw
            t = field(raw, "type")
            ctype = "STATIC" if field(raw, "cluster_type") is not None or not isinstance(t, str) else t
            cfg = field(field(field(raw, "metadata"), "filter_metadata"), "istio")
            path = cfg.get("config", "") if isinstance(cfg, dict) else ""
            out.append((it.name, ctype, render_config(path if isinstance(path, str) else "")))
    return sorted(out, key=lambda r: cluster_sort_key(r[0]))


def table(dump: ConfigDump, flt: ClusterFilter | None = None, *, with_name: bool = False) -> Table:
    headers = ["SERVICE FQDN", "PORT", "SUBSET", "DIRECTION", "TYPE", "DESTINATION RULE"]
    if with_name:
        headers = ["NAME", *headers]
    flt = flt or ClusterFilter()
    if len(dump.of("cluster")) >= FAST_PATH_MIN:
        dump.require("cluster")
        entries = _raw_rows(dump, flt)
    else:
        entries = [
            (
                c.name,
                cluster_type(c),
                render_config(istio_config_path(c.metadata if c.HasField("metadata") else None)),
            )
            for c in clusters(dump, flt)
        ]
    rows = []
    for name, ctype, dr in entries:
        if len(name.split("|")) > 3:
            direction, port, subset, fqdn = parse_subset_key(name)
            row: list[Any] = [fqdn, port, subset or "-", direction, ctype, dr]
        else:
            row = [f"cluster/{name}" if with_name else name, "-", "-", "-", ctype, dr]
        if with_name:
            row = [f"cluster/{name}", *row]
        rows.append(row)
    return Table(headers, rows, 0, 8, 5)
