"""``KubeEmulator``: an in-process Kubernetes API server for tests, demos and offline use.

It serves enough of the API for meshctl's cluster source and for the real ``kubectl`` (discovery, Table
printing, list/watch, create/apply/patch/delete), Istio's CRDs, simulated authentication (401) and RBAC (403),
and pods/portforward bridged to local ports (map a pod to ``127.0.0.1:PORT`` to reach a real Envoy admin).
Test hooks: :meth:`compact` (force 410 Gone), :meth:`close_watches`, :meth:`paused_watches`, :meth:`stop`/
:meth:`start` on the same port (an API server restart), :meth:`deny` (RBAC), ``delay`` (slow server).
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import threading
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

import yaml

from meshctl.testing.kubeapi.server import Handler, Request, Server
from meshctl.testing.kubeapi.store import ApiError, Store

#: Pod annotation naming where the emulator forwards a pod port: ``kubeapi.meshctl.io/forward-15000: 127.0.0.1:34567``.
FORWARD_ANNOTATION = "kubeapi.meshctl.io/forward-"


@dataclass(frozen=True)
class Rule:
    """An RBAC deny rule; ``None``/``"*"`` fields match anything."""

    verb: str = "*"
    resource: str = "*"  # plural, or plural/subresource
    group: str = "*"
    namespace: str | None = None
    user: str | None = None

    def matches(self, user: str, verb: str, group: str, resource: str, namespace: str | None) -> bool:
        return (
            self.verb in ("*", verb)
            and self.resource in ("*", resource)
            and self.group in ("*", group)
            and (self.namespace is None or self.namespace == namespace)
            and (self.user is None or self.user == user)
        )


class KubeEmulator:
    """See module docstring. Use as a context manager, or ``start()``/``stop()``."""

    def __init__(
        self,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        istio_crds: bool = True,
        tokens: dict[str, str] | None = None,
        history: int = 20000,
        bookmark_interval: float = 5.0,
        verbose: bool = False,
        tls: bool = False,
        controllers: bool = False,
    ) -> None:
        self.store = Store(istio_crds=istio_crds, history=history)
        self.host, self.port = host, port
        self.tokens = tokens  # token -> user; None: no authentication, everyone is "admin"
        self.tokens_user_default = "admin"
        self.deny_rules: list[Rule] = []
        self.forwards: dict[tuple[str, str, int], tuple[str, int]] = {}
        self.bookmark_interval = bookmark_interval
        self.max_watch_seconds = 1800.0
        self.delay = 0.0
        self.verbose = verbose
        self.requests: list[tuple[str, str, dict[str, str]]] = []
        self._watch_epoch = 0
        self._watch_gate = threading.Event()
        self._watch_gate.set()
        self._stopping = False
        self._server: Server | None = None
        self._thread: threading.Thread | None = None
        self._conns: set[socket.socket] = set()
        self._lock = threading.Lock()
        self.tls = tls
        self.controllers = None
        if controllers:
            from meshctl.testing.kubeapi.controllers import Controllers

            self.controllers = Controllers(self.store)
        self.cert: tuple[str, str] | None = None

    # --- lifecycle ---------------------------------------------------------------------------------------------
    def start(self) -> KubeEmulator:
        handler = type("BoundHandler", (Handler,), {"emu": self})
        self._stopping = False
        self._server = Server((self.host, self.port), handler)
        if self.tls:
            from meshctl.testing.kubeapi.tls import make_cert, server_context

            if self.cert is None:
                self.cert = make_cert()
            self._server.ssl_context = server_context(*self.cert)
        self.port = self._server.server_address[1]
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.1},
                                        name=f"kube-emulator:{self.port}", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and drop every open connection (watches included); the state is kept for ``start()``."""
        if self._server is None:
            return
        self._stopping = True
        with self.store.changed:
            self.store.changed.notify_all()
        self._server.shutdown()
        self._server.server_close()
        with self._lock:
            conns = list(self._conns)
        for c in conns:
            with contextlib.suppress(OSError):
                c.shutdown(socket.SHUT_RDWR)
        if self._thread:
            self._thread.join(5)
        self._server = None

    def __enter__(self) -> KubeEmulator:
        return self.start() if self._server is None else self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def url(self) -> str:
        return f"{'https' if self.tls else 'http'}://{self.host}:{self.port}"

    def _track(self, conn: socket.socket, add: bool) -> None:
        with self._lock:
            (self._conns.add if add else self._conns.discard)(conn)

    def _record(self, method: str, path: str, query: dict[str, str]) -> None:
        if len(self.requests) < 100000:
            self.requests.append((method, path, query))

    # --- content -----------------------------------------------------------------------------------------------
    def apply(self, objects: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
        """Create or replace objects (namespaces are created as needed); returns the stored objects."""
        return self.store.apply(objects)

    def apply_yaml(self, text: str) -> list[dict[str, Any]]:
        return self.apply(d for d in yaml.safe_load_all(text) if d)

    def load(self, paths: Iterable[str], *, label_injection: bool = True) -> list[dict[str, Any]]:
        """Seed from files/directories with meshctl's own loader (so errors name file and line).

        With ``label_injection``, namespaces the files use but do not define are labelled
        ``istio-injection=enabled`` (except istio-system and kube-*): mesh manifests without Namespace objects
        mean "these workloads are in the mesh", which is also how meshctl reads such files offline.
        """
        from meshctl.sources import load_paths

        resources = load_paths(list(paths))
        if label_injection:
            defined = {r.name for r in resources if r.kind == "Namespace"}
            used = {r.namespace for r in resources if r.namespace} - defined
            ns_t = self.store.types[("", "namespaces")]
            for ns in sorted(used):
                if ns == "istio-system" or ns.startswith("kube-"):
                    continue
                try:
                    cur = self.store.get(ns_t, None, ns)
                except ApiError:
                    self.store.create(ns_t, None, {"apiVersion": "v1", "kind": "Namespace",
                                                   "metadata": {"name": ns, "labels": {"istio-injection": "enabled"}}})
                    continue
                labels = dict(cur["metadata"].get("labels") or {})
                if "istio-injection" not in labels and "istio.io/rev" not in labels:
                    labels["istio-injection"] = "enabled"
                    self.store.update(ns_t, None, ns, dict(cur, metadata=dict(cur["metadata"], labels=labels)))
        from meshctl.errors import ErrorList, InputError, MeshctlError

        # Namespaces and CRDs first, so what depends on them can be created.
        ordered = sorted(resources, key=lambda r: 0 if r.kind in ("Namespace", "CustomResourceDefinition") else 1)
        out: list[dict[str, Any]] = []
        errors: list[MeshctlError] = []
        for r in ordered:
            obj = json.loads(json.dumps(r.obj))
            if r.namespace and r.kind != "Namespace":
                obj.setdefault("metadata", {})["namespace"] = r.namespace
            try:
                out.extend(self.apply([obj]))
            except ApiError as e:
                errors.append(InputError(f"{r.ref}: {e.message}", file=r.file, line=r.line))
        if errors:
            raise errors[0] if len(errors) == 1 else ErrorList(errors)
        return out

    def get(self, kind_plural: str, name: str, namespace: str | None = None, group: str = "") -> dict[str, Any]:
        rt = self.store.types[(group, kind_plural)]
        return self.store.get(rt, namespace, name)

    def delete(self, kind_plural: str, name: str, namespace: str | None = None, group: str = "") -> dict[str, Any]:
        rt = self.store.types[(group, kind_plural)]
        return self.store.delete(rt, namespace, name)

    # --- auth --------------------------------------------------------------------------------------------------
    def deny(self, verb: str = "*", resource: str = "*", group: str = "*", namespace: str | None = None, user: str | None = None) -> None:
        """Make matching requests fail with 403 Forbidden, with the message a real API server gives."""
        self.deny_rules.append(Rule(verb, resource, group, namespace, user))

    def _authorize(self, user: str, verb: str, req: Request) -> None:
        rt = req.rt
        resource = f"{rt.plural}/{req.sub}" if req.sub else rt.plural
        for rule in self.deny_rules:
            if rule.matches(user, verb, rt.group, resource, req.namespace):
                scope = f'in the namespace "{req.namespace}"' if req.namespace else "at the cluster scope"
                what = f'{rt.qualified} "{req.name}"' if req.name else rt.qualified
                raise ApiError(
                    403, "Forbidden",
                    f'{what} is forbidden: User "{user}" cannot {verb} resource "{resource}" in API group "{rt.group}" {scope}',
                    {"name": req.name or "", "group": rt.group, "kind": rt.plural},
                )

    # --- watch hooks -------------------------------------------------------------------------------------------
    def close_watches(self) -> None:
        """End every open watch stream cleanly (clients reconnect from their last resourceVersion)."""
        self._watch_epoch += 1
        with self.store.changed:
            self.store.changed.notify_all()

    def compact(self, close_watches: bool = False) -> int:
        """Drop the event history: watches from an older resourceVersion get 410 Gone (open ones too)."""
        rv = self.store.compact()
        if close_watches:
            self.close_watches()
        return rv

    @contextlib.contextmanager
    def paused_watches(self) -> Iterator[None]:
        """Hold event delivery to open watches (writes still happen) until the block ends."""
        self._watch_gate.clear()
        try:
            yield
        finally:
            self._watch_gate.set()
            with self.store.changed:
                self.store.changed.notify_all()

    # --- port-forward ------------------------------------------------------------------------------------------
    def add_port_forward(self, namespace: str, pod: str, port: int, target: tuple[str, int]) -> None:
        """Forward ``pod:port`` (through pods/portforward) to a local ``(host, port)``."""
        self.forwards[(namespace, pod, port)] = target

    def forward_target(self, pod: dict[str, Any], port: int) -> tuple[str, int]:
        md = pod.get("metadata") or {}
        key = (md.get("namespace", ""), md.get("name", ""), port)
        if key in self.forwards:
            return self.forwards[key]
        ann = (md.get("annotations") or {}).get(f"{FORWARD_ANNOTATION}{port}")
        if ann:
            host, _, p = ann.rpartition(":")
            return host or "127.0.0.1", int(p)
        ip = (pod.get("status") or {}).get("podIP") or ""
        if ip.startswith("127."):
            return ip, port
        raise OSError(f"pod {key[0]}/{key[1]} has no local mapping for port {port} (pod IP {ip or 'unset'})")

    # --- kubeconfig --------------------------------------------------------------------------------------------
    def kubeconfig(self, *, context: str = "emulator", token: str | None = None, namespace: str | None = None) -> dict[str, Any]:
        user: dict[str, Any] = {"token": token} if token else {}
        cluster: dict[str, Any] = {"server": self.url}
        if self.tls and self.cert:
            import base64

            with open(self.cert[0], "rb") as fh:
                cluster["certificate-authority-data"] = base64.b64encode(fh.read()).decode()
        ctx: dict[str, Any] = {"cluster": context, "user": f"{context}-user"}
        if namespace:
            ctx["namespace"] = namespace
        return {
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [{"name": context, "cluster": cluster}],
            "users": [{"name": f"{context}-user", "user": user}],
            "contexts": [{"name": context, "context": ctx}],
            "current-context": context,
            "preferences": {},
        }

    def write_kubeconfig(self, path: str | os.PathLike[str], **kw: Any) -> str:
        """Write a kubeconfig pointing at this emulator (see :meth:`kubeconfig` for options); returns the path."""
        with open(path, "w") as fh:
            yaml.safe_dump(self.kubeconfig(**kw), fh, sort_keys=False)
        return str(path)
