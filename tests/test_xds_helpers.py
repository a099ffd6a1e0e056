"""Helpers the xDS/proxy-status tests share (no tests here): polling with a bound, and named HTTP backends."""

from __future__ import annotations

import http.server
import threading
import time
from collections.abc import Callable


def wait_for(pred: Callable[[], object], timeout: float = 10.0, what: str = "condition") -> object:
    """Poll ``pred`` until it returns something truthy; AssertionError naming ``what`` (and the last result) on timeout."""
    deadline = time.monotonic() + timeout
    last: object = None
    while time.monotonic() < deadline:
        try:
            last = pred()
            if last:
                return last
        except Exception as e:  # not there yet
            last = e
        time.sleep(0.02)
    raise AssertionError(f"timed out waiting for {what} (last: {last!r})")


class Backend:
    """An HTTP/1.1 server on ``ip:port`` (default: a free loopback port) answering every GET with its name."""

    def __init__(self, name: str, ip: str = "127.0.0.1", port: int = 0) -> None:
        body = name.encode()

        class H(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self) -> None:  # noqa: N802
                self.send_response(200)
                self.send_header("content-length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *a: object) -> None:
                pass

        self.httpd = http.server.ThreadingHTTPServer((ip, port), H)
        self.httpd.daemon_threads = True
        self.port = int(self.httpd.server_address[1])
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


def pod_yaml(name: str, app: str, ip: str, port: int, labels: str = "", injected: bool = False) -> str:
    """A Pod at ``ip`` (sidecar-injected only when ``injected``); ``labels`` is extra ``, k: v`` text."""
    ann = "" if injected else '\n  annotations: {sidecar.istio.io/inject: "false"}'
    return f"""apiVersion: v1
kind: Pod
metadata:
  name: {name}
  namespace: default
  labels: {{app: {app}{labels}}}{ann}
spec:
  containers: [{{name: c, image: c, ports: [{{containerPort: {port}}}]}}]
status: {{podIP: {ip}}}
"""


def service_yaml(name: str, port: int) -> str:
    """A Service ``name`` selecting ``app: name`` on one HTTP port."""
    return f"""apiVersion: v1
kind: Service
metadata: {{name: {name}, namespace: default}}
spec:
  selector: {{app: {name}}}
  ports: [{{name: http, port: {port}, targetPort: {port}}}]
"""
