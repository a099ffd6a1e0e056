"""The ADS server: State-of-the-World (``StreamAggregatedResources``) and delta (``DeltaAggregatedResources``).

Each gRPC stream is one :class:`_SotwStream` / :class:`_DeltaStream` that consumes two event kinds from one
queue: requests from the proxy and snapshot changes from the :class:`~meshctl.xds.cache.SnapshotCache`. The
protocol rules (``../shared/research/ecosystem.md`` §5.3) live here:

* responses carry ``version_info`` and a fresh nonce per type; requests whose nonce is not the last one sent for
  their type are stale and ignored (SotW; delta still honours their subscription changes);
* ACK vs NACK is decided by ``error_detail``, never by version; a NACKed response is recorded and *held*: the
  same content is not sent again, only a new snapshot is;
* CDS/LDS are wildcard, EDS/RDS are named; a newly requested name is answered even if unchanged; named
  resources that do not exist yet are remembered and pushed when they appear;
* pushes go in CDS, EDS, LDS, RDS order, and a CDS push is followed by EDS (an LDS push by RDS) so updated
  clusters and listeners finish warming;
* delta honours ``initial_resource_versions`` on reconnect and sends ``removed_resources``.
"""

from __future__ import annotations

import asyncio
import errno
import json
import logging
import socket
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any

import grpc
from envoy.service.discovery.v3 import ads_pb2_grpc, discovery_pb2
from envoy.service.secret.v3 import sds_pb2_grpc
from google.protobuf import any_pb2
from google.protobuf.json_format import MessageToDict

from meshctl.errors import MeshctlError, UnavailableError
from meshctl.xds import types as T
from meshctl.xds.cache import SnapshotCache, UnknownNodeError
from meshctl.xds.snapshot import Snapshot
from meshctl.xds.status import ConnectionStatus, SyncStatus

log = logging.getLogger("meshctl.xds")


@dataclass
class TlsFiles:
    """Server certificate and key (PEM paths); with ``client_ca`` clients must present a certificate (mTLS)."""

    cert: str
    key: str
    client_ca: str | None = None

    def read(self) -> tuple[bytes, bytes, bytes | None]:
        """(certificate, key, client CA) PEM, each checked: InputError (exit 65) naming the file at fault."""
        from meshctl.xds.pem import read_certificates, read_key_pair

        cert, key = read_key_pair(self.cert, self.key)
        ca = read_certificates(self.client_ca)[0] if self.client_ca else None
        return cert, key, ca

    def credentials(self) -> grpc.ServerCredentials:
        cert, key, ca = self.read()
        return grpc.ssl_server_credentials(
            [(key, cert)], root_certificates=ca, require_client_auth=ca is not None
        )


