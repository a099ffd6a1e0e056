"""The behaviour-suite harness (spec §0 of ``istio-routing-behaviors.md``), made local.

One client sidecar Envoy for pod ``a`` runs in loopback bind mode, fed by meshctl's own xDS server with the
translator's output; Python echo servers stand in for the pods of services ``b`` (v1, v2) and ``c`` on their
own loopback IPs (no sidecars of their own: plaintext, as the spec allows for mTLS-independent cases). A test calls :meth:`BehaviourMesh.configure` with the Istio config of its case (layered over
the base services and pods), which rebuilds the model, translates ``a`` and pushes it; the call returns once
Envoy has ACKed. :meth:`BehaviourMesh.call` then sends a request the way app ``a`` would: to its sidecar's
outbound listener on ``a``'s IP at the service port, with the ``Host`` header naming the service.

``BehaviourMesh(gateway=True)`` puts Istio's ingress gateway (Service 80 -> 8080, ``istio: ingressgateway``) in
place of ``a``: requests then go to ``<gateway-ip>:8080``, for the gateway cases of spec §2.

Service ports are unprivileged (``http`` 8080 -> 18080) so nothing needs root.
"""

from __future__ import annotations

import http.client
import random
import socket
import threading
import time
from collections import Counter
from dataclasses import dataclass, field

from meshctl.demo.controlplane import ControlPlane, DemoSource
from meshctl.demo.procguard import ProcessRegistry, spawn_envoy
from meshctl.envoy.runner import EnvoyProcess
from meshctl.sources import Resource, load_text
from meshctl.xds.bootstrap import xds_bootstrap

from .echo import EchoServer, parse_reply, request_headers

HTTP_PORT = 8080  # service port `http`
HTTP_TARGET = 18080  # workload port

#: (pod, app, version, last octet); ``a`` is the client, the rest are echo backends.
PODS = [
    ("a-v1-0", "a", "v1", 10),
    ("b-v1-0", "b", "v1", 20),
    ("b-v2-0", "b", "v2", 21),
    ("c-v1-0", "c", "v1", 30),
]


def _base_yaml(subnet: int) -> str:
    docs = []
    for svc in ("a", "b", "c"):
        docs.append(
            f"""apiVersion: v1
kind: Service
metadata: {{name: {svc}, namespace: default, labels: {{app: {svc}}}}}
spec:
  selector: {{app: {svc}}}
  ports:
  - {{name: http, port: {HTTP_PORT}, targetPort: {HTTP_TARGET}}}
"""
        )
    for pod, app, version, octet in PODS:
        docs.append(
            f"""apiVersion: v1
kind: Pod
metadata:
  name: {pod}
  namespace: default
  labels: {{app: {app}, version: {version}}}
  annotations: {{sidecar.istio.io/inject: "{"true" if app == "a" else "false"}"}}
spec:
  containers:
  - name: app
    ports: [{{containerPort: {HTTP_TARGET}}}]
status: {{phase: Running, podIP: 127.0.{subnet}.{octet}, conditions: [{{type: Ready, status: "True"}}]}}
"""
        )
    return "---\n".join(docs)


#: DestinationRule with subsets v1/v2 for service ``b`` (a YAML document followed by ``---``).
DR_B = """apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: b, namespace: default}
spec:
  host: b
  subsets:
  - {name: v1, labels: {version: v1}}
  - {name: v2, labels: {version: v2}}
---
"""

GATEWAY_OCTET = 5
GATEWAY_PORT = 8080  # ingress Service port 80 -> 8080, as Istio's ingress gateway


def _gateway_yaml(subnet: int) -> str:
    """Istio's ingress gateway workload (Service 80->8080, a Pod labelled ``istio: ingressgateway``)."""
    return f"""apiVersion: v1
kind: Service
metadata: {{name: istio-ingressgateway, namespace: istio-system, labels: {{istio: ingressgateway}}}}
spec:
  selector: {{istio: ingressgateway}}
  ports:
  - {{name: http2, port: 80, targetPort: {GATEWAY_PORT}}}
---
apiVersion: v1
kind: Pod
metadata:
  name: istio-ingressgateway-0
  namespace: istio-system
  labels: {{istio: ingressgateway, app: istio-ingressgateway}}
  annotations: {{sidecar.istio.io/inject: "false"}}
spec:
  containers:
  - name: istio-proxy
    ports: [{{containerPort: {GATEWAY_PORT}}}]
status: {{phase: Running, podIP: 127.0.{subnet}.{GATEWAY_OCTET}, conditions: [{{type: Ready, status: "True"}}]}}
"""


def free_subnet() -> int:
    """A 127.0.N.0/24 whose client address and ports are free right now (tests may run side by side)."""
    for _ in range(50):
        n = random.randint(100, 250)
        ip = f"127.0.{n}.10"
        try:
            with socket.socket() as s:
                s.bind((ip, HTTP_PORT))
            with socket.socket() as s:
                s.bind((ip, 15000))
        except OSError:
            continue
        return n
    raise RuntimeError("no free 127.0.N.0/24 for the behaviour harness")


@dataclass
class Reply:
    """What the client saw: status, response headers, body, and the echo fields when an echo server answered."""

    status: int
    headers: dict[str, str]
    body: str
    elapsed: float
    fields: dict[str, list[str]] = field(default_factory=dict)

    @property
    def hostname(self) -> str:
        """The backend pod that answered (``Hostname`` of the echo reply), or ``""``."""
        return (self.fields.get("Hostname") or [""])[0]

    def seen_header(self, name: str) -> str | None:
        """A request header as the backend received it."""
        return request_headers(self.body).get(name.lower())

    @property
    def url(self) -> str:
        return (self.fields.get("URL") or [""])[0]

    @property
    def host(self) -> str:
        return (self.fields.get("Host") or [""])[0]


