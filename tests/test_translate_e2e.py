"""End to end: a real Envoy started from ``meshctl translate -o bootstrap`` of the bookinfo example routes real
HTTP requests exactly as the reviews VirtualService says.

The client is productpage's sidecar in loopback bind mode (its outbound listener really binds
127.0.213.10:9080); the three reviews versions are small Python servers on their pods' loopback IPs
(tests/fixtures/translate/e2e-pods.yaml, layered over the example) that answer with their identity.
"""

from __future__ import annotations

import http.client
import json
import threading
import time
from collections import Counter
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from conftest import BOOKINFO, FIXTURES

CLIENT_IP = "127.0.213.10"
REVIEWS = {"v1": "127.0.213.11", "v2": "127.0.213.12", "v3": "127.0.213.13"}
REQUESTS = 500


class _Identity(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # headers and body in separate writes would otherwise wait on delayed ACKs
    version_name = ""

    def log_message(self, format: str, *args: object) -> None:
        pass

    def do_GET(self) -> None:  # noqa: N802
        body = json.dumps({"version": self.version_name, "host": self.headers.get("Host")}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


@pytest.fixture
def reviews_servers() -> Iterator[dict[str, ThreadingHTTPServer]]:
    servers: dict[str, ThreadingHTTPServer] = {}
    try:
        for version, ip in REVIEWS.items():
            handler = type(f"Reviews{version}", (_Identity,), {"version_name": version})
            srv = ThreadingHTTPServer((ip, 9080), handler)
            srv.daemon_threads = True
            threading.Thread(target=srv.serve_forever, daemon=True).start()
            servers[version] = srv
        yield servers
    finally:
        for srv in servers.values():
            srv.shutdown()
            srv.server_close()


def _wait_listening(ip: str, port: int, timeout: float = 10.0) -> None:
    import socket

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection((ip, port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)
    raise AssertionError(f"nothing listens on {ip}:{port}")


def _get(conn: http.client.HTTPConnection, headers: dict[str, str]) -> str:
    conn.request("GET", "/reviews/0", headers={"Host": "reviews:9080", **headers})
    resp = conn.getresponse()
    body = resp.read()
    assert resp.status == 200, (resp.status, body[:200])
    return str(json.loads(body)["version"])


@pytest.mark.timeout(60)
def test_bookinfo_bootstrap_routes_real_traffic(
    envoy_bin: str, free_port: int, reviews_servers: object
) -> None:
    from meshctl.envoy.runner import start_envoy
    from meshctl.model import build_mesh
    from meshctl.sources import load_paths
    from meshctl.translate import translate
    from meshctl.translate.bootstrap import bootstrap

    mesh = build_mesh(load_paths([str(BOOKINFO), str(FIXTURES / "translate" / "e2e-pods.yaml")]))
    proxy = mesh.proxy("pod/productpage-v1-0")
    proxy.loopback = True
    config = bootstrap(translate(mesh, proxy), admin_port=free_port)

    with start_envoy(config, admin_port=free_port, ready_timeout=20) as envoy:
        _wait_listening(CLIENT_IP, 9080)
        conn = http.client.HTTPConnection(CLIENT_IP, 9080, timeout=5)
        try:
            # the VS's first rule: end-user: jason always reaches v2
            jason = Counter(_get(conn, {"end-user": "jason"}) for _ in range(50))
            assert jason == Counter({"v2": 50})
            # everyone else: 90% v1, 10% v3, never v2
            split = Counter(_get(conn, {}) for _ in range(REQUESTS))
        finally:
            conn.close()
        stats = envoy.admin_get("/stats?filter=upstream_rq_total").decode()
    assert set(split) <= {"v1", "v3"}, split
    frac_v3 = split["v3"] / REQUESTS
    assert abs(frac_v3 - 0.10) < 0.05, split  # binomial sd ~1.3%: a >3.5 sd tolerance
    # Envoy's own counters agree: the subset clusters (named as Istio names them) carried the requests
    totals = {
        line.split(":")[0]: int(line.split(":")[1]) for line in stats.splitlines() if "|reviews." in line
    }
    by_subset = {v: sum(n for k, n in totals.items() if f"|{v}|reviews." in k) for v in ("v1", "v2", "v3")}
    assert by_subset == {"v1": split["v1"], "v2": 50, "v3": split["v3"]}, (by_subset, stats)


@pytest.mark.timeout(60)
def test_bookinfo_gateway_bootstrap_routes_real_traffic(envoy_bin: str, free_port: int) -> None:
    """The ingress gateway's bootstrap (loopback mode): the Gateway's port 80 is the pod's 8080, the bookinfo
    VS routes /productpage and /static* to productpage, anything else gets Envoy's 404 (no route)."""
    from meshctl.envoy.runner import start_envoy
    from meshctl.model import build_mesh
    from meshctl.sources import load_paths
    from meshctl.translate import translate
    from meshctl.translate.bootstrap import bootstrap

    mesh = build_mesh(load_paths([str(BOOKINFO), str(FIXTURES / "translate" / "e2e-gateway-pods.yaml")]))
    proxy = mesh.proxy("pod/istio-ingressgateway-0", "istio-system")
    proxy.loopback = True
    config = bootstrap(translate(mesh, proxy), admin_port=free_port)
    handler = type("Productpage", (_Identity,), {"version_name": "productpage"})
    srv = ThreadingHTTPServer(("127.0.213.21", 9080), handler)
    srv.daemon_threads = True
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    try:
        with start_envoy(config, admin_port=free_port, ready_timeout=20):
            _wait_listening("127.0.213.20", 8080)
            conn = http.client.HTTPConnection("127.0.213.20", 8080, timeout=5)
            try:
                for path in ("/productpage", "/static/css/x.css", "/api/v1/products/1"):
                    conn.request("GET", path, headers={"Host": "bookinfo.example.com"})
                    resp = conn.getresponse()
                    body = json.loads(resp.read())
                    assert resp.status == 200 and body["version"] == "productpage", (path, resp.status, body)
                conn.request("GET", "/admin", headers={"Host": "bookinfo.example.com"})
                resp = conn.getresponse()
                resp.read()
                assert resp.status == 404  # no VS route: Envoy answers 404 NR
            finally:
                conn.close()
    finally:
        srv.shutdown()
        srv.server_close()


REDIRECT_VS = """apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: details, namespace: default}
spec:
  hosts: [details]
  http:
  - match: [{uri: {prefix: /foo/}}]
    redirect: {prefixRewrite: /new/}
  - match: [{uri: {exact: /whole}}]
    redirect: {uri: /replaced, redirectCode: 302}
  - route: [{destination: {host: details}}]
"""


@pytest.mark.timeout(60)
def test_redirect_prefix_rewrite_in_real_envoy(
    cli: Any, envoy_bin: str, free_port: int, tmp_path: Path
) -> None:
    """VS-12 of the routing spec: ``redirect.prefixRewrite`` replaces only the matched prefix. The bootstrap
    comes from ``meshctl translate -o bootstrap``; Envoy answers the redirect itself (no upstream needed)."""
    from meshctl.envoy.runner import start_envoy

    (tmp_path / "vs.yaml").write_text(REDIRECT_VS)
    code, out, err = cli(
        [
            "translate",
            "-f", str(BOOKINFO),
            "-f", str(FIXTURES / "translate" / "e2e-pods.yaml"),
            "-f", str(tmp_path / "vs.yaml"),
            "--proxy", "pod/productpage-v1-0",
            "--loopback",
            "-o", "bootstrap",
            "--admin-port", str(free_port),
        ]
    )  # fmt: skip
    assert code == 0, err
    with start_envoy(json.loads(out), admin_port=free_port, ready_timeout=20):
        _wait_listening(CLIENT_IP, 9080)
        conn = http.client.HTTPConnection(CLIENT_IP, 9080, timeout=5)
        try:
            got = {}
            for path in ("/foo/bar", "/foo/a/b?x=1", "/whole"):
                conn.request("GET", path, headers={"Host": "details:9080"})
                resp = conn.getresponse()
                resp.read()
                got[path] = (resp.status, resp.getheader("Location"))
        finally:
            conn.close()
    assert got == {
        "/foo/bar": (301, "http://details:9080/new/bar"),
        "/foo/a/b?x=1": (301, "http://details:9080/new/a/b?x=1"),
        "/whole": (302, "http://details:9080/replaced"),
    }
