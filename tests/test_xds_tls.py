"""TLS and mTLS on the ADS port: a real Envoy with a client certificate syncs, proxy-status connects with
--ca/--cert/--key, and a client without a certificate is refused. Certificates come from meshctl's MeshCA.
"""

from __future__ import annotations

import socket
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


@pytest.fixture(scope="module")
def pem_files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """Real PEM files from MeshCA (a server cert with its key, another key, the CA) and a YAML file."""
    d = tmp_path_factory.mktemp("pem")
    ca = MeshCA()
    cert, key = ca.server_cert(["127.0.0.1"])
    other_key = ca.server_cert(["127.0.0.1"])[1]
    files = {"cert": cert, "key": key, "other_key": other_key, "ca": ca.root_pem}
    files["yaml"] = (
        b"apiVersion: v1\nkind: Service\nmetadata: {name: s, namespace: default}\nspec: {ports: [{port: 80}]}\n"
    )
    for name, data in files.items():
        (d / name).write_bytes(data)
    return {name: str(d / name) for name in files}


# (command line with {file} placeholders, expected error with placeholders)
BAD_TLS = {
    "serve-cert-not-pem": (
        "xds serve -f {yaml} --tls-cert {yaml} --tls-key {key}",
        "Error: {yaml}: not a PEM certificate",
    ),
    "serve-key-not-pem": (
        "xds serve -f {yaml} --tls-cert {cert} --tls-key {cert}",
        "Error: {cert}: not a PEM private key",
    ),
    "serve-key-mismatch": (
        "xds serve -f {yaml} --tls-cert {cert} --tls-key {other_key}",
        "Error: {other_key}: the private key does not match the certificate in {cert}",
    ),
    "serve-client-ca-not-pem": (
        "xds serve -f {yaml} --tls-cert {cert} --tls-key {key} --client-ca {key}",
        "Error: {key}: not a PEM certificate",
    ),
    "ps-ca-not-pem": ("ps --xds 127.0.0.1:1 --ca {yaml}", "Error: {yaml}: not a PEM certificate"),
    "ps-key-mismatch": (
        "ps --xds 127.0.0.1:1 --ca {ca} --cert {cert} --key {other_key}",
        "Error: {other_key}: the private key does not match the certificate in {cert}",
    ),
    "bootstrap-ca-not-pem": ("xds bootstrap --pod p --ca {yaml}", "Error: {yaml}: not a PEM certificate"),
}


@pytest.mark.parametrize("case", BAD_TLS.values(), ids=BAD_TLS.keys())
def test_bad_pem_files_are_named_before_grpc_starts(cli, pem_files, capfd, case) -> None:  # type: ignore[no-untyped-def]
    args, expected = (s.format(**pem_files) for s in case)
    code, out, err = cli(args.split())
    assert (code, err.strip()) == (65, expected)
    assert out == ""
    native = capfd.readouterr().err  # gRPC's C++ log goes straight to fd 2: nothing may reach it
    assert "ssl" not in native and "TSI_" not in native, native


def test_listen_errors_say_why(cli, pem_files) -> None:  # type: ignore[no-untyped-def]
    # 192.0.2.1 is TEST-NET-1 (RFC 5737): never an address of this host; binding it fails locally, no traffic.
    code, _, err = cli(["xds", "serve", "-f", pem_files["yaml"], "--address", "192.0.2.1", "--port", "0"])
    assert code == 69
    assert err.splitlines()[0] == "Error: cannot listen on 192.0.2.1:0: address not available on this host"
    assert "another" not in err  # not the port-in-use hint
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        code, _, err = cli(["xds", "serve", "-f", pem_files["yaml"], "--port", str(port)])
    assert code == 69
    assert err.splitlines() == [
        f"Error: cannot listen on 127.0.0.1:{port}: address already in use",
        "  hint: another `meshctl xds serve` (or istiod) may be running; pick another --port",
    ]
