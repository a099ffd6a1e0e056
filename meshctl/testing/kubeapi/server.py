"""The emulator's HTTP front: Kubernetes REST paths, discovery, list/watch, writes, auth/RBAC, port-forward.

One thread per connection (``ThreadingHTTPServer``), HTTP/1.1 keep-alive, JSON only. Watches are chunked
streams of ``{"type", "object"}`` lines fed from the store's event history; a watch whose resourceVersion
fell out of the history gets an ``ERROR`` event carrying a 410 ``Status``, as from a real API server.
"""

from __future__ import annotations

import base64
import json
import re
import socket
import time
import urllib.parse
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, Any

import yaml

from meshctl.testing.kubeapi import tables
from meshctl.testing.kubeapi.patch import apply_patch
from meshctl.testing.kubeapi.selectors import parse_field_selector, parse_label_selector
from meshctl.testing.kubeapi.store import ApiError
from meshctl.testing.kubeapi.types import ResourceType
from meshctl.testing.kubeapi.websocket import PORTFORWARD_PROTOCOLS, WebSocket, accept_key, serve_portforward

if TYPE_CHECKING:
    from meshctl.testing.kubeapi.emulator import KubeEmulator

SERVER_VERSION = {
    "major": "1",
    "minor": "32",
    "gitVersion": "v1.32.0+meshctl-emulator",
    "gitCommit": "0000000000000000000000000000000000000000",
    "gitTreeState": "clean",
    "buildDate": "2026-01-01T00:00:00Z",
    "goVersion": "go1.23.0",
    "compiler": "gc",
    "platform": "linux/amd64",
}


@dataclass
class Request:
    """A parsed resource request: which type, namespace, name and subresource."""

    rt: ResourceType
    version: str
    namespace: str | None
    name: str | None
    sub: str


def _wants_table(accept: str) -> bool:
    return "as=Table" in accept


_WRITE_PARAMS = [
    {"name": n, "in": "query", "schema": {"type": "string", "uniqueItems": True}}
    for n in ("dryRun", "fieldManager", "fieldValidation", "force")
]


