"""A small istiod-like HTTP debug endpoint: ``/debug/syncz``, ``/debug/config_dump?proxyID=``, ``/ready``.

Plain asyncio (no web framework): it runs in the server's event loop, so it reads the live status and cache
without extra locking games, and stays loopback-only by default like the gRPC port.
"""

from __future__ import annotations

import asyncio
import json
import logging
from typing import Any
from urllib.parse import parse_qs, urlsplit

from meshctl.xds.cache import SnapshotCache
from meshctl.xds.dump import snapshot_config_dump
from meshctl.xds.status import SyncStatus

log = logging.getLogger("meshctl.xds")


class DebugServer:
    """Serves JSON documents about the xDS server's state over HTTP/1.1 (GET only)."""

    def __init__(self, cache: SnapshotCache, status: SyncStatus) -> None:
        self.cache = cache
        self.status = status
        self._server: asyncio.Server | None = None
        self.port = 0

    async def start(self, address: str = "127.0.0.1", port: int = 0) -> int:
        from meshctl.xds.server import listen_error

        try:
            self._server = await asyncio.start_server(self._handle, address, port)
        except OSError as e:
            raise listen_error(address, port, e, " for the debug endpoint") from None
        self.port = int(self._server.sockets[0].getsockname()[1])
        return self.port

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None

    def find_node(self, proxy_id: str) -> str | None:
        """A node id for ``proxy_id`` given as the node id itself or istiod's ``<pod>.<ns>``."""
        nodes = self.cache.nodes()
        if proxy_id in nodes:
            return proxy_id
        for n in nodes:
            parts = n.split("~")
            if len(parts) == 4 and parts[2] == proxy_id:
                return n
        return None

    def route(self, path: str, query: dict[str, list[str]]) -> tuple[int, Any]:
        """(HTTP status, JSON body) for one GET."""
        if path == "/debug/syncz":
            return 200, self.status.to_json()
        if path == "/debug/config_dump":
            pid = (query.get("proxyID") or [""])[0]
            if not pid:
                return 400, {
                    "error": "proxyID is required, e.g. /debug/config_dump?proxyID=productpage-v1.default"
                }
            node = self.find_node(pid)
            snap = self.cache.get_snapshot(node) if node else None
            if snap is None:
                return 404, {"error": f"proxy {pid!r} not found", "known": self.cache.nodes()}
            return 200, snapshot_config_dump(snap, node or "")
        if path in ("/ready", "/healthz"):
            return 200, {"status": "ok"}
        if path in ("/", "/debug"):
            return 200, {"endpoints": ["/debug/syncz", "/debug/config_dump?proxyID=<pod>.<ns>", "/ready"]}
        return 404, {"error": f"no such endpoint {path}"}

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), timeout=10)
            method, target, _ = head.split(b"\r\n", 1)[0].decode("latin-1").split(" ", 2)
            url = urlsplit(target)
            if method not in ("GET", "HEAD"):
                status, body = 405, {"error": "only GET is supported"}
            else:
                status, body = self.route(url.path, parse_qs(url.query))
            data = (json.dumps(body, indent=2) + "\n").encode()
            reason = {200: "OK", 400: "Bad Request", 404: "Not Found", 405: "Method Not Allowed"}.get(
                status, "Error"
            )
            writer.write(
                f"HTTP/1.1 {status} {reason}\r\nContent-Type: application/json\r\nContent-Length: {len(data)}\r\n"
                f"Connection: close\r\n\r\n".encode()
            )
            if method != "HEAD":
                writer.write(data)
            await writer.drain()
        except (TimeoutError, asyncio.IncompleteReadError, ValueError, ConnectionError) as e:
            log.debug("debug endpoint: bad request: %s", e)
        finally:
            writer.close()
