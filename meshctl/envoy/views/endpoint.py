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
    which = h.address.WhichOneof("address")
    if which == "pipe":
        return h.address.pipe.path, 0, f"unix://{h.address.pipe.path}"
    return address_parts(h.address)


def health_status(h: Any) -> str:
    from envoy.config.core.v3 import health_check_pb2

    return health_check_pb2.HealthStatus.Name(h.health_status.eds_health_status)


def cluster_statuses(status: Any, flt: EndpointFilter | None = None) -> list[Any]:
    """ClusterStatus messages whose hosts pass the filter (hosts filtered too)."""
    from envoy.admin.v3 import clusters_pb2

    flt = flt or EndpointFilter()
    out = []
    for cs in status.cluster_statuses:
        if flt.cluster and cs.name != flt.cluster:
            continue
        keep = [
            h
            for h in cs.host_statuses
            if flt.verify_host(_host_address(h)[0], _host_address(h)[1], health_status(h))
        ]
        if not keep:
            continue
        new = clusters_pb2.ClusterStatus()
        new.CopyFrom(cs)
        del new.host_statuses[:]
        for h in keep:
            new.host_statuses.add().CopyFrom(h)
        out.append(new)
    return out


def table(status: Any, flt: EndpointFilter | None = None) -> Table:
    rows = []
    for cs in cluster_statuses(status, flt):
        for h in cs.host_statuses:
            addr, port, display = _host_address(h)
            outlier = "FAILED" if h.health_status.failed_outlier_check else "OK"
            rows.append(((addr, port, cs.name), [display, health_status(h), outlier, cs.name]))
    rows.sort(key=lambda r: r[0])
    return Table(["ENDPOINT", "STATUS", "OUTLIER CHECK", "CLUSTER"], [r for _, r in rows], 0, 8, 5)