class _Stream:
    """What SotW and delta streams share: the event queue, node resolution, status and nonces."""

    mode = ""

    def __init__(self, server: XdsServer, context: grpc.aio.ServicerContext, mode: str | None = None) -> None:
        if mode:
            self.mode = mode
        self.server = server
        self.context = context
        self.queue: asyncio.Queue[tuple[str, Any]] = asyncio.Queue()
        self.loop = asyncio.get_running_loop()
        self.node_id = ""
        self.metadata: dict[str, Any] = {}
        self.snapshot: Snapshot | None = None
        self.conn: ConnectionStatus | None = None
        self._cancel_watch: Callable[[], None] | None = None
        self._nonce = 0

    def next_nonce(self) -> str:
        self._nonce += 1
        return str(self._nonce)

    async def _read(self, requests: AsyncIterator[Any]) -> None:
        try:
            async for req in requests:
                self.queue.put_nowait(("req", req))
        except Exception as e:  # the client went away mid-read
            log.debug("stream read ended: %s", e)
        self.queue.put_nowait(("end", None))

    def _on_snapshot(self, snap: Snapshot) -> None:
        # Called from whatever thread set the snapshot.
        self.loop.call_soon_threadsafe(self.queue.put_nowait, ("snap", snap))

    def close(self) -> None:
        """End the stream with status OK after what is queued (server shutdown): the proxy reconnects later."""
        self.queue.put_nowait(("end", None))

    async def run(self, requests: AsyncIterator[Any]) -> AsyncIterator[Any]:
        if self.server.closing:
            return  # accepted while shutting down: end it at once
        task = asyncio.current_task()
        assert task is not None
        self.server.streams[self] = task
        reader = asyncio.create_task(self._read(requests))
        try:
            while True:
                kind, item = await self.queue.get()
                if kind == "end":
                    break
                if kind == "req":
                    out = await self.on_request(item)
                else:
                    if item is self.snapshot:
                        continue
                    self.snapshot = item
                    out = self.on_snapshot()
                for resp in out:
                    yield resp
        finally:
            self.server.streams.pop(self, None)
            reader.cancel()
            if self._cancel_watch:
                self._cancel_watch()
            if self.conn is not None:
                self.server.status.close(self.conn)
                log.info("xds: %s stream closed for %s", self.mode, self.node_id)

    async def ensure_node(self, node: Any) -> bool:
        """Bind the stream to its node on the first request; False if the stream was refused."""
        if self.conn is not None:
            return True
        if not node.id:
            await self.context.abort(
                grpc.StatusCode.INVALID_ARGUMENT, "the first xDS request must carry node.id"
            )
            return False
        self.node_id = node.id
        self.metadata = MessageToDict(node.metadata) if node.HasField("metadata") else {}
        if node.cluster and "CLUSTER_ID" not in self.metadata:
            self.metadata["CLUSTER_ID"] = node.cluster
        self._cancel_watch = self.server.cache.watch(self.node_id, self._on_snapshot)
        try:
            snap = await self.loop.run_in_executor(
                None, self.server.cache.resolve, self.node_id, self.metadata
            )
        except UnknownNodeError as e:
            log.error("xds: refusing stream from %s (peer %s): %s", self.node_id, self.context.peer(), e)
            await self.context.abort(grpc.StatusCode.NOT_FOUND, f"meshctl xds: {e}")
            return False
        except Exception as e:  # a translator failure must not kill the server
            log.exception("xds: cannot build config for %s", self.node_id)
            await self.context.abort(
                grpc.StatusCode.INTERNAL, f"meshctl xds: cannot build config for {self.node_id}: {e}"
            )
            return False
        self.snapshot = snap
        self.conn = self.server.status.open(self.node_id, self.mode, self.context.peer(), self.metadata)
        log.info("xds: %s stream opened for %s (peer %s)", self.mode, self.node_id, self.context.peer())
        return True

    async def begin(self, req: Any) -> bool:
        """Per-request bookkeeping shared by SotW and delta: bind the node, count the request."""
        if not await self.ensure_node(req.node):
            return False
        assert self.conn is not None
        self.conn.type(req.type_url).requests += 1
        return True

    def syncz(self, req: Any) -> list[Any]:
        """Answer istiod's ``istio.io/debug/syncz`` debug type with every connected proxy's status."""
        resp = discovery_pb2.DiscoveryResponse(type_url=T.SYNCZ, nonce=self.next_nonce(), version_info="")
        for cc in self.server.status.client_configs():
            a = any_pb2.Any()
            a.Pack(cc)
            resp.resources.append(a)
        resp.control_plane.identifier = self.server.identifier
        return [resp]

    async def on_request(self, req: Any) -> list[Any]:
        raise NotImplementedError

    def on_snapshot(self) -> list[Any]:
        raise NotImplementedError


@dataclass
class _SotwWatch:
    wildcard: bool = False
    names: set[str] = field(default_factory=set)
    sent: dict[str, str] | None = None  # name -> content version of the last response
    nonce: str = ""


