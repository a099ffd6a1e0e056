"""``proxy-config eds``: endpoints as configured through EDS (from ``/config_dump?include_eds``)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from meshctl.envoy.dump import ConfigDump
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


def table(dump: ConfigDump, flt: EndpointFilter | None = None, *, with_name: bool = False) -> Table:
    rows: list[list[Any]] = []
    for cla in assignments(dump, flt):
        for lle in cla.endpoints:
            for lb in lle.lb_endpoints:
                name = ",".join(d for _, _, d in _endpoint_addresses(lb))
                row = [name, health_name(lb.health_status), locality_text(lle.locality), cla.cluster_name]
                rows.append([f"endpoint/{name}", *row] if with_name else row)
    headers = ["NAME", "STATUS", "LOCALITY", "CLUSTER"]
    if with_name:
        headers = ["NAME", "ENDPOINT", "STATUS", "LOCALITY", "CLUSTER"]
    return Table(headers, rows, 0, 8, 5)
