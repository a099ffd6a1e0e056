"""The snapshot cache: which snapshot each node gets, and who to tell when it changes.

Separate from the server (like go-control-plane's ``SnapshotCache``) so tests can drive streams with
hand-built snapshots. Snapshots for nodes the cache does not know yet come from an optional *resolver*
(the mesh source maps an Istio node id to a proxy of the model and translates it); a resolver raising
:class:`UnknownNodeError` makes the server refuse the stream with a clear status instead of crashing.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from meshctl.xds.snapshot import Snapshot

Listener = Callable[[Snapshot], None]
Resolver = Callable[[str, dict[str, Any]], Snapshot]


class UnknownNodeError(Exception):
    """The node id names no proxy this server knows."""


class SnapshotCache:
    """Thread-safe map ``node id -> Snapshot`` with change listeners per node."""

    def __init__(self, resolver: Resolver | None = None) -> None:
        self._lock = threading.RLock()
        self._snapshots: dict[str, Snapshot] = {}
        self._listeners: dict[str, list[Listener]] = {}
        self._metadata: dict[str, dict[str, Any]] = {}
        self.resolver = resolver

    def set_snapshot(self, node_id: str, snapshot: Snapshot) -> bool:
        """Store a node's snapshot and notify its streams. Returns False (and notifies nobody) if nothing changed.

        Types whose content is unchanged keep their previous version label, so only changed types are pushed.
        """
        with self._lock:
            previous = self._snapshots.get(node_id)
            if snapshot.same_content(previous):
                return False
            snapshot = snapshot.carry_versions(previous)
            self._snapshots[node_id] = snapshot
            listeners = list(self._listeners.get(node_id, ()))
        for cb in listeners:
            cb(snapshot)
        return True

    def get_snapshot(self, node_id: str) -> Snapshot | None:
        with self._lock:
            return self._snapshots.get(node_id)

    def clear_snapshot(self, node_id: str) -> None:
        with self._lock:
            self._snapshots.pop(node_id, None)

    def nodes(self) -> list[str]:
        with self._lock:
            return sorted(self._snapshots)

    def node_metadata(self, node_id: str) -> dict[str, Any]:
        with self._lock:
            return dict(self._metadata.get(node_id, {}))

    def resolve(self, node_id: str, metadata: dict[str, Any] | None = None) -> Snapshot:
        """The node's snapshot, asking the resolver on first sight. Raises :class:`UnknownNodeError`."""
        with self._lock:
            if metadata is not None:
                self._metadata[node_id] = dict(metadata)
            snap = self._snapshots.get(node_id)
            if snap is not None:
                return snap
            if self.resolver is None:
                raise UnknownNodeError(f"no snapshot for node {node_id!r}")
        snap = self.resolver(node_id, metadata or {})
        with self._lock:
            # Another stream may have resolved it meanwhile; the first one stored wins.
            return self._snapshots.setdefault(node_id, snap)

    def watch(self, node_id: str, listener: Listener) -> Callable[[], None]:
        """Call ``listener(snapshot)`` on every change for ``node_id``; returns the function that stops it."""
        with self._lock:
            self._listeners.setdefault(node_id, []).append(listener)

        def cancel() -> None:
            with self._lock:
                lst = self._listeners.get(node_id, [])
                if listener in lst:
                    lst.remove(listener)
                if not lst:
                    self._listeners.pop(node_id, None)

        return cancel

    def watched_nodes(self) -> list[str]:
        """Nodes with at least one open stream."""
        with self._lock:
            return sorted(self._listeners)