class _SotwStream(_Stream):
    mode = "sotw"

    def __init__(self, server: XdsServer, context: grpc.aio.ServicerContext, mode: str | None = None) -> None:
        super().__init__(server, context, mode)
        self.watches: dict[str, _SotwWatch] = {}

    async def on_request(self, req: discovery_pb2.DiscoveryRequest) -> list[Any]:
        t = req.type_url
        if t == T.SYNCZ:
            return self.syncz(req)
        if not await self.begin(req):
            return []
        assert self.conn is not None
        w = self.watches.get(t)
        if req.response_nonce:
            if w is None or req.response_nonce != w.nonce:
                log.debug(
                    "xds: %s %s: stale nonce %s ignored", self.node_id, T.short_name(t), req.response_nonce
                )
                return []
            if req.HasField("error_detail"):
                msg = req.error_detail.message
                self.conn.nacked(t, req.response_nonce, msg)
                log.warning(
                    "xds: %s NACKed %s version %s: %s",
                    self.node_id,
                    T.short_name(t),
                    self.conn.type(t).sent_version,
                    msg,
                )
                self._set_names(w, t, req, first=False)
                return []  # hold: never resend rejected content; wait for a new snapshot
            self.conn.acked(t, req.response_nonce, req.version_info)
        first = w is None
        if w is None:
            w = self.watches[t] = _SotwWatch()
        added = self._set_names(w, t, req, first)
        if first or added:
            return self._respond(t, force=True)
        return []

    @staticmethod
    def _set_names(w: _SotwWatch, t: str, req: discovery_pb2.DiscoveryRequest, first: bool) -> bool:
        """Update the subscription; True if names were added (they must be answered even if unchanged)."""
        names = set(req.resource_names)
        if "*" in names or (not names and t in T.WILDCARD_TYPES and (first or w.wildcard)):
            added = not w.wildcard
            w.wildcard, w.names = True, names - {"*"}
            return added
        added_names = names - w.names
        w.wildcard, w.names = False, names
        return bool(added_names)

    def _respond(self, t: str, force: bool) -> list[Any]:
        snap, w, conn = self.snapshot, self.watches[t], self.conn
        assert snap is not None and conn is not None
        entries = snap.get(t)
        subset = dict(entries) if w.wildcard else {n: entries[n] for n in w.names if n in entries}
        if not subset and not w.wildcard:
            return []  # nothing to say about names we do not have; pushed when they appear
        digest = {n: e.version for n, e in subset.items()}
        if not force and digest == w.sent:
            return []
        nonce, version = self.next_nonce(), snap.type_version(t)
        resp = discovery_pb2.DiscoveryResponse(version_info=version, type_url=t, nonce=nonce)
        resp.resources.extend(subset[n].any for n in sorted(subset))
        resp.control_plane.identifier = self.server.identifier
        w.sent, w.nonce = digest, nonce
        conn.sent(t, version, nonce, len(subset))
        conn.version = snap.version
        return [resp]

    def on_snapshot(self) -> list[Any]:
        out: list[Any] = []
        pushed: set[str] = set()
        for t in T.ORDER:
            if t not in self.watches:
                continue
            # Updated clusters (listeners) warm until they get EDS (RDS) again, even if unchanged.
            force = (t == T.ENDPOINT and T.CLUSTER in pushed) or (t == T.ROUTE and T.LISTENER in pushed)
            r = self._respond(t, force)
            if r:
                pushed.add(t)
                out += r
        return out


@dataclass
class _DeltaWatch:
    wildcard: bool = False
    names: set[str] = field(default_factory=set)
    known: dict[str, str] = field(default_factory=dict)  # what the client has: name -> version
    nonce: str = ""
    last_sent: dict[str, str] = field(default_factory=dict)  # resources of the last response
    nacked: dict[str, str] = field(default_factory=dict)  # resources of a rejected response, held back
    held_version: str | None = None  # the type version that was rejected; a new one lifts the hold