class BehaviourMesh:
    """Client sidecar ``a`` + echo backends; see the module docstring."""

    def __init__(
        self,
        subnet: int | None = None,
        delta: bool = True,
        gateway: bool = False,
        mesh_config: str | None = None,
    ) -> None:
        self.delta = delta  # delta xDS, or State of the World
        self.gateway = gateway  # the client is Istio's ingress gateway instead of sidecar ``a``
        self.subnet = subnet if subnet is not None else free_subnet()
        text = _base_yaml(self.subnet) + ("---\n" + _gateway_yaml(self.subnet) if gateway else "")
        self.base: list[Resource] = load_text(text, "<behaviour base>")
        self.echo: dict[str, EchoServer] = {}
        self.source = DemoSource(self.base, mesh_config)
        self.plane = ControlPlane(self.source, "127.0.0.1", 0, 0)
        self.registry = ProcessRegistry()
        self.envoy: EnvoyProcess | None = None
        if gateway:
            self.client_ip = f"127.0.{self.subnet}.{GATEWAY_OCTET}"
            self.node_id = (
                f"router~{self.client_ip}~istio-ingressgateway-0.istio-system~istio-system.svc.cluster.local"
            )
            self.port = GATEWAY_PORT
        else:
            self.client_ip = f"127.0.{self.subnet}.10"
            self.node_id = f"sidecar~{self.client_ip}~a-v1-0.default~default.svc.cluster.local"
            self.port = HTTP_PORT

    # ------------------------------------------------------------------------------------------- lifecycle
    def start(self) -> BehaviourMesh:
        try:
            # failures count per request key across all pods (retries hop pods)
            fails: Counter[str] = Counter()
            lock = threading.Lock()
            for pod, _, version, octet in PODS[1:]:
                ip = f"127.0.{self.subnet}.{octet}"
                self.echo[pod] = EchoServer(
                    pod, ip, HTTP_TARGET, version, fail_counts=fails, lock=lock
                ).start()
            self.plane.start()
            self.plane.serve([self.node_id])
            boot = xds_bootstrap(
                self.node_id, xds_host="127.0.0.1", xds_port=self.plane.server.port, delta=self.delta
            )
            self.envoy = spawn_envoy(
                boot,
                admin_address=self.client_ip,
                admin_port=15000,
                registry=self.registry,
                log_level="error",
                name="a",
            )
            self.envoy.wait_ready(30)
            self.wait_synced()
        except BaseException:
            self.close()
            raise
        return self

    def close(self) -> None:
        self.registry.kill_all()
        self.plane.close()
        for e in self.echo.values():
            e.close()

    def __enter__(self) -> BehaviourMesh:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --------------------------------------------------------------------------------------------- config
    def configure(self, yaml_text: str) -> None:
        """Serve ``a`` the translation of base + ``yaml_text`` and wait until its Envoy ACKed it."""
        extra = load_text(yaml_text, "<case>", start_index=len(self.base)) if yaml_text.strip() else []
        changed = self.plane.replace(self.base + extra)
        for e in self.echo.values():
            e.reset()
        if changed:
            self.wait_synced()

    def wait_synced(self, timeout: float = 15.0) -> None:
        if self.plane.wait_synced([self.node_id], timeout):
            raise AssertionError(
                f"Envoy did not ACK config version {self.plane.version}: {self.plane.node_sync(self.node_id)}"
            )

    # ------------------------------------------------------------------------------------------- requests
    def call(
        self,
        host: str = "b",
        path: str = "/",
        *,
        method: str = "GET",
        headers: dict[str, str] | None = None,
        port: int | None = None,
        timeout: float = 10.0,
        body: bytes | None = None,
    ) -> Reply:
        """One request from app ``a`` through its sidecar, or from outside to the gateway (no redirects followed)."""
        conn = http.client.HTTPConnection(self.client_ip, port or self.port, timeout=timeout)
        t0 = time.monotonic()
        try:
            conn.putrequest(method, path, skip_host=True, skip_accept_encoding=True)
            conn.putheader("Host", host)
            for k, v in (headers or {}).items():
                conn.putheader(k, v)
            if body is not None:
                conn.putheader("Content-Length", str(len(body)))
            conn.endheaders(body)
            resp = conn.getresponse()
            text = resp.read().decode(errors="replace")
            hdrs = {k.lower(): v for k, v in resp.getheaders()}
        finally:
            conn.close()
        elapsed = time.monotonic() - t0
        fields = parse_reply(text) if "Hostname=" in text else {}
        return Reply(resp.status, hdrs, text, elapsed, fields)

    def spread(
        self, n: int, host: str = "b", path: str = "/", headers: dict[str, str] | None = None
    ) -> dict[str, int]:
        """``n`` calls on one keep-alive connection; how many each backend pod (or ``status:<code>``) answered."""
        counts: dict[str, int] = {}
        conn = http.client.HTTPConnection(self.client_ip, self.port, timeout=10)
        try:
            for _ in range(n):
                conn.request("GET", path, headers={"Host": host, **(headers or {})})
                resp = conn.getresponse()
                resp.read()
                key = resp.getheader("x-echo-hostname") or f"status:{resp.status}"
                counts[key] = counts.get(key, 0) + 1
                if resp.getheader("connection", "").lower() == "close":
                    conn.close()
                    conn = http.client.HTTPConnection(self.client_ip, self.port, timeout=10)
        finally:
            conn.close()
        return counts
