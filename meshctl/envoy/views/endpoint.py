"""``proxy-config endpoint``: runtime host status from ``/clusters?format=json`` (health, outlier ejection)."""

from __future__ import annotations

from typing import Any

from meshctl.envoy.dump import loads
from meshctl.envoy.views.common import Table
from meshctl.envoy.views.eds import EndpointFilter, address_parts
from meshctl.errors import InputError


def parse_clusters_status(data: bytes | str, source: str = "<clusters>") -> Any:
    """``/clusters?format=json`` text -> ``envoy.admin.v3.Clusters``."""
    from envoy.admin.v3 import clusters_pb2
    from google.protobuf import json_format

    obj = loads(data, source)
    if not isinstance(obj, dict) or ("cluster_statuses" not in obj and "clusterStatuses" not in obj and obj):
        raise InputError(
            "not a /clusters?format=json dump (no 'cluster_statuses')",
            file=source,
            hints=[
                "endpoint reads runtime status: curl -s 'localhost:15000/clusters?format=json' > clusters.json"
            ],
        )
    try:
        return json_format.ParseDict(obj, clusters_pb2.Clusters(), ignore_unknown_fields=True)
    except json_format.ParseError as e:
        raise InputError(f"cannot parse /clusters output: {e}", file=source) from e


def _host_address(h: Any) -> tuple[str, int, str]:
    """(address, port, display) like istioctl: ``ip:port`` (no port when 0), ``unix://path``, ``envoy://listener/id``."""
    which = h.address.WhichOneof("address")
    if which == "pipe":
        return "unix://" + h.address.pipe.path, 0, "unix://" + h.address.pipe.path
    addr, port, display = address_parts(h.address)
    if which == "socket_address" and port == 0:
        display = addr
    return addr, port, display


def health_status(h: Any) -> str:
    from envoy.config.core.v3 import health_check_pb2

    return health_check_pb2.HealthStatus.Name(h.health_status.eds_health_status)


def cluster_statuses(status: Any, flt: EndpointFilter | None = None) -> list[Any]:
    """ClusterStatus messages with at least one host passing the filter (printed whole, as istioctl does)."""
    flt = flt or EndpointFilter()
    out = []
    for cs in status.cluster_statuses:
        if flt.cluster and cs.name.lower() != flt.cluster.lower():
            continue
        if any(
            flt.verify_host(_host_address(h)[0], _host_address(h)[1], health_status(h))
            for h in cs.host_statuses
        ):
            out.append(cs)
    return out


def table(status: Any, flt: EndpointFilter | None = None) -> Table:
    flt = flt or EndpointFilter()
    rows = []
    for cs in cluster_statuses(status, flt):
        for h in cs.host_statuses:
            addr, port, display = _host_address(h)
            if not flt.verify_host(addr, port, health_status(h)):
                continue
            outlier = "FAILED" if h.health_status.failed_outlier_check else "OK"
            rows.append(((addr, port, cs.name), [display, health_status(h), outlier, cs.name]))
    rows.sort(key=lambda r: r[0])
    return Table(["ENDPOINT", "STATUS", "OUTLIER CHECK", "CLUSTER"], [r for _, r in rows], 0, 8, 5)
