"""Two sidecars served by the file-backed server talk mTLS with the certificates our SDS hands out.

client app -> client sidecar (outbound listener) -> mTLS (SDS ``default``/``ROOTCA`` from meshctl's CA) -> web
sidecar (loopback inbound port) -> web app. Everything real: the model, the translator in loopback bind mode,
the ADS + SDS server and two Envoys.
"""

from __future__ import annotations

import http.client
import random
from pathlib import Path

import pytest
from test_xds_helpers import Backend, pod_yaml, service_yaml, wait_for

from meshctl.envoy.runner import start_envoy
from meshctl.translate.listener import loopback_app_address
from meshctl.xds.bootstrap import istio_node_id, xds_bootstrap
from meshctl.xds.cache import SnapshotCache
from meshctl.xds.runtime import ServerThread
from meshctl.xds.source import MeshSource

pytestmark = [pytest.mark.envoy, pytest.mark.timeout(90)]


def test_sidecar_to_sidecar_mtls_with_served_certificates(tmp_path: Path) -> None:
    net = f"127.{random.randint(100, 250)}.{random.randint(1, 250)}"
    client_ip, web_ip = f"{net}.10", f"{net}.11"
    port = random.randint(20000, 30000)  # below the ephemeral range: not taken by outgoing connections
    (tmp_path / "mesh.yaml").write_text(
        "---\n".join(
            [
                pod_yaml("client", "client", client_ip, port + 1, injected=True),
                pod_yaml("web-v1", "web", web_ip, port, injected=True),
                service_yaml("client", port + 1),
                service_yaml("web", port),
            ]
        )
    )
    source = MeshSource([str(tmp_path)], loopback=True)
    source.load()
    cache = SnapshotCache(resolver=source.resolve)
    source.cache = cache
    app_ip, app_port = loopback_app_address(web_ip, port)
    backend = Backend("web-v1", app_ip, app_port)
    client_node = istio_node_id("client", "default", client_ip)
    web_node = istio_node_id("web-v1", "default", web_ip)
    try:
        with (
            ServerThread(cache) as srv,
            start_envoy(xds_bootstrap(web_node, xds_port=srv.port)) as web,
            start_envoy(xds_bootstrap(client_node, xds_port=srv.port)) as client,
        ):

            def get() -> str:
                conn = http.client.HTTPConnection(client_ip, port, timeout=2)
                try:
                    conn.request("GET", "/", headers={"Host": f"web.default.svc.cluster.local:{port}"})
                    return conn.getresponse().read().decode()
                finally:
                    conn.close()

            wait_for(lambda: get() == "web-v1", timeout=20, what="client -> web through both sidecars")
            # Both proxies got their identity over SDS and every type is in sync.
            for node in (client_node, web_node):
                st = next(c for c in srv.status.to_json() if c["node_id"] == node)
                assert {k: v["status"] for k, v in st["types"].items()} == dict.fromkeys(
                    ("CDS", "EDS", "LDS", "RDS", "SDS"), "SYNCED"
                )
            # The hop between the sidecars was TLS, verified against our CA (handshakes on both ends).
            stats = client.admin_get(f"/stats?filter=cluster.outbound.{port}..web.*ssl.handshake").decode()
            assert any(int(line.rsplit(":", 1)[1]) > 0 for line in stats.splitlines()), stats
            certs = web.admin_get("/certs").decode()
            assert "spiffe://cluster.local/ns/default/sa/default" in certs
    finally:
        backend.close()
