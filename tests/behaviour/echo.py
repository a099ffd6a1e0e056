"""A Python echo server with the reply contract of Istio's test echo app (spec §0 of istio-routing-behaviors.md).

The body is ``Key=Value`` lines as Istio's ``pkg/test/echo`` writes them: ``ServiceVersion``, ``ServicePort``,
``Host``, ``URL`` (path + query as received), ``Method``, ``Proto``, ``IP`` (peer), one ``RequestHeader=<k>:<v>`` per
header, and ``Hostname`` (the pod name, which identifies the backend). Every request is also recorded in memory so a
test can count upstream attempts (retries) and mirrored copies without parsing logs.

Query parameters steer the reply (they are the knobs the behaviour cases need):
``status=N`` reply with status N (``&only=POD`` limits that to the named pods); ``delay=S`` sleep S seconds (``0.5`` or ``500ms``) first;
``fail=N&key=K`` answer the first N requests carrying key K with ``fail_status`` (default 503), then normally.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from urllib.parse import parse_qs, urlsplit

from meshctl.demo.httpd import BackgroundHTTPServer


@dataclass
class Seen:
    """One request as the echo server received it."""

    method: str
    url: str
    headers: list[tuple[str, str]]
    body: bytes = b""

    def header(self, name: str) -> str | None:
        name = name.lower()
        return next((v for k, v in self.headers if k.lower() == name), None)


def parse_reply(body: str) -> dict[str, list[str]]:
    """Parse an echo body into ``{key: [values]}`` (``RequestHeader`` repeats)."""
    out: dict[str, list[str]] = {}
    for line in body.splitlines():
        key, sep, value = line.partition("=")
        if sep:
            out.setdefault(key, []).append(value)
    return out


def request_headers(body: str) -> dict[str, str]:
    """``RequestHeader=K:V`` lines of an echo body as a lower-cased dict (last value wins)."""
    out: dict[str, str] = {}
    for value in parse_reply(body).get("RequestHeader", []):
        k, _, v = value.partition(":")
        out[k.lower()] = v
    return out


def _seconds(text: str) -> float:
    text = text.strip()
    if text.endswith("ms"):
        return float(text[:-2]) / 1000
    return float(text.rstrip("s"))


@dataclass
class EchoServer:
    """One echo backend bound to ``ip:port`` answering as pod ``hostname``. Use as a context manager."""

    hostname: str
    ip: str
    port: int
    version: str = "v1"
    seen: list[Seen] = field(default_factory=list)
    #: ``fail=N&key=K`` counters; pass one shared Counter (and lock) to make failures count per service, not per pod.
    fail_counts: Counter[str] = field(default_factory=Counter)
    lock: threading.Lock = field(default_factory=threading.Lock)
    _server: BackgroundHTTPServer | None = None

    def start(self) -> EchoServer:
        echo = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = (
                True  # headers and body go out in two writes: no 40 ms delayed-ACK stall
            )

            def log_message(self, format: str, *args: object) -> None:  # quiet
                pass

            def _handle(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                seen = Seen(self.command, self.path, list(self.headers.items()), body)
                query = parse_qs(urlsplit(self.path).query)
                status = int(query.get("status", ["200"])[0])
                if "only" in query and echo.hostname not in query["only"]:
                    status = 200  # the status knob targets the pods named by ``only``
                with echo.lock:
                    echo.seen.append(seen)
                    key = query.get("key", [""])[0]
                    if "fail" in query:
                        echo.fail_counts[key] += 1
                        if echo.fail_counts[key] <= int(query["fail"][0]):
                            status = int(query.get("fail_status", ["503"])[0])
                if "delay" in query:
                    time.sleep(_seconds(query["delay"][0]))
                lines = [
                    f"ServiceVersion={echo.version}",
                    f"ServicePort={echo.port}",
                    f"StatusCode={status}",
                    f"Host={self.headers.get('Host', '')}",
                    f"URL={self.path}",
                    f"Method={self.command}",
                    f"Proto={self.request_version}",
                    f"IP={self.client_address[0]}",
                ]
                lines += [f"RequestHeader={k}:{v}" for k, v in self.headers.items()]
                lines.append(f"Hostname={echo.hostname}")
                payload = ("\n".join(lines) + "\n").encode()
                self.send_response(status)
                self.send_header("Content-Type", "text/plain")
                self.send_header("Content-Length", str(len(payload)))
                self.send_header("x-echo-hostname", echo.hostname)
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(payload)

            do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = do_OPTIONS = do_HEAD = _handle

        self._server = BackgroundHTTPServer(self.ip, self.port, Handler, f"echo-{self.hostname}").start()
        return self

    def close(self) -> None:
        if self._server is not None:
            self._server.close()
            self._server = None

    def reset(self) -> None:
        with self.lock:
            self.seen.clear()
            self.fail_counts.clear()

    def count(self, path_prefix: str = "") -> int:
        """How many requests arrived whose URL starts with ``path_prefix``."""
        with self.lock:
            return sum(1 for s in self.seen if s.url.startswith(path_prefix))

    def __enter__(self) -> EchoServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()
