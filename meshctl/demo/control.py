"""The demo's control endpoint (loopback only) and its client, used by ``meshctl demo apply`` and ``demo status``.

A tiny HTTP API on the control-plane address: ``GET /status`` (JSON state: proxies, xDS sync, load counts) and
``GET /resources`` (the resources the mesh runs on now, with file:line provenance, see :mod:`.wire`; an ``ETag``
per config version, so a client polling with ``If-None-Match`` gets a cheap 304 until something changes;
``?format=yaml`` gives plain multi-document YAML), ``POST /apply`` (a YAML/JSON body of Istio/Kubernetes
resources layered over the running mesh, pushed to the proxies through the xDS server) and ``POST /delete``
(the resources named in the body are removed). Errors travel back as JSON ``{"error", "exit_code", "hints"}`` so the client
prints the same one-line ``file:line: field: message`` error and exit code as a local command would.
"""

from __future__ import annotations

import ipaddress
import json
import os
import tempfile
import urllib.error
import urllib.request
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler
from typing import Any

from meshctl.demo.httpd import BackgroundHTTPServer
from meshctl.errors import EXIT_DATAERR, InputError, MeshctlError, UnavailableError, UsageError
from meshctl.sources.resource import Resource

StatusFn = Callable[[], dict[str, Any]]
ApplyFn = Callable[[str, str], dict[str, Any]]
#: () -> (version tag, the resources the mesh runs on now)
ResourcesFn = Callable[[], "tuple[str, list[Resource]]"]

MAX_BODY = 16 * 1024 * 1024


def default_status_path() -> str:
    """Where a running demo records itself when no ``--status-file`` is given (per user)."""
    base = os.environ.get("XDG_RUNTIME_DIR") or tempfile.gettempdir()
    return os.path.join(base, f"meshctl-demo-{os.getuid()}.json")


class ControlServer:
    """Serves ``/status``, ``/resources``, ``/apply`` and ``/delete`` on ``ip:port`` (a loopback address), in a
    background thread."""

    def __init__(
        self, ip: str, port: int, status: StatusFn, apply: ApplyFn, delete: ApplyFn | None = None,
        resources: ResourcesFn | None = None,
    ) -> None:
        if not ipaddress.ip_address(ip).is_loopback:
            raise UsageError(f"the demo control endpoint binds only to loopback addresses (got {ip})")
        handler = _make_handler(status, {"/apply": apply, **({"/delete": delete} if delete else {})}, resources)

        try:
            self._http = BackgroundHTTPServer(ip, port, handler, "meshctl-demo-control")
        except OSError as e:
            raise UnavailableError(
                f"cannot listen on {ip}:{port} for the demo control endpoint: {e.strerror}",
                hints=["is another demo running? try --subnet N"],
            ) from e
        self.url = f"http://{ip}:{self._http.port}"

    def start(self) -> ControlServer:
        self._http.start()
        return self

    def close(self) -> None:
        self._http.close()


def _make_handler(
    status: StatusFn, changes: dict[str, ApplyFn], resources: ResourcesFn | None = None
) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: object) -> None:
            pass

        def _reply(self, code: int, data: dict[str, Any] | None, etag: str | None = None,
                   body: bytes | None = None, ctype: str = "application/json") -> None:
            if body is None:
                body = json.dumps(data, indent=2).encode() if data is not None else b""
            self.send_response(code)
            self.send_header("Content-Type", ctype)
            if etag:
                self.send_header("ETag", f'"{etag}"')
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def _resources(self, query: str) -> None:
            assert resources is not None
            version, items = resources()
            if self.headers.get("If-None-Match", "").strip('"') == version:
                self._reply(304, None, etag=version)
            elif "format=yaml" in query:
                import yaml

                plain = json.loads(json.dumps([r.obj for r in items]))  # the loader's dict subclasses -> dicts
                text = yaml.safe_dump_all(plain, sort_keys=False)
                self._reply(200, None, etag=version, body=text.encode(), ctype="application/yaml")
            else:
                from meshctl.demo.wire import to_wire

                self._reply(200, {"version": version, "resources": [to_wire(r) for r in items]}, etag=version)

        def _guard(self) -> bool:
            if not ipaddress.ip_address(self.client_address[0]).is_loopback:
                self._reply(403, {"error": "loopback clients only", "exit_code": 64})
                return False
            return True

        def do_GET(self) -> None:  # noqa: N802
            if not self._guard():
                return
            path, _, query = self.path.partition("?")
            if path in ("/status", "/"):
                self._reply(200, status())
            elif path == "/resources" and resources is not None:
                self._resources(query)
            else:
                self._reply(404, {"error": f"no such endpoint {self.path}", "exit_code": 64})

        def do_POST(self) -> None:  # noqa: N802
            if not self._guard():
                return
            change = changes.get(self.path.split("?")[0])
            if change is None:
                self._reply(404, {"error": f"no such endpoint {self.path}", "exit_code": 64})
                return
            length = int(self.headers.get("Content-Length") or 0)
            if length > MAX_BODY:
                self._reply(413, {"error": "change file too large", "exit_code": EXIT_DATAERR})
                return
            text = self.rfile.read(length).decode("utf-8", errors="replace")
            filename = self.headers.get("X-Meshctl-Filename") or "<apply>"
            try:
                self._reply(200, change(text, filename))
            except MeshctlError as e:
                self._reply(422, {"error": str(e), "exit_code": e.exit_code, "hints": list(e.hints)})
            except Exception as e:  # keep the demo up; report the bug
                self._reply(500, {"error": f"internal error: {type(e).__name__}: {e}", "exit_code": 70})

    return Handler