class _DeltaStream(_Stream):
    mode = "delta"

    def __init__(self, server: XdsServer, context: grpc.aio.ServicerContext, mode: str | None = None) -> None:
        super().__init__(server, context, mode)
        self.watches: dict[str, _DeltaWatch] = {}

    async def on_request(self, req: discovery_pb2.DeltaDiscoveryRequest) -> list[Any]:
        t = req.type_url
        if not await self.begin(req):
            return []
        assert self.conn is not None
        w = self.watches.get(t)
        first = w is None
        if w is None:
            w = self.watches[t] = _DeltaWatch(known=dict(req.initial_resource_versions))
            if t in T.WILDCARD_TYPES and not req.resource_names_subscribe:
                w.wildcard = True  # legacy wildcard: first request with no names
        for n in req.resource_names_subscribe:
            if n == "*":
                w.wildcard = True
            else:
                w.names.add(n)
                if not first:
                    w.known.pop(n, None)  # the client may have forgotten it: send it anyway
        for n in req.resource_names_unsubscribe:
            if n == "*":
                w.wildcard = False
            else:
                w.names.discard(n)
                w.known.pop(n, None)
        if req.response_nonce:
            if req.response_nonce == w.nonce:
                if req.HasField("error_detail"):
                    msg = req.error_detail.message
                    self.conn.nacked(t, req.response_nonce, msg)
                    log.warning(
                        "xds: %s NACKed %s version %s: %s",
                        self.node_id,
                        T.short_name(t),
                        self.conn.type(t).sent_version,
                        msg,
                    )
                    # Envoy may have rejected the whole response: it does not have those resources. Forget
                    # them, but hold them back until this type's content changes (no NACK loop).
                    for n, v in w.last_sent.items():
                        if w.known.get(n) == v:
                            del w.known[n]
                    w.nacked = dict(w.last_sent)
                    assert self.snapshot is not None
                    w.held_version = self.snapshot.type_version(t)
                else:
                    self.conn.acked(t, req.response_nonce, self.conn.type(t).sent_version)
            # A stale nonce's ACK/NACK is ignored, but its subscription changes above were honoured.
        return self._respond(t, initial=first)

    def _respond(self, t: str, initial: bool = False) -> list[Any]:
        snap, w, conn = self.snapshot, self.watches[t], self.conn
        assert snap is not None and conn is not None
        entries = snap.get(t)
        desired = dict(entries) if w.wildcard else {n: entries[n] for n in w.names if n in entries}
        lifted = w.held_version is not None and w.held_version != snap.type_version(t)
        if lifted:
            # New content supersedes the rejected one: answer even if nothing differs from what the
            # client has, so its ACK clears the NACK.
            w.held_version, w.nacked = None, {}
        send = [n for n, e in desired.items() if w.known.get(n) != e.version and w.nacked.get(n) != e.version]
        removed = sorted(n for n in w.known if n not in desired and (w.wildcard or n in w.names))
        # The first response of a type is due even when empty: Envoy's initialization waits for wildcard
        # types, and after a reconnect whose initial_resource_versions are all current, the empty answer's
        # ACK is what proves the proxy is in sync.
        if not send and not removed and not initial and not lifted:
            return []
        nonce, version = self.next_nonce(), snap.type_version(t)
        resp = discovery_pb2.DeltaDiscoveryResponse(
            system_version_info=version, type_url=t, nonce=nonce, removed_resources=removed
        )
        w.last_sent = {}
        for n in sorted(send):
            e = desired[n]
            r = resp.resources.add()
            r.name, r.version = n, e.version
            r.resource.CopyFrom(e.any)
            w.known[n] = w.last_sent[n] = e.version
        for n in removed:
            w.known.pop(n, None)
        resp.control_plane.identifier = self.server.identifier
        w.nonce = nonce
        conn.sent(t, version, nonce, len(desired))
        conn.version = snap.version
        return [resp]

    def on_snapshot(self) -> list[Any]:
        out: list[Any] = []
        for t in T.ORDER:
            if t not in self.watches:
                continue
            r = self._respond(t)
            if r and t == T.CLUSTER and T.ENDPOINT in self.watches:
                # Updated clusters warm until their endpoints arrive again: resend those CLAs.
                eds = self.watches[T.ENDPOINT]
                for res in r[0].resources:
                    eds.known.pop(res.name, None)
            out += r
        return out


class _Servicer(ads_pb2_grpc.AggregatedDiscoveryServiceServicer):
    def __init__(self, server: XdsServer) -> None:
        self.server = server

    async def StreamAggregatedResources(self, request_iterator: Any, context: Any) -> AsyncIterator[Any]:  # noqa: N802
        async for resp in _SotwStream(self.server, context).run(request_iterator):
            yield resp

    async def DeltaAggregatedResources(self, request_iterator: Any, context: Any) -> AsyncIterator[Any]:  # noqa: N802
        async for resp in _DeltaStream(self.server, context).run(request_iterator):
            yield resp


class _SdsServicer(sds_pb2_grpc.SecretDiscoveryServiceServicer):
    """SDS on its own stream, as Envoy asks pilot-agent's ``sds-grpc`` cluster: same snapshots, type Secret."""

    def __init__(self, server: XdsServer) -> None:
        self.server = server

    async def StreamSecrets(self, request_iterator: Any, context: Any) -> AsyncIterator[Any]:  # noqa: N802
        async for resp in _SotwStream(self.server, context, "sds").run(request_iterator):
            yield resp

    async def DeltaSecrets(self, request_iterator: Any, context: Any) -> AsyncIterator[Any]:  # noqa: N802
        async for resp in _DeltaStream(self.server, context, "sds-delta").run(request_iterator):
            yield resp