def openapi_v3(group: str, version: str, types: list[ResourceType]) -> dict[str, Any]:
    """An OpenAPI v3 document listing each resource's PATCH operation and its parameters.

    kubectl reads it to learn that the server validates fields itself (``fieldValidation``), so it sends
    objects without downloading schemas; no schemas are served (CRDs here preserve unknown fields).
    """
    prefix = f"/apis/{group}/{version}" if group else "/api/v1"
    paths: dict[str, Any] = {}
    for rt in types:
        gvk = {"group": group, "version": version, "kind": rt.kind}
        item = f"{prefix}/namespaces/{{namespace}}/{rt.plural}/{{name}}" if rt.namespaced else f"{prefix}/{rt.plural}/{{name}}"
        op = {"operationId": f"patch{rt.kind}", "x-kubernetes-action": "patch", "x-kubernetes-group-version-kind": gvk,
              "parameters": _WRITE_PARAMS, "responses": {"200": {"description": "OK"}}}
        paths[item] = {"patch": op}
    return {"openapi": "3.0.0", "info": {"title": "Kubernetes", "version": SERVER_VERSION["gitVersion"]},
            "paths": paths, "components": {"schemas": {}}}


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "meshctl-kube-emulator"
    emu: KubeEmulator  # set on the subclass the emulator creates

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - quiet by default
        if self.emu.verbose:
            super().log_message(format, *args)

    # --- plumbing ------------------------------------------------------------------------------------------
    def setup(self) -> None:
        super().setup()
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.emu._track(self.connection, True)

    def finish(self) -> None:
        try:
            super().finish()
        finally:
            self.emu._track(self.connection, False)

    def _send_json(self, code: int, body: Any, content_type: str = "application/json") -> None:
        data = json.dumps(body, separators=(",", ":")).encode()
        self.send_response(code)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        self.send_header("Cache-Control", "no-cache, private")
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)

    def _error(self, e: ApiError) -> None:
        self._send_json(e.code, e.status())

    def _body(self) -> Any:
        raw = self._raw_body
        if not raw:
            raise ApiError(400, "BadRequest", "the request body is empty")
        try:
            return json.loads(raw)
        except ValueError:
            try:
                return yaml.safe_load(raw)
            except yaml.YAMLError as e:
                raise ApiError(400, "BadRequest", f"the body is neither JSON nor YAML: {e}") from None

    # --- dispatch --------------------------------------------------------------------------------------------
    def do_GET(self) -> None:
        self._dispatch("GET")

    def do_HEAD(self) -> None:
        self._dispatch("GET")

    def do_POST(self) -> None:
        self._dispatch("POST")

    def do_PUT(self) -> None:
        self._dispatch("PUT")

    def do_PATCH(self) -> None:
        self._dispatch("PATCH")

    def do_DELETE(self) -> None:
        self._dispatch("DELETE")

    def _dispatch(self, method: str) -> None:
        url = urllib.parse.urlsplit(self.path)
        self.query = {k: v[-1] for k, v in urllib.parse.parse_qs(url.query, keep_blank_values=True).items()}
        self.emu._record(method, url.path, self.query)
        n = int(self.headers.get("Content-Length") or 0)
        self._raw_body = self.rfile.read(n) if n else b""
        path = url.path.rstrip("/") or "/"
        try:
            user = self._authenticate()
            if self.emu.delay:
                time.sleep(self.emu.delay)
            if method == "GET" and self._discovery(path):
                return
            req = self._parse(path)
            if req is None:
                raise ApiError(404, "NotFound", "the server could not find the requested resource")
            self._resource(method, req, user)
        except ApiError as e:
            self._error(e)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True

    def _authenticate(self) -> str:
        auth = self.headers.get("Authorization", "")
        token = auth[7:].strip() if auth.lower().startswith("bearer ") else None
        if self.emu.tokens is None:
            return self.emu.tokens_user_default
        if token is None or token not in self.emu.tokens:
            raise ApiError(401, "Unauthorized", "Unauthorized")
        return self.emu.tokens[token]

    # --- discovery ---------------------------------------------------------------------------------------------
    def _discovery(self, path: str) -> bool:
        store = self.emu.store
        if path in ("/healthz", "/readyz", "/livez"):
            data = b"ok"
            self.send_response(200)
            self.send_header("Content-Type", "text/plain")
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(data)
            return True
        if path == "/version":
            self._send_json(200, SERVER_VERSION)
            return True
        if path == "/api":
            host = self.headers.get("Host", "")
            self._send_json(200, {"kind": "APIVersions", "versions": ["v1"],
                                  "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": host}]})
            return True
        with store.lock:
            groups = store.groups()
            types = list(store.types.values())
        if path == "/apis":
            self._send_json(200, {"kind": "APIGroupList", "apiVersion": "v1",
                                  "groups": [self._group_entry(g, vs) for g, vs in groups.items() if g]})
            return True
        m = re.fullmatch(r"/apis/([^/]+)", path)
        if m and m.group(1) in groups:
            body = self._group_entry(m.group(1), groups[m.group(1)])
            body.update(kind="APIGroup", apiVersion="v1")
            self._send_json(200, body)
            return True
        m = re.fullmatch(r"/api/(v1)|/apis/([^/]+)/([^/]+)", path)
        if m:
            group, version = ("", "v1") if m.group(1) else (m.group(2), m.group(3))
            served = [rt for rt in types if rt.group == group and version in rt.versions]
            if not served:
                return False
            resources = [e for rt in served for e in rt.discovery_entry()]
            self._send_json(200, {"kind": "APIResourceList", "apiVersion": "v1",
                                  "groupVersion": f"{group}/{version}" if group else version, "resources": resources})
            return True
        if path == "/openapi/v3":
            gvs = {f"api/{v}" if not g else f"apis/{g}/{v}" for rt in types for v in rt.versions for g in [rt.group]}
            self._send_json(200, {"paths": {gv: {"serverRelativeURL": f"/openapi/v3/{gv}?hash=0"} for gv in sorted(gvs)}})
            return True
        m = re.fullmatch(r"/openapi/v3/(?:api/(v1)|apis/([^/]+)/([^/]+))", path)
        if m:
            group, version = ("", "v1") if m.group(1) else (m.group(2), m.group(3))
            self._send_json(200, openapi_v3(group, version, [rt for rt in types if rt.group == group and version in rt.versions]))
            return True
        if path.startswith("/openapi/"):
            raise ApiError(404, "NotFound", "the emulator serves OpenAPI v3 operation lists only, no schemas")
        return False

    @staticmethod
    def _group_entry(group: str, versions: list[str]) -> dict[str, Any]:
        vs = [{"groupVersion": f"{group}/{v}", "version": v} for v in versions]
        return {"name": group, "versions": vs, "preferredVersion": vs[0]}

    # --- resource paths ------------------------------------------------------------------------------------------
    def _parse(self, path: str) -> Request | None:
        m = re.fullmatch(r"/api/v1/(.+)|/apis/([^/]+)/([^/]+)/(.+)", path)
        if not m:
            return None
        if m.group(1):
            group, version, rest = "", "v1", m.group(1)
        else:
            group, version, rest = m.group(2), m.group(3), m.group(4)
        parts = [urllib.parse.unquote(p) for p in rest.split("/")]
        store = self.emu.store
        ns: str | None = None
        if parts[0] == "namespaces" and len(parts) >= 3 and store.type_for(group, version, parts[2]):
            ns, parts = parts[1], parts[2:]
        if len(parts) > 3:
            return None
        rt = store.type_for(group, version, parts[0])
        if rt is None:
            return None
        if ns is not None and not rt.namespaced:
            return None
        name = parts[1] if len(parts) > 1 else None
        sub = parts[2] if len(parts) > 2 else ""
        if sub and sub not in rt.subresources:
            return None
        return Request(rt, version, ns, name, sub)

    def _verb(self, method: str, req: Request) -> str:
        if req.sub == "portforward":
            return "create"
        if method == "GET":
            if req.name:
                return "get"
            return "watch" if self.query.get("watch") in ("true", "1") else "list"
        return {"POST": "create", "PUT": "update", "PATCH": "patch",
                "DELETE": "delete" if req.name else "deletecollection"}[method]

    def _resource(self, method: str, req: Request, user: str) -> None:
        verb = self._verb(method, req)
        self.emu._authorize(user, verb, req)
        rt, store = req.rt, self.emu.store
        accept = self.headers.get("Accept", "")
        if req.sub == "portforward":
            self._portforward(req)
            return
        if req.sub == "scale":
            self._scale(method, req)
            return
        if method == "GET" and req.name is None:
            if verb == "watch":
                self._watch(req, accept)
            else:
                self._list(req, accept)
            return
        if method == "GET":
            obj = store.get(rt, req.namespace, req.name or "")
            if _wants_table(accept):
                self._send_json(200, tables.table(rt, [obj], include=self.query.get("includeObject", "Metadata"),
                                                  resource_version=obj["metadata"]["resourceVersion"]))
            else:
                self._send_json(200, self._out(obj, req))
            return
        dry = self.query.get("dryRun") == "All"
        if method == "POST":
            if req.name:
                raise ApiError(405, "MethodNotAllowed", "POST on a named object is not allowed")
            body = self._check_body(self._body(), req)
            obj = body if dry else store.create(rt, req.namespace, body)
            self._send_json(201, self._out(obj, req))
        elif method == "PUT":
            body = self._check_body(self._body(), req)
            obj = body if dry else store.update(rt, req.namespace, req.name or "", body, subresource=req.sub)
            self._send_json(200, self._out(obj, req))
        elif method == "PATCH":
            self._patch(req, dry)
        elif method == "DELETE":
            if req.name is None:
                self._delete_collection(req)
                return
            obj = store.delete(rt, req.namespace, req.name)
            self._send_json(200, self._out(obj, req))

    def _check_body(self, body: Any, req: Request) -> dict[str, Any]:
        if not isinstance(body, dict):
            raise ApiError(400, "BadRequest", "the request body must be an object")
        av, kind = body.get("apiVersion"), body.get("kind")
        if kind and kind != req.rt.kind:
            raise ApiError(400, "BadRequest", f"the kind {kind!r} of the body does not match the resource {req.rt.qualified}")
        if av and av.rpartition("/")[0] != req.rt.group:
            raise ApiError(400, "BadRequest", f"the apiVersion {av!r} of the body does not match the group {req.rt.group!r}")
        if req.name and (body.get("metadata") or {}).get("name") not in (None, req.name):
            raise ApiError(400, "BadRequest", "the name of the object does not match the name on the URL")
        return body

    def _out(self, obj: dict[str, Any], req: Request) -> dict[str, Any]:
        av = req.rt.api_version(req.version)
        return obj if obj.get("apiVersion") == av else dict(obj, apiVersion=av)

    def _patch(self, req: Request, dry: bool) -> None:
        store, rt = self.emu.store, req.rt
        ctype = self.headers.get("Content-Type", "application/merge-patch+json")
        body = self._body()
        with store.lock:
            try:
                cur: dict[str, Any] | None = store.get(rt, req.namespace, req.name or "")
            except ApiError as e:
                if e.code != 404 or not ctype.startswith("application/apply-patch"):
                    raise
                cur = None
            new = apply_patch(ctype, cur, body, crd=not rt.builtin)
            if not isinstance(new, dict):
                raise ApiError(422, "Invalid", "the patched object is not an object")
            if cur is None:
                obj = new if dry else store.create(rt, req.namespace, self._check_body(new, req))
                self._send_json(201, self._out(obj, req))
                return
            md = new.setdefault("metadata", {})
            md["resourceVersion"] = cur["metadata"]["resourceVersion"]
            if new == cur:
                self._send_json(200, self._out(cur, req))  # a no-op patch writes nothing, like etcd
                return
            obj = new if dry else store.update(rt, req.namespace, req.name or "", new, subresource=req.sub)
        self._send_json(200, self._out(obj, req))

    def _scale(self, method: str, req: Request) -> None:
        """The ``scale`` subresource as an ``autoscaling/v1`` Scale (what ``kubectl scale`` reads and patches)."""
        store, rt = self.emu.store, req.rt

        def view(obj: dict[str, Any]) -> dict[str, Any]:
            md = obj["metadata"]
            sel = ((obj.get("spec") or {}).get("selector") or {}).get("matchLabels") or {}
            n = (obj.get("spec") or {}).get("replicas", 1)
            return {"kind": "Scale", "apiVersion": "autoscaling/v1",
                    "metadata": {k: md[k] for k in ("name", "namespace", "uid", "resourceVersion", "creationTimestamp") if k in md},
                    "spec": {"replicas": n},
                    "status": {"replicas": (obj.get("status") or {}).get("replicas", 0),
                               "selector": ",".join(f"{k}={v}" for k, v in sorted(sel.items()))}}

        with store.lock:
            cur = store.get(rt, req.namespace, req.name or "")
            if method == "GET":
                self._send_json(200, view(cur))
                return
            if method == "PUT":
                new_view = self._body()
            elif method == "PATCH":
                new_view = apply_patch(self.headers.get("Content-Type", "application/merge-patch+json"), view(cur), self._body(), crd=False)
            else:
                raise ApiError(405, "MethodNotAllowed", f"{method} is not allowed on the scale subresource")
            replicas = ((new_view or {}).get("spec") or {}).get("replicas")
            if not isinstance(replicas, int) or replicas < 0:
                raise ApiError(422, "Invalid", "spec.replicas must be a non-negative integer")
            obj = store.update(rt, req.namespace, req.name or "", dict(cur, spec=dict(cur.get("spec") or {}, replicas=replicas)))
            self._send_json(200, view(obj))

    def _delete_collection(self, req: Request) -> None:
        store = self.emu.store
        items, _ = store.list(req.rt, req.namespace)
        sel = parse_label_selector(self.query.get("labelSelector"))
        gone = [store.delete(req.rt, o["metadata"].get("namespace"), o["metadata"]["name"])
                for o in items if sel((o.get("metadata") or {}).get("labels") or {})]
        self._send_json(200, {"kind": f"{req.rt.kind}List", "apiVersion": req.rt.api_version(req.version),
                              "metadata": {"resourceVersion": str(store.rv)}, "items": [self._out(o, req) for o in gone]})

    # --- list & watch ------------------------------------------------------------------------------------------------
    def _filters(self) -> tuple[Any, Any]:
        try:
            return parse_label_selector(self.query.get("labelSelector")), parse_field_selector(self.query.get("fieldSelector"))
        except ValueError as e:
            raise ApiError(400, "BadRequest", str(e)) from None

    def _list(self, req: Request, accept: str) -> None:
        store, rt = self.emu.store, req.rt
        lsel, fsel = self._filters()
        items, rv = store.list(rt, req.namespace)
        items = [o for o in items if lsel((o.get("metadata") or {}).get("labels") or {}) and fsel(o)]
        cont_out = ""
        start = self.query.get("continue")
        if start:
            try:
                last = tuple(json.loads(base64.urlsafe_b64decode(start.encode())))
            except ValueError:
                raise ApiError(400, "BadRequest", "invalid continue token") from None
            items = [o for o in items if (o["metadata"].get("namespace", ""), o["metadata"]["name"]) > last]
        limit = int(self.query.get("limit") or 0)
        remaining = 0
        if limit and len(items) > limit:
            remaining = len(items) - limit
            items = items[:limit]
            lastkey = [items[-1]["metadata"].get("namespace", ""), items[-1]["metadata"]["name"]]
            cont_out = base64.urlsafe_b64encode(json.dumps(lastkey).encode()).decode()
        if _wants_table(accept):
            self._send_json(200, tables.table(rt, items, include=self.query.get("includeObject", "Metadata"),
                                              resource_version=str(rv), cont=cont_out))
            return
        md: dict[str, Any] = {"resourceVersion": str(rv)}
        if cont_out:
            md["continue"] = cont_out
            md["remainingItemCount"] = remaining
        av = rt.api_version(req.version)
        body = {"kind": f"{rt.kind}List", "apiVersion": av, "metadata": md,
                "items": [o if o.get("apiVersion") == av else dict(o, apiVersion=av) for o in items]}
        self._send_json(200, body)

    def _chunk(self, data: bytes) -> None:
        self.wfile.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
        self.wfile.flush()

    def _watch(self, req: Request, accept: str) -> None:
        store, rt, emu = self.emu.store, req.rt, self.emu
        lsel, fsel = self._filters()
        as_table = _wants_table(accept)
        include = self.query.get("includeObject", "Metadata")
        bookmarks = self.query.get("allowWatchBookmarks") in ("true", "1")
        timeout = float(self.query.get("timeoutSeconds") or emu.max_watch_seconds)
        rv_param = self.query.get("resourceVersion", "")
        try:
            cursor = int(rv_param) if rv_param not in ("", "0") else None
        except ValueError:
            raise ApiError(400, "BadRequest", f"invalid resourceVersion {rv_param!r}") from None
        initial: list[dict[str, Any]] = []
        if cursor is None:
            items, rv = store.list(rt, req.namespace)
            initial, cursor = items, rv
        epoch = emu._watch_epoch
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Transfer-Encoding", "chunked")
        self.send_header("Cache-Control", "no-cache, private")
        self.end_headers()
        first = [True]
        av = rt.api_version(req.version)

        def send(etype: str, obj: dict[str, Any]) -> None:
            if as_table and etype in ("ADDED", "MODIFIED", "DELETED"):
                body = tables.table(rt, [obj], include=include, with_columns=first[0], resource_version=obj["metadata"]["resourceVersion"])
                first[0] = False
            else:
                body = obj if obj.get("apiVersion") == av or etype in ("ERROR", "BOOKMARK") else dict(obj, apiVersion=av)
            self._chunk(json.dumps({"type": etype, "object": body}, separators=(",", ":")).encode() + b"\n")

        def match(obj: dict[str, Any]) -> bool:
            md = obj.get("metadata") or {}
            if req.namespace and md.get("namespace") != req.namespace:
                return False
            return bool(lsel(md.get("labels") or {}) and fsel(obj))

        try:
            for o in initial:
                if match(o):
                    send("ADDED", o)
            deadline = time.monotonic() + timeout
            last_bookmark = time.monotonic()
            while True:
                now = time.monotonic()
                if now >= deadline or emu._watch_epoch != epoch or emu._stopping:
                    break
                if not emu._watch_gate.is_set():
                    emu._watch_gate.wait(0.2)
                    continue
                try:
                    events, newest = store.events_after(cursor, rt.key)
                except ApiError as e:
                    send("ERROR", e.status())
                    break
                for ev in events:
                    now_in = match(ev.obj)
                    if ev.type == "MODIFIED" and ev.old is not None:
                        was_in = match(ev.old)
                        if was_in != now_in:  # labels/fields changed across the selector, as a real watch cache reports
                            send("ADDED" if now_in else "DELETED", ev.obj)
                            continue
                    if now_in:
                        send(ev.type, ev.obj)
                cursor = newest
                if bookmarks and now - last_bookmark >= emu.bookmark_interval:
                    send("BOOKMARK", {"kind": rt.kind, "apiVersion": av, "metadata": {"resourceVersion": str(cursor)}})
                    last_bookmark = now
                with store.changed:
                    if store.rv == cursor and emu._watch_epoch == epoch:
                        store.changed.wait(min(0.5, emu.bookmark_interval))
            self.wfile.write(b"0\r\n\r\n")
            self.wfile.flush()
        except (BrokenPipeError, ConnectionResetError, OSError):
            pass
        self.close_connection = True

    # --- port-forward ------------------------------------------------------------------------------------------------
    def _portforward(self, req: Request) -> None:
        pod = self.emu.store.get(req.rt, req.namespace, req.name or "")
        if self.headers.get("Upgrade", "").lower() != "websocket":
            raise ApiError(400, "BadRequest", "pods/portforward needs a WebSocket upgrade (SPDY is not supported by the emulator)")
        offered = [p.strip() for p in self.headers.get("Sec-WebSocket-Protocol", "").split(",") if p.strip()]
        proto = next((p for p in offered if p in PORTFORWARD_PROTOCOLS), None)
        if offered and proto is None:
            raise ApiError(400, "BadRequest", f"none of the offered subprotocols {offered} is supported (want v4.channel.k8s.io)")
        try:
            ports = [int(p) for p in (self.query.get("ports") or "").split(",") if p]
        except ValueError:
            raise ApiError(400, "BadRequest", "ports must be integers") from None
        if not ports:
            raise ApiError(400, "BadRequest", "at least one port must be specified (?ports=N)")
        self.send_response(101, "Switching Protocols")
        self.send_header("Upgrade", "websocket")
        self.send_header("Connection", "Upgrade")
        self.send_header("Sec-WebSocket-Accept", accept_key(self.headers.get("Sec-WebSocket-Key", "")))
        if proto:
            self.send_header("Sec-WebSocket-Protocol", proto)
        self.end_headers()
        self.wfile.flush()
        ws = WebSocket(self.connection, self.rfile)

        def dial(port: int) -> socket.socket:
            host, tport = self.emu.forward_target(pod, port)
            c = socket.create_connection((host, tport), timeout=5)
            c.settimeout(None)
            return c

        serve_portforward(ws, ports, dial)
        self.close_connection = True


class Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128
    ssl_context: Any = None

    def get_request(self) -> tuple[socket.socket, Any]:
        sock, addr = super().get_request()
        if self.ssl_context is not None:
            # The handshake happens on first use, in the connection's own thread, so a stalled client
            # cannot block accept().
            sock = self.ssl_context.wrap_socket(sock, server_side=True, do_handshake_on_connect=False)
        return sock, addr
