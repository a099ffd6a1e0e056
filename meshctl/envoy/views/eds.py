"""``proxy-config eds``: endpoints as configured through EDS (from ``/config_dump?include_eds``)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from meshctl.envoy.dump import ConfigDump, field
from meshctl.envoy.views.common import Table, cluster_sort_key


@dataclass
class EndpointFilter:
    """Filters shared by ``eds`` and ``endpoint``: exact address (no port), port, exact cluster, health status."""

    address: str = ""
    port: int = 0
    cluster: str = ""
    status: str = ""

    def verify_host(self, addr: str, port: int, status: str) -> bool:
        if self.address and addr.lower() != self.address.lower():
            return False
        if self.port and port != self.port:
            return False
        if self.status and status.lower() != self.status.lower():
            return False
        return True


def address_parts(addr: Any) -> tuple[str, int, str]:
    """(address, port, display) of a core.v3.Address."""
    which = addr.WhichOneof("address")
    if which == "socket_address":
        sa = addr.socket_address
        port = int(sa.port_value)
        return sa.address, port, f"{sa.address}:{port}"
    if which == "pipe":
        return addr.pipe.path, 0, addr.pipe.path
    if which == "envoy_internal_address":
        ia = addr.envoy_internal_address
        return ia.server_listener_name, 0, f"envoy://{ia.server_listener_name}/{ia.endpoint_id}"
    return "", 0, ""


def health_name(status: int) -> str:
    from envoy.config.core.v3 import health_check_pb2

    return health_check_pb2.HealthStatus.Name(status)


def locality_text(loc: Any) -> str:
    parts = [loc.region, loc.zone, loc.sub_zone]
    while parts and not parts[-1]:
        parts.pop()
    return "/".join(parts)


def _endpoint_addresses(lb: Any) -> list[tuple[str, int, str]]:
    ep = lb.endpoint
    out = [address_parts(ep.address)]
    out += [address_parts(a.address) for a in ep.additional_addresses]
    return out


def assignments(dump: ConfigDump, flt: EndpointFilter | None = None) -> list[Any]:
    """ClusterLoadAssignments (dynamic then static), endpoints filtered, empty ones dropped, sorted like clusters."""
    from envoy.config.endpoint.v3 import endpoint_pb2

    dump.require("endpoint")
    flt = flt or EndpointFilter()
    msgs = [m for _, m in dump.messages("endpoint", ("active",))] + [
        m for _, m in dump.messages("endpoint", ("static",))
    ]
    out = []
    for cla in msgs:
        if flt.cluster and cla.cluster_name.lower() != flt.cluster.lower():
            continue
        filtered = endpoint_pb2.ClusterLoadAssignment()
        filtered.CopyFrom(cla)
        del filtered.endpoints[:]
        kept_any = False
        for lle in cla.endpoints:
            new = filtered.endpoints.add()
            new.CopyFrom(lle)
            del new.lb_endpoints[:]
            for lb in lle.lb_endpoints:
                addr, port, _ = address_parts(lb.endpoint.address)
                if flt.verify_host(addr, port, health_name(lb.health_status)):
                    new.lb_endpoints.add().CopyFrom(lb)
            if new.lb_endpoints:
                kept_any = True
            else:
                filtered.endpoints.pop()
        if kept_any:
            out.append(filtered)
    return sorted(out, key=lambda c: cluster_sort_key(c.cluster_name))


#: Above this many endpoint assignments the short table reads the dump's JSON directly (see cluster.py).
FAST_PATH_MIN = 1000


def _raw_address(addr: Any) -> tuple[str, int, str]:
    sa = field(addr, "socket_address")
    if isinstance(sa, dict):
        a, port = str(sa.get("address", "")), int(field(sa, "port_value", 0) or 0)
        return a, port, f"{a}:{port}"
    pipe = field(addr, "pipe")
    if isinstance(pipe, dict):
        return str(pipe.get("path", "")), 0, str(pipe.get("path", ""))
    ia = field(addr, "envoy_internal_address")
    if isinstance(ia, dict):
        name = str(field(ia, "server_listener_name", ""))
        return name, 0, f"envoy://{name}/{field(ia, 'endpoint_id', '')}"
    return "", 0, ""


def _raw_rows(dump: ConfigDump, flt: EndpointFilter) -> list[list[Any]]:
    """Table rows straight from the dump's JSON, for big dumps."""
    clas = []
    for state in ("active", "static"):
        for it in dump.of("endpoint", (state,)):
            if flt.cluster and it.name.lower() != flt.cluster.lower():
                continue
            clas.append(it)
    clas.sort(key=lambda it: cluster_sort_key(it.name))
    rows = []
    for it in clas:
        for lle in field(it.raw, "endpoints", []) or []:
            loc = field(lle, "locality", {}) or {}
            parts = [str(loc.get("region", "")), str(loc.get("zone", "")), str(field(loc, "sub_zone", ""))]
            while parts and not parts[-1]:
                parts.pop()
            for lb in field(lle, "lb_endpoints", []) or []:
                ep = field(lb, "endpoint", {}) or {}
                addr, port, display = _raw_address(field(ep, "address", {}) or {})
                health = field(lb, "health_status", "UNKNOWN") or "UNKNOWN"
                if not flt.verify_host(addr, port, str(health)):
                    continue
                extra = [
                    _raw_address(field(a, "address", {}) or {})[2]
                    for a in field(ep, "additional_addresses", []) or []
                ]
                rows.append([",".join([display, *extra]), health, "/".join(parts), it.name])
    return rows


def table(dump: ConfigDump, flt: EndpointFilter | None = None, *, with_name: bool = False) -> Table:
    rows: list[list[Any]] = []
    flt = flt or EndpointFilter()
    if len(dump.of("endpoint")) >= FAST_PATH_MIN:
        dump.require("endpoint")
        rows = [[f"endpoint/{r[0]}", *r] if with_name else r for r in _raw_rows(dump, flt)]
    for cla in assignments(dump, flt) if not rows and len(dump.of("endpoint")) < FAST_PATH_MIN else []:
        for lle in cla.endpoints:
            for lb in lle.lb_endpoints:
                name = ",".join(d for _, _, d in _endpoint_addresses(lb))
                row = [name, health_name(lb.health_status), locality_text(lle.locality), cla.cluster_name]
                rows.append([f"endpoint/{name}", *row] if with_name else row)
    headers = ["NAME", "STATUS", "LOCALITY", "CLUSTER"]
    if with_name:
        headers = ["NAME", "ENDPOINT", "STATUS", "LOCALITY", "CLUSTER"]
    return Table(headers, rows, 0, 8, 5)
