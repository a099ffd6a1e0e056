"""Per-proxy xDS sync status: what was sent, ACKed or NACKed on each stream, per type.

This is what ``meshctl proxy-status`` shows and what istiod exposes as ``istio.io/debug/syncz``: for every
connected proxy and type, the last sent version and nonce, the last ACKed nonce and the last NACK's message.
States follow istiod's ``statusgen``: NACK (ERROR) if the last sent response was rejected, NOT SENT if nothing
was sent, SYNCED if the ACKed nonce is the sent nonce, else STALE.
"""

from __future__ import annotations

import itertools
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from meshctl.xds import types as T

SYNCED, STALE, NOT_SENT, NACK = "SYNCED", "STALE", "NOT SENT", "NACK"


@dataclass
class TypeStatus:
    """Sync state of one type on one stream."""

    sent_version: str = ""
    sent_nonce: str = ""
    sent_count: int = 0
    acked_nonce: str = ""
    acked_version: str = ""
    nack: str | None = None  # Envoy's error_detail message for the last sent response
    nack_count: int = 0
    requests: int = 0
    last_updated: float = 0.0

    @property
    def state(self) -> str:
        if self.nack is not None:
            return NACK
        if not self.sent_nonce:
            return NOT_SENT
        return SYNCED if self.acked_nonce == self.sent_nonce else STALE

    @property
    def label(self) -> str:
        """``SYNCED``, ``STALE``, ``NOT SENT`` or ``NACK: <Envoy's message>``."""
        return f"NACK: {self.nack}" if self.nack is not None else self.state


@dataclass
class ConnectionStatus:
    """One ADS stream: the proxy it serves and the per-type state."""

    conn_id: str
    node_id: str
    mode: str  # "sotw" | "delta"
    peer: str = ""
    metadata: dict[str, Any] = field(default_factory=dict)
    connected_at: float = field(default_factory=time.time)
    version: str = ""  # version of the node's snapshot last pushed on this stream
    types: dict[str, TypeStatus] = field(default_factory=dict)

    @property
    def proxy_id(self) -> str:
        """``<pod>.<ns>`` from an Istio node id (``sidecar~ip~pod.ns~ns.svc.cluster.local``), else the node id."""
        parts = self.node_id.split("~")
        return parts[2] if len(parts) == 4 else self.node_id

    @property
    def cluster_id(self) -> str:
        return str(self.metadata.get("CLUSTER_ID") or "Kubernetes")

    @property
    def namespace(self) -> str:
        ns = self.metadata.get("NAMESPACE")
        if ns:
            return str(ns)
        pid = self.proxy_id
        return pid.rsplit(".", 1)[1] if "." in pid else ""

    def type(self, type_url: str) -> TypeStatus:
        ts = self.types.get(type_url)
        if ts is None:
            ts = self.types[type_url] = TypeStatus()
        return ts

    def sent(self, type_url: str, version: str, nonce: str, count: int) -> None:
        ts = self.type(type_url)
        ts.sent_version, ts.sent_nonce, ts.sent_count = version, nonce, count
        ts.nack = None
        ts.last_updated = time.time()

    def acked(self, type_url: str, nonce: str, version: str) -> None:
        ts = self.type(type_url)
        ts.acked_nonce, ts.acked_version = nonce, version
        ts.last_updated = time.time()

    def nacked(self, type_url: str, nonce: str, message: str) -> None:
        ts = self.type(type_url)
        if nonce == ts.sent_nonce:
            ts.nack = message or "rejected (no message)"
        ts.nack_count += 1
        ts.last_updated = time.time()


