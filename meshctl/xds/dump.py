"""What the server intends a proxy to have, as Envoy's ``/config_dump?include_eds`` JSON (for ``/debug/config_dump``).

The shape comes from the translator's :func:`meshctl.translate.dump.config_dump` (one implementation of the
dump format); this only feeds it the snapshot's resources and stamps each section with the version we serve.
"""

from __future__ import annotations

from typing import Any

from meshctl.xds import types as T
from meshctl.xds.snapshot import Snapshot

_SECTION_TYPE = {
    "ClustersConfigDump": T.CLUSTER,
    "EndpointsConfigDump": T.ENDPOINT,
    "ListenersConfigDump": T.LISTENER,
    "RoutesConfigDump": T.ROUTE,
}


def _stamp(obj: Any, version: str) -> None:
    """Replace every ``version_info`` inside ``obj`` with ``version``."""
    if isinstance(obj, dict):
        for k, v in obj.items():
            if k == "version_info":
                obj[k] = version
            else:
                _stamp(v, version)
    elif isinstance(obj, list):
        for v in obj:
            _stamp(v, version)


def snapshot_config_dump(snap: Snapshot, node_id: str = "") -> dict[str, Any]:
    """Dynamic-active resources of a snapshot in Envoy's config dump shape, each section with its served version."""
    from meshctl.translate import ProxyConfig
    from meshctl.translate.dump import config_dump

    pc = ProxyConfig(
        node_id=node_id,
        node_cluster="",
        clusters=snap.messages(T.CLUSTER),  # type: ignore[arg-type]
        endpoints=snap.messages(T.ENDPOINT),  # type: ignore[arg-type]
        listeners=snap.messages(T.LISTENER),  # type: ignore[arg-type]
        routes=snap.messages(T.ROUTE),  # type: ignore[arg-type]
    )
    dump = config_dump(pc, frozenset({"bootstrap", "cluster", "endpoint", "listener", "route"}))
    for section in dump.get("configs", []):
        t = _SECTION_TYPE.get(str(section.get("@type", "")).rsplit(".", 1)[-1])
        if t:
            _stamp(section, snap.type_version(t))
    return dump
