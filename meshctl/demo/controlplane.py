"""The demo's control plane: meshctl's xDS server and debug endpoint in a thread of their own, fed in memory.

The demo holds the mesh config as a list of resources (the example plus generated Pods plus whatever
``demo apply`` layered on top). Each change rebuilds the model, translates every proxy in loopback bind mode
and sets one snapshot per node in the :class:`~meshctl.xds.cache.SnapshotCache`; the server pushes only what
changed. :meth:`wait_synced` lets the caller block until every proxy has ACKed the current snapshot.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from typing import Any

from meshctl.sources import Resource
from meshctl.xds import types as T
from meshctl.xds.cache import SnapshotCache
from meshctl.xds.runtime import ServerThread
from meshctl.xds.snapshot import Snapshot
from meshctl.xds.status import SYNCED


def translate_all(resources: list[Resource], version: str) -> tuple[Any, dict[str, Any], dict[str, Snapshot]]:
    """Model + loopback-mode translation of every proxy: (mesh, node id -> ProxyConfig, node id -> Snapshot)."""
    from meshctl.model import build_mesh
    from meshctl.translate import translate

    mesh = build_mesh(resources)
    configs: dict[str, Any] = {}
    snaps: dict[str, Snapshot] = {}
    for proxy in mesh.proxies():
        proxy.loopback = True
        pc = translate(mesh, proxy)
        configs[proxy.node_id] = pc
        snaps[proxy.node_id] = Snapshot.from_proxy_config(pc, version)
    return mesh, configs, snaps


class ControlPlane:
    """xDS (gRPC) + debug (HTTP) servers on ``address`` (meshctl's :class:`ServerThread`), plus sync waiting."""

    def __init__(self, address: str, xds_port: int, debug_port: int) -> None:
        self.address = address
        self.cache = SnapshotCache()
        self.server = ServerThread(self.cache, address=address, port=xds_port, debug_port=debug_port)
        self.status = self.server.status
        self.version = 0

    @property
    def xds_address(self) -> str:
        return f"{self.address}:{self.server.port}"

    @property
    def debug_url(self) -> str:
        return f"http://{self.address}:{self.server.debug_port}"

    def start(self) -> ControlPlane:
        try:
            self.server.start()
        except BaseException:
            self.server.close()
            raise
        return self

    def publish(self, snapshots: dict[str, Snapshot]) -> list[str]:
        """Install new snapshots (nodes not in ``snapshots`` are dropped); returns the nodes whose config changed."""
        changed = [node for node, snap in snapshots.items() if self.cache.set_snapshot(node, snap)]
        for node in set(self.cache.nodes()) - set(snapshots):
            self.cache.clear_snapshot(node)
        return changed

    def next_version(self) -> str:
        self.version += 1
        return str(self.version)

    def node_sync(self, node_id: str) -> dict[str, str]:
        """``{CDS: SYNCED, ...}`` for the node's newest stream (empty if not connected)."""
        conns = self.status.find(node_id)
        if not conns:
            return {}
        conn = conns[-1]
        return {
            T.short_name(t): ts.label
            for t, ts in sorted(conn.types.items(), key=lambda kv: T.order_key(kv[0]))
        }

    def is_synced(self, node_id: str) -> bool:
        """The node is connected and has ACKed the current snapshot's version of every type it was sent."""
        snap = self.cache.get_snapshot(node_id)
        conns = self.status.find(node_id)
        if snap is None or not conns:
            return False
        conn = conns[-1]
        needed = [t for t in (T.CLUSTER, T.LISTENER) if t in conn.types or snap.get(t)]
        for t in needed:
            if t not in conn.types:
                return False
        for t, ts in conn.types.items():
            if ts.state != SYNCED or ts.sent_version != snap.type_version(t):
                return False
        return True

    def wait_synced(self, nodes: Iterable[str], timeout: float) -> list[str]:
        """Wait until every node is synced; returns the nodes still not synced when ``timeout`` ran out."""
        pending = list(nodes)
        deadline = time.monotonic() + timeout
        while pending:
            pending = [n for n in pending if not self.is_synced(n)]
            if not pending or time.monotonic() > deadline:
                break
            time.sleep(0.05)
        return pending

    def close(self) -> None:
        self.server.close()