class SyncStatus:
    """Registry of open streams' status, shared by the server, the debug endpoint and syncz."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._conns: dict[str, ConnectionStatus] = {}
        self._ids = itertools.count(1)

    def open(
        self, node_id: str, mode: str, peer: str = "", metadata: dict[str, Any] | None = None
    ) -> ConnectionStatus:
        with self._lock:
            conn = ConnectionStatus(f"{node_id}-{next(self._ids)}", node_id, mode, peer, dict(metadata or {}))
            self._conns[conn.conn_id] = conn
            return conn

    def close(self, conn: ConnectionStatus) -> None:
        with self._lock:
            self._conns.pop(conn.conn_id, None)

    def connections(self) -> list[ConnectionStatus]:
        """Open streams sorted by proxy id (istioctl's order), then connection order."""
        with self._lock:
            conns = list(self._conns.values())
        return sorted(conns, key=lambda c: (c.proxy_id, c.connected_at))

    def proxies(self) -> list[ConnectionStatus]:
        """One entry per node: its ADS stream and its SDS stream (Envoy opens both) merged; newer streams win."""
        by_node: dict[str, ConnectionStatus] = {}
        for c in sorted(self.connections(), key=lambda c: c.connected_at):
            m = by_node.get(c.node_id)
            if m is None:
                by_node[c.node_id] = ConnectionStatus(
                    c.conn_id,
                    c.node_id,
                    c.mode,
                    c.peer,
                    dict(c.metadata),
                    c.connected_at,
                    c.version,
                    dict(c.types),
                )
                continue
            m.types.update(c.types)
            m.metadata.update(c.metadata)
            if not c.mode.startswith("sds") or m.mode.startswith("sds"):
                m.mode, m.peer, m.connected_at, m.version = (
                    c.mode,
                    c.peer,
                    c.connected_at,
                    c.version or m.version,
                )
        return sorted(by_node.values(), key=lambda c: (c.proxy_id, c.node_id))

    def find(self, proxy: str) -> list[ConnectionStatus]:
        """Streams whose node id or ``<pod>.<ns>`` is ``proxy``."""
        return [c for c in self.connections() if proxy in (c.node_id, c.proxy_id)]

    def to_json(self) -> list[dict[str, Any]]:
        """The ``/debug/syncz`` document: one object per stream (stable field names, documented in docs/xds.md)."""
        out = []
        for c in self.proxies():
            out.append(
                {
                    "proxy": c.proxy_id,
                    "node_id": c.node_id,
                    "cluster_id": c.cluster_id,
                    "namespace": c.namespace,
                    "mode": c.mode,
                    "peer": c.peer,
                    "version": c.version,
                    "connected_at": _rfc3339(c.connected_at),
                    "types": {
                        T.short_name(t): {
                            "type_url": t,
                            "status": ts.state,
                            "sent_version": ts.sent_version,
                            "sent_nonce": ts.sent_nonce,
                            "acked_version": ts.acked_version,
                            "acked_nonce": ts.acked_nonce,
                            "resources": ts.sent_count,
                            "nack": ts.nack,
                            "nacks": ts.nack_count,
                            "last_updated": _rfc3339(ts.last_updated) if ts.last_updated else None,
                        }
                        for t, ts in sorted(c.types.items(), key=lambda kv: T.order_key(kv[0]))
                    },
                }
            )
        return out

    def client_configs(self) -> list[Any]:
        """The same data as CSDS ``ClientConfig`` messages, as istiod answers ``istio.io/debug/syncz``."""
        from envoy.service.status.v3 import csds_pb2
        from google.protobuf import struct_pb2

        enum = {
            SYNCED: csds_pb2.SYNCED,
            STALE: csds_pb2.STALE,
            NOT_SENT: csds_pb2.NOT_SENT,
            NACK: csds_pb2.ERROR,
        }
        out = []
        for c in self.proxies():
            cc = csds_pb2.ClientConfig()
            cc.node.id = c.proxy_id
            md = struct_pb2.Struct()
            md.update(
                {
                    "CLUSTER_ID": c.cluster_id,
                    "NAMESPACE": c.namespace,
                    "NODE_ID": c.node_id,
                    "VERSION": c.version,
                }
            )
            cc.node.metadata.CopyFrom(md)
            for t in sorted(c.types, key=T.order_key):
                ts = c.types[t]
                g = cc.generic_xds_configs.add()
                g.type_url = t
                g.version_info = ts.sent_version
                g.config_status = enum[ts.state]
                if ts.last_updated:
                    g.last_updated.FromNanoseconds(int(ts.last_updated * 1e9))
                if ts.nack is not None:
                    g.error_state.details = ts.nack
                    g.client_status = csds_pb2.CLIENT_NACKED
                elif ts.state == SYNCED:
                    g.client_status = csds_pb2.CLIENT_ACKED
            out.append(cc)
        return out


def _rfc3339(ts: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(ts)) + f".{int(ts % 1 * 1000):03d}Z"
