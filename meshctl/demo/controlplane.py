"""The demo's control plane: meshctl's xDS server and debug endpoint in a thread of their own, fed in memory.

The demo holds the mesh config as a list of resources (the example plus generated Pods plus whatever
``demo apply`` layered on top). Each change rebuilds the model, translates every proxy in loopback bind mode
and sets one snapshot per node in the :class:`~meshctl.xds.cache.SnapshotCache`; the server pushes only what
changed. :meth:`wait_synced` lets the caller block until every proxy has ACKed the current snapshot.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterable
from typing import Any

from meshctl.sources import Resource
from meshctl.xds import types as T
from meshctl.xds.cache import SnapshotCache
from meshctl.xds.runtime import ServerThread
from meshctl.xds.snapshot import Snapshot
from meshctl.xds.source import MeshSource
from meshctl.xds.status import SYNCED


class DemoSource(MeshSource):
    """meshctl's xDS :class:`MeshSource` (node id -> proxy -> translation + SDS certificates), fed from memory.

    The demo's config is a resource list (example + generated Pods + applied changes), not files on disk.
    """

    def __init__(self, resources: list[Resource], mesh_config: str | None = None) -> None:
        super().__init__([], mesh_config=mesh_config, loopback=True)
        self.resources = list(resources)

    def load(self) -> None:
        from meshctl.model import build_mesh, load_mesh_config

        mesh_config = load_mesh_config(self.mesh_config_path) if self.mesh_config_path else None
        mesh = build_mesh(self.resources, mesh_config)  # raises file:line: field: message on bad config
        with self._lock:
            self.mesh = mesh
            self.generation += 1
            self.version = str(self.generation)


class ControlPlane:
    """xDS (gRPC) + debug (HTTP) servers on ``address`` (meshctl's :class:`ServerThread`), plus sync waiting."""

    def __init__(self, source: DemoSource, address: str, xds_port: int, debug_port: int) -> None:
        self.address = address
        self.source = source
        self.cache = SnapshotCache(resolver=source.resolve)
        source.cache = self.cache
        self.server = ServerThread(self.cache, address=address, port=xds_port, debug_port=debug_port)
        self.status = self.server.status

    @property
    def version(self) -> str:
        return self.source.version

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

    def serve(self, node_ids: list[str]) -> dict[str, Snapshot]:
        """Build the model and a snapshot for each of ``node_ids`` now (so addresses can be read before the
        Envoys connect); returns them."""
        if self.source.mesh is None:
            self.source.load()
        snaps = {}
        for node in node_ids:
            snaps[node] = self.source.snapshot(node)
            self.cache.set_snapshot(node, snaps[node])
        return snaps

    def replace(self, resources: list[Resource]) -> list[str]:
        """Serve ``resources`` instead; returns the nodes whose config changed. On bad config nothing changes."""
        old, generation = self.source.resources, self.source.generation
        self.source.resources = list(resources)
        try:
            return self.source.reload()
        except BaseException:
            self.source.resources = old
            if self.source.generation != generation:  # the model was swapped before translation failed
                self.source.reload()
            raise

    def _types(self, node_id: str) -> dict[str, Any]:
        """Per type URL, the sync state across the node's open streams (ADS, and SDS on its own stream)."""
        out: dict[str, Any] = {}
        for conn in self.status.find(node_id):
            out.update(conn.types)
        return out

    def node_sync(self, node_id: str) -> dict[str, str]:
        """``{CDS: SYNCED, LDS: ..., SDS: ...}`` for the node (empty if not connected)."""
        types = self._types(node_id)
        return {
            T.short_name(t): ts.label for t, ts in sorted(types.items(), key=lambda kv: T.order_key(kv[0]))
        }

    def nacks(self, node_id: str) -> dict[str, str]:
        """``{LDS: "<Envoy's error>"}`` for each type whose *current* version the node rejected.

        A NACK of an older version does not count: right after a new snapshot the push is still on its way,
        and the stream's state still shows the previous rejection until the new version is sent.
        """
        snap = self.cache.get_snapshot(node_id)
        if snap is None:
            return {}
        return {
            T.short_name(t): ts.nack
            for t, ts in self._types(node_id).items()
            if ts.nack and ts.sent_version == snap.type_version(t)
        }

    def is_synced(self, node_id: str) -> bool:
        """The node is connected and has ACKed the current snapshot's version of every type it was sent."""
        snap = self.cache.get_snapshot(node_id)
        types = self._types(node_id)
        if snap is None or T.CLUSTER not in types or T.LISTENER not in types:
            return False
        return all(ts.state == SYNCED and ts.sent_version == snap.type_version(t) for t, ts in types.items())

    def wait_synced(
        self, nodes: Iterable[str], timeout: float, cancel: threading.Event | None = None
    ) -> list[str]:
        """Wait until every node is synced; returns the nodes still not synced when ``timeout`` ran out
        (or ``cancel`` was set)."""
        pending = list(nodes)
        deadline = time.monotonic() + timeout
        while pending:
            pending = [n for n in pending if not self.is_synced(n)]
            if not pending or time.monotonic() > deadline or (cancel is not None and cancel.is_set()):
                break
            if any(self.nacks(n) for n in pending):
                break  # a rejected config will not become synced by waiting
            time.sleep(0.05)
        return pending

    def close(self) -> None:
        self.server.close()