class XdsServer:
    """A grpc.aio server exposing ADS over a :class:`SnapshotCache`; run it inside an asyncio loop."""

    def __init__(
        self, cache: SnapshotCache, status: SyncStatus | None = None, identifier: str | None = None
    ) -> None:
        self.cache = cache
        self.status = status or SyncStatus()
        self.identifier = identifier or json.dumps({"Component": "meshctl", "ID": socket.gethostname()})
        self._server: grpc.aio.Server | None = None
        self.port = 0
        #: Open streams and the tasks running their handlers: stop() ends them before gRPC would cancel them.
        self.streams: dict[_Stream, asyncio.Task[Any]] = {}
        self.closing = False

    async def start(self, address: str = "127.0.0.1", port: int = 0, tls: TlsFiles | None = None) -> int:
        """Bind and start serving; returns the bound port (useful with ``port=0``).

        Bad TLS files (InputError, 65) and an address:port that cannot be bound (UnavailableError, 69) are
        reported before gRPC starts, so the user sees one clear line instead of gRPC's C++ log.
        """
        creds = tls.credentials() if tls else None
        check_bindable(address, port)
        server = grpc.aio.server(
            options=[("grpc.max_receive_message_length", 64 << 20), ("grpc.so_reuseport", 0)]
        )
        ads_pb2_grpc.add_AggregatedDiscoveryServiceServicer_to_server(_Servicer(self), server)
        sds_pb2_grpc.add_SecretDiscoveryServiceServicer_to_server(_SdsServicer(self), server)
        target = f"[{address}]:{port}" if ":" in address else f"{address}:{port}"
        try:
            bound = server.add_secure_port(target, creds) if creds else server.add_insecure_port(target)
        except RuntimeError as e:
            bound = 0
            log.debug("bind failed: %s", e)
        if not bound:
            raise UnavailableError(f"cannot listen on {target} (in use or not permitted)")
        await server.start()
        self._server, self.port = server, bound
        return bound

    async def stop(self, grace: float = 1.0) -> None:
        """Stop serving, quietly: open streams end with status OK (Envoy keeps its config and reconnects later).

        Why not just ``server.stop(grace)``: gRPC then cancels the streams after the grace period, and when the
        event loop closes right after (``asyncio.run`` cancels whatever is left), gRPC's per-RPC tasks that
        are still unwinding print ``CancelledError`` tracebacks to stderr. So streams are ended first, and
        stop() returns only once gRPC's own tasks for them have finished.
        """
        if self._server is None:
            return
        self.closing = True
        handlers = list(self.streams.values())
        for stream in list(self.streams):
            stream.close()
        await self._server.stop(grace)
        self._server = None
        if handlers:
            await asyncio.wait(handlers, timeout=grace + 1.0)
        await _drain_rpc_tasks(timeout=1.0)


async def _drain_rpc_tasks(timeout: float) -> None:
    """Wait (bounded) for grpc.aio's per-RPC tasks to finish after the server stopped.

    grpc.aio wraps each RPC in a task named ``rpc_task`` that prints a traceback if it is cancelled while
    awaiting the handler; letting them finish keeps shutdown silent. Unknown names just mean nothing to wait for.
    """
    current = asyncio.current_task()
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        pending = [t for t in asyncio.all_tasks() if t is not current and t.get_name() == "rpc_task"]
        if not pending or asyncio.get_running_loop().time() >= deadline:
            return
        await asyncio.wait(pending, timeout=max(0.0, deadline - asyncio.get_running_loop().time()))


def check_bindable(address: str, port: int) -> None:
    """Fail with a clear message (and before gRPC logs its own error) when ``address:port`` cannot be bound."""
    family = socket.AF_INET6 if ":" in address else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((address, port))
        except OSError as e:
            raise listen_error(address, port, e) from None


def listen_error(address: str, port: int, e: OSError, what: str = "") -> MeshctlError:
    """The error (exit 69) for a failed bind, saying which of the usual causes it is and what to do."""
    where = f"cannot listen on {address}:{port}{what}"
    if e.errno == errno.EADDRINUSE:
        return UnavailableError(
            f"{where}: address already in use",
            hints=["another `meshctl xds serve` (or istiod) may be running; pick another --port"],
        )
    if e.errno == errno.EADDRNOTAVAIL:
        return UnavailableError(
            f"{where}: address not available on this host",
            hints=[
                "--address must be one of this host's addresses: 127.0.0.1 (the default), 0.0.0.0 for all"
            ],
        )
    if e.errno == errno.EACCES:
        return UnavailableError(
            f"{where}: permission denied", hints=["ports below 1024 need privileges; pick another --port"]
        )
    if isinstance(e, socket.gaierror):
        return UnavailableError(f"{where}: not an address of this host ({e.strerror})")
    return UnavailableError(f"{where}: {e.strerror or e}")
