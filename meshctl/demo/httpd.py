"""A threaded HTTP server running in a daemon thread: the shape shared by the demo's apps, its control
endpoint and the behaviour suite's echo servers (quiet, reusable address, one thread per connection)."""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True


class BackgroundHTTPServer:
    """Bind ``(ip, port)`` now (``OSError`` if taken); serve in a daemon thread after :meth:`start`."""

    def __init__(self, ip: str, port: int, handler: type[BaseHTTPRequestHandler], name: str) -> None:
        self._server = _Server((ip, port), handler)
        self._thread = threading.Thread(target=self._server.serve_forever, name=name, daemon=True)

    @property
    def port(self) -> int:
        return int(self._server.server_address[1])

    def start(self) -> BackgroundHTTPServer:
        self._thread.start()
        return self

    def close(self) -> None:
        if self._thread.is_alive():
            self._server.shutdown()
        self._server.server_close()
