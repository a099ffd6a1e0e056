"""Run the xDS server (and its debug endpoint) on an event loop in a background thread.

For callers that are not asyncio programs: tests, benchmarks, the demo mesh. The CLI runs the same
:class:`~meshctl.xds.server.XdsServer` on its main-thread loop instead.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Coroutine
from typing import Any, TypeVar

from meshctl.xds.cache import SnapshotCache
from meshctl.xds.debug import DebugServer
from meshctl.xds.server import TlsFiles, XdsServer
from meshctl.xds.status import SyncStatus

R = TypeVar("R")


class ServerThread:
    """``with ServerThread(cache) as srv: ... srv.port, srv.debug_url``: a running ADS server until closed."""

    def __init__(
        self,
        cache: SnapshotCache,
        *,
        address: str = "127.0.0.1",
        port: int = 0,
        debug_port: int | None = 0,
        tls: TlsFiles | None = None,
    ) -> None:
        self.cache = cache
        self.status = SyncStatus()
        self.server = XdsServer(cache, self.status)
        self.debug = DebugServer(cache, self.status) if debug_port is not None else None
        self._args = (address, port, debug_port, tls)
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, name="meshctl-xds", daemon=True)
        self.port = 0
        self.debug_port = 0

    def call(self, coro: Coroutine[Any, Any, R], timeout: float = 30.0) -> R:
        """Run a coroutine on the server's loop and wait for its result."""
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def start(self) -> ServerThread:
        address, port, debug_port, tls = self._args
        self._thread.start()
        self.port = self.call(self.server.start(address, port, tls))
        if self.debug is not None:
            self.debug_port = self.call(self.debug.start(address, debug_port or 0))
        return self

    @property
    def debug_url(self) -> str:
        return f"http://127.0.0.1:{self.debug_port}"

    def close(self) -> None:
        if not self._thread.is_alive():
            return
        try:
            self.call(self.server.stop(0.5))
            if self.debug is not None:
                self.call(self.debug.stop())
        finally:
            self.loop.call_soon_threadsafe(self.loop.stop)
            self._thread.join(10)
            self.loop.close()

    def __enter__(self) -> ServerThread:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()