# ----------------------------------------------------------------------------------------------- client side


def read_status_file(path: str | None) -> dict[str, Any]:
    """The JSON a running demo wrote (``--status-file`` or the per-user default), or a clear error."""
    p = path or default_status_path()
    try:
        with open(p) as fh:
            data = json.load(fh)
    except FileNotFoundError:
        raise UnavailableError(
            f"no running demo found ({p} does not exist)",
            hints=["start one with `meshctl demo` (or pass --status-file / --control)"],
        ) from None
    except (OSError, ValueError) as e:
        raise InputError(f"cannot read demo status file: {e}", file=p) from e
    if not isinstance(data, dict) or "control_url" not in data:
        raise InputError("not a meshctl demo status file (no control_url)", file=p)
    return data


def control_url(control: str | None, status_file: str | None) -> str:
    if control:
        return control.rstrip("/")
    return str(read_status_file(status_file)["control_url"]).rstrip("/")


def _call(req: urllib.request.Request, url: str, timeout: float) -> dict[str, Any]:
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:  # noqa: S310 - loopback control endpoint
            return dict(json.loads(r.read()))
    except urllib.error.HTTPError as e:
        try:
            data = json.loads(e.read())
        except ValueError:
            data = {"error": f"HTTP {e.code}", "exit_code": 69}
        raise MeshctlError(
            str(data.get("error")), exit_code=int(data.get("exit_code") or 1), hints=data.get("hints") or []
        ) from None
    except OSError as e:
        raise UnavailableError(
            f"the demo at {url} is not answering: {e}", hints=["is `meshctl demo` still running?"]
        ) from None


def get_status(url: str, timeout: float = 10.0) -> dict[str, Any]:
    return _call(urllib.request.Request(url + "/status"), url, timeout)


def get_resources(url: str, etag: str | None = None, timeout: float = 10.0) -> tuple[str, list[Resource]] | None:
    """The resources the demo at ``url`` runs on now and their version tag; None when still ``etag``."""
    from meshctl.demo.wire import from_wire

    headers = {"If-None-Match": f'"{etag}"'} if etag else {}
    req = urllib.request.Request(url + "/resources", headers=headers)
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:  # noqa: S310 - loopback control endpoint
            data = json.loads(r.read())
    except urllib.error.HTTPError as e:
        if e.code == 304:
            return None
        if e.code == 404:
            raise UnavailableError(f"the demo at {url} does not serve its resources (GET /resources: 404)",
                                   hints=["restart `meshctl demo` with this meshctl version"]) from None
        raise UnavailableError(f"the demo at {url} answered HTTP {e.code} to GET /resources") from None
    except (OSError, ValueError) as e:
        raise UnavailableError(
            f"the demo at {url} is not answering: {e}", hints=["is `meshctl demo` still running?"]
        ) from None
    return str(data["version"]), [from_wire(d) for d in data["resources"]]


def post_apply(
    url: str, text: str, filename: str, timeout: float = 60.0, action: str = "apply"
) -> dict[str, Any]:
    """Send a change file to the demo: ``action`` "apply" (create/replace) or "delete"."""
    req = urllib.request.Request(
        f"{url}/{action}",
        data=text.encode(),
        method="POST",
        headers={"Content-Type": "application/yaml", "X-Meshctl-Filename": filename},
    )
    return _call(req, url, timeout)
