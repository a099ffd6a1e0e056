"""TLS and mTLS on the ADS port: a real Envoy with a client certificate syncs, proxy-status connects with
--ca/--cert/--key, and a client without a certificate is refused. Certificates come from meshctl's MeshCA.
"""

from __future__ import annotations

import time
from pathlib import Path

import grpc
import pytest

from meshctl.envoy.runner import start_envoy
from meshctl.xds import samples as S
from meshctl.xds.bootstrap import ClientTls, istio_node_id, xds_bootstrap
from meshctl.xds.cache import SnapshotCache
from meshctl.xds.certs import MeshCA
from meshctl.xds.client import fetch_syncz
from meshctl.xds.runtime import ServerThread
from meshctl.xds.server import TlsFiles
from meshctl.xds.snapshot import Snapshot

NODE = istio_node_id("tls-1", "default")


@pytest.mark.envoy
@pytest.mark.timeout(60)
def test_mtls_xds_with_envoy_and_proxy_status(tmp_path: Path, cli, free_port: int) -> None:  # type: ignore[no-untyped-def]
    ca = MeshCA()
    files = {}
    for name, (cert, key) in {
        "server": ca.server_cert(["127.0.0.1", "localhost"]),
        "client": ca.workload_cert("default", "tls"),
    }.items():
        (tmp_path / f"{name}.pem").write_bytes(cert)
        (tmp_path / f"{name}-key.pem").write_bytes(key)
        files[name] = (str(tmp_path / f"{name}.pem"), str(tmp_path / f"{name}-key.pem"))
    (tmp_path / "ca.pem").write_bytes(ca.root_pem)
    ca_path = str(tmp_path / "ca.pem")

    cache = SnapshotCache()
    cache.set_snapshot(
        NODE,
        Snapshot.build(
            "v1",
            clusters=[S.cluster("a")],
            endpoints=[S.load_assignment("a", [("127.0.0.1", 9)])],
            listeners=[S.http_listener("http", free_port, "r")],
            routes=[S.route_config("r", [("/", "a")])],
        ),
    )
    tls = TlsFiles(files["server"][0], files["server"][1], client_ca=ca_path)
    with ServerThread(cache, tls=tls) as srv:
        boot = xds_bootstrap(
            NODE, xds_port=srv.port, tls=ClientTls(ca_path, files["client"][0], files["client"][1])
        )
        with start_envoy(boot):
            deadline = time.monotonic() + 15
            while time.monotonic() < deadline:
                code, out, err = cli(
                    [
                        "ps",
                        "--xds",
                        f"127.0.0.1:{srv.port}",
                        "--ca",
                        ca_path,
                        "--cert",
                        files["client"][0],
                        "--key",
                        files["client"][1],
                    ]
                )
                if code == 0 and out.count("SYNCED") == 4:
                    break
                time.sleep(0.1)
            assert code == 0 and out.count("SYNCED") == 4, (out, err)
            assert srv.status.proxies()[0].peer.startswith("ipv4:127.0.0.1")
        # Without a client certificate the handshake fails: the server is unreachable for that client.
        creds = grpc.ssl_channel_credentials(ca.root_pem)
        with pytest.raises(Exception) as ei:
            fetch_syncz(f"127.0.0.1:{srv.port}", timeout=3, credentials=creds)
        assert "127.0.0.1" in str(ei.value)
