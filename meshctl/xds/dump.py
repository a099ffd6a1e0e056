"""What the server intends a proxy to have, as Envoy's ``/config_dump?include_eds`` JSON (for ``/debug/config_dump``)."""

from __future__ import annotations

from typing import Any

from google.protobuf.json_format import MessageToDict

from meshctl.xds import types as T
from meshctl.xds.snapshot import Snapshot

_ADMIN = "type.googleapis.com/envoy.admin.v3."


def _msg(m: Any) -> dict[str, Any]:
    d = MessageToDict(m, preserving_proto_field_name=True)
    return {"@type": "type.googleapis.com/" + m.DESCRIPTOR.full_name, **d}


def snapshot_config_dump(snap: Snapshot) -> dict[str, Any]:
    """Dynamic-active resources of a snapshot in the shape of Envoy's config dump, each with its version."""
    cds = snap.type_version(T.CLUSTER)
    lds = snap.type_version(T.LISTENER)
    rds = snap.type_version(T.ROUTE)
    eds = snap.type_version(T.ENDPOINT)
    return {
        "configs": [
            {
                "@type": _ADMIN + "ClustersConfigDump",
                "version_info": cds,
                "dynamic_active_clusters": [
                    {"version_info": cds, "cluster": _msg(c)} for c in snap.messages(T.CLUSTER)
                ],
            },
            {
                "@type": _ADMIN + "EndpointsConfigDump",
                "dynamic_endpoint_configs": [
                    {"version_info": eds, "endpoint_config": _msg(e)} for e in snap.messages(T.ENDPOINT)
                ],
            },
            {
                "@type": _ADMIN + "ListenersConfigDump",
                "version_info": lds,
                "dynamic_listeners": [
                    {"name": lis.name, "active_state": {"version_info": lds, "listener": _msg(lis)}}
                    for lis in snap.messages(T.LISTENER)
                ],
            },
            {
                "@type": _ADMIN + "RoutesConfigDump",
                "dynamic_route_configs": [
                    {"version_info": rds, "route_config": _msg(r)} for r in snap.messages(T.ROUTE)
                ],
            },
        ]
    }
