"""``meshctl xds serve -f`` end to end: the real CLI process, files -> model -> translator -> ADS, real Envoys.

Mesh (generated per test with free ports, on a random 127.x.y.0/24 so parallel runs do not collide):
Services ``web`` (pods web-v1, web-v2, plain-text backends), ``other`` (one backend) and ``client`` (the pod whose
sidecar is the Envoy under test, in loopback bind mode). A VirtualService routes ``web`` to one subset; the tests
edit that file and watch Envoy follow.
"""

from __future__ import annotations

import http.client
import http.server
import json
import os
import random
import re
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest
from envoy.service.discovery.v3 import discovery_pb2
from test_xds_helpers import Backend, pod_yaml, service_yaml, wait_for

from meshctl.envoy.runner import free_port, start_envoy
from meshctl.xds import types as T
from meshctl.xds.client import AdsClient

pytestmark = [pytest.mark.envoy, pytest.mark.timeout(120)]


def vs_yaml(subset: str, regex: str | None = None) -> str:
    match = (
        f"""  - match:
    - uri: {{regex: "{regex}"}}
    route:
    - destination: {{host: web, subset: v2}}
"""
        if regex
        else ""
    )
    return f"""apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {{name: web, namespace: default}}
spec:
  hosts: [web]
  http:
{match}  - route:
    - destination: {{host: web, subset: {subset}}}
"""


class Mesh:
    """The files, backends and ports of one test."""

    def __init__(self, tmp: Path) -> None:
        self.net = f"127.{random.randint(100, 250)}.{random.randint(1, 250)}"
        self.client_ip = f"{self.net}.10"
        self.web_port, self.other_port, self.client_port = free_port(), free_port(), free_port()
        self.dir = tmp / "mesh"
        self.dir.mkdir()
        docs = [
            pod_yaml("web-v1", "web", f"{self.net}.11", self.web_port, ", version: v1"),
            pod_yaml("web-v2", "web", f"{self.net}.12", self.web_port, ", version: v2"),
            pod_yaml("other-1", "other", f"{self.net}.13", self.other_port),
            pod_yaml("client", "client", self.client_ip, self.client_port, injected=True),
            service_yaml("web", self.web_port),
            service_yaml("other", self.other_port),
            service_yaml("client", self.client_port),
            """apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: web, namespace: default}
spec:
  host: web
  subsets:
  - {name: v1, labels: {version: v1}}
  - {name: v2, labels: {version: v2}}
""",
        ]
        (self.dir / "platform.yaml").write_text("---\n".join(docs))
        self.vs = self.dir / "web-vs.yaml"
        self.write_vs(vs_yaml("v1"))
        self.backends = [
            Backend("web-v1", f"{self.net}.11", self.web_port),
            Backend("web-v2", f"{self.net}.12", self.web_port),
            Backend("other", f"{self.net}.13", self.other_port),
        ]

    def write_vs(self, text: str) -> None:
        tmp = self.vs.with_suffix(".tmp")
        tmp.write_text(text)
        os.replace(tmp, self.vs)  # atomic, like an editor's save

    def get(self, host: str = "web", port: int | None = None) -> str:
        conn = http.client.HTTPConnection(self.client_ip, port or self.web_port, timeout=2)
        try:
            conn.request("GET", "/", headers={"Host": f"{host}.default.svc.cluster.local"})
            return conn.getresponse().read().decode()
        finally:
            conn.close()

    def close(self) -> None:
        for b in self.backends:
            b.close()


class Serve:
    """``meshctl xds serve`` as a real child process (own process group, killed on close)."""

    def __init__(self, mesh: Mesh, log: Path, port: int | None = None) -> None:
        self.port = port or free_port()
        self.debug_port = free_port()
        self.log = log
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "meshctl",
                "xds",
                "serve",
                "-f",
                str(mesh.dir),
                "--port",
                str(self.port),
                "--debug-port",
                str(self.debug_port),
                "--loopback",
            ],
            stdout=subprocess.DEVNULL,
            stderr=open(log, "ab"),
            start_new_session=True,  # noqa: SIM115
        )
        wait_for(self.ready, timeout=30, what="xds serve to listen")

    def ready(self) -> bool:
        if self.proc.poll() is not None:
            raise AssertionError(f"xds serve exited {self.proc.returncode}: {self.log.read_text()}")
        with urllib.request.urlopen(f"http://127.0.0.1:{self.debug_port}/ready", timeout=1) as r:
            return r.status == 200

    def syncz(self) -> list[dict]:
        with urllib.request.urlopen(f"http://127.0.0.1:{self.debug_port}/debug/syncz", timeout=2) as r:
            return json.load(r)

    def statuses(self) -> dict[str, str]:
        data = self.syncz()
        return {k: v["status"] for k, v in data[0]["types"].items()} if len(data) == 1 else {}

    def synced(self) -> bool:
        st = self.statuses()
        return all(st.get(t) == "SYNCED" for t in ("CDS", "EDS", "LDS", "RDS", "SDS"))

    def terminate(self) -> int:
        self.proc.send_signal(signal.SIGTERM)
        return self.proc.wait(timeout=10)

    def close(self) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(5)


@pytest.fixture
def mesh(tmp_path: Path) -> Iterator[Mesh]:
    m = Mesh(tmp_path)
    yield m
    m.close()


def bootstrap(cli, mesh: Mesh, port: int, delta: bool) -> dict:  # type: ignore[no-untyped-def]
    args = [
        "xds",
        "bootstrap",
        "--pod",
        "client",
        "-n",
        "default",
        "--ip",
        mesh.client_ip,
        "--xds-address",
        f"127.0.0.1:{port}",
    ]
    code, out, err = cli([*args, "--delta"] if delta else args)
    assert code == 0, err
    return json.loads(out)


@pytest.mark.slow
@pytest.mark.parametrize("mode", ["sotw", "delta"])
def test_serve_files_hot_reload_nack_and_shutdown(cli, mesh: Mesh, tmp_path: Path, mode: str) -> None:  # type: ignore[no-untyped-def]
    srv = Serve(mesh, tmp_path / "serve.log")
    try:
        with start_envoy(bootstrap(cli, mesh, srv.port, mode == "delta")) as envoy:
            wait_for(lambda: mesh.get() == "web-v1", what="traffic routed to web-v1")
            wait_for(srv.synced, what="every type SYNCED")
            code, out, _ = cli(["ps", "--xds", f"127.0.0.1:{srv.port}"])
            assert code == 0
            assert out.splitlines()[1].split()[:6] == [
                "client.default",
                "Kubernetes",
                "SYNCED",
                "SYNCED",
                "SYNCED",
                "SYNCED",
            ]
            before = {k: v["sent_version"] for k, v in srv.syncz()[0]["types"].items()}

            # Hot reload: a keep-alive connection on the unrelated listener survives, the new route is live < 1 s.
            other = http.client.HTTPConnection(mesh.client_ip, mesh.other_port, timeout=2)
            other.request("GET", "/", headers={"Host": "other.default.svc.cluster.local"})
            assert other.getresponse().read() == b"other"
            sock = other.sock
            t0 = time.monotonic()
            mesh.write_vs(vs_yaml("v2"))
            wait_for(lambda: mesh.get() == "web-v2", timeout=5, what="the edited route")
            elapsed = time.monotonic() - t0
            assert elapsed < 1.0, f"new route took {elapsed:.2f}s"
            other.request("GET", "/", headers={"Host": "other.default.svc.cluster.local"})
            assert other.getresponse().read() == b"other" and other.sock is sock
            other.close()
            wait_for(srv.synced, what="SYNCED after the reload")
            after = {k: v["sent_version"] for k, v in srv.syncz()[0]["types"].items()}
            assert after["RDS"] != before["RDS"]
            assert {t: after[t] for t in ("CDS", "EDS", "LDS", "SDS")} == {
                t: before[t] for t in ("CDS", "EDS", "LDS", "SDS")
            }

            # A file the model rejects: logged with file:line, the old config keeps serving.
            mesh.write_vs(vs_yaml("v2").replace("subset: v2", "subset: [v2]"))
            wait_for(lambda: "reload failed" in srv.log.read_text(), what="the reload error in the log")
            assert "web-vs.yaml:" in srv.log.read_text()
            assert mesh.get() == "web-v2"

            # A config Envoy rejects (RE2 refuses the regex): NACK with Envoy's message, no resend loop.
            mesh.write_vs(vs_yaml("v2", regex="a{2,1}"))
            wait_for(lambda: srv.statuses().get("RDS") == "NACK", what="the RDS NACK")
            code, out, _ = cli(["ps", "--xds", f"127.0.0.1:{srv.port}"])
            assert "NACK: invalid repetition size: {2,1}" in out, out  # RE2's own words, via Envoy
            rds = srv.syncz()[0]["types"]["RDS"]
            time.sleep(1.0)
            assert srv.syncz()[0]["types"]["RDS"]["sent_nonce"] == rds["sent_nonce"]
            assert srv.syncz()[0]["types"]["RDS"]["nacks"] == rds["nacks"]
            assert mesh.get() == "web-v2"
            # ...and a corrected file recovers.
            mesh.write_vs(vs_yaml("v1"))
            wait_for(lambda: mesh.get() == "web-v1", what="recovery route")
            wait_for(srv.synced, what="SYNCED after the fix")

            # Graceful shutdown on SIGTERM; Envoy keeps its last config.
            assert srv.terminate() == 0
            assert "shutting down" in srv.log.read_text()
            assert mesh.get() == "web-v1" and envoy.process.poll() is None
            # A new server on the same port (new CA, new certificates): Envoy reconnects by itself.
            srv = Serve(mesh, tmp_path / "serve2.log", port=srv.port)
            wait_for(srv.synced, timeout=15, what="SYNCED after a server restart")
            assert mesh.get() == "web-v1"
    finally:
        srv.close()


def test_unknown_node_is_refused_with_known_proxies(mesh: Mesh, tmp_path: Path) -> None:
    srv = Serve(mesh, tmp_path / "serve.log")
    try:
        with AdsClient(f"127.0.0.1:{srv.port}") as c:
            req = discovery_pb2.DiscoveryRequest(type_url=T.CLUSTER)
            req.node.id = "sidecar~10.0.0.1~nosuch-7d9f8c6b5-abcde.default~default.svc.cluster.local"
            c.send(req)
            with pytest.raises(grpc.RpcError) as ei:
                c.recv()
        assert ei.value.code() == grpc.StatusCode.NOT_FOUND
        assert "client.default" in ei.value.details()
        wait_for(lambda: "refusing stream" in srv.log.read_text(), what="the log line")
        assert srv.ready()  # still serving
        # A deployment-style pod name (<deploy>-<rs hash>-<pod hash>) of a known workload is accepted.
        with AdsClient(f"127.0.0.1:{srv.port}") as c:
            req = discovery_pb2.DiscoveryRequest(type_url=T.CLUSTER)
            req.node.id = f"sidecar~{mesh.client_ip}~client.default~default.svc.cluster.local"
            c.send(req)
            assert c.recv().resources
    finally:
        srv.close()


#: What ``xds serve`` may write to stderr: its log lines (``<time> <LEVEL> xds: ...``), nothing else.
LOG_LINE = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d (DEBUG|INFO|WARNING|ERROR)\s+\S")


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_signal_with_connected_envoys_is_a_quiet_graceful_exit(cli, mesh, tmp_path, sig):  # type: ignore[no-untyped-def]
    """Ctrl-C / SIGTERM while Envoys hold SotW, delta and SDS streams: exit 0, only log lines on stderr."""
    client2 = pod_yaml("client2", "client2", f"{mesh.net}.14", 8080, injected=True)
    (mesh.dir / "client2.yaml").write_text(client2)
    srv = Serve(mesh, tmp_path / "serve.log")
    boot2 = bootstrap(cli, mesh, srv.port, delta=True)
    boot2["node"]["id"] = boot2["node"]["id"].replace(
        f"~{mesh.client_ip}~client.default~", f"~{mesh.net}.14~client2.default~"
    )
    try:
        with (
            start_envoy(bootstrap(cli, mesh, srv.port, delta=False), admin_port=free_port()) as sotw,
            start_envoy(boot2, admin_port=free_port()) as delta,
        ):

            def both_synced() -> bool:
                rows = srv.syncz()
                types = ("CDS", "RDS", "SDS")
                return len(rows) == 2 and all(
                    r["types"][t]["status"] == "SYNCED" for r in rows for t in types
                )

            wait_for(both_synced, what="both Envoys SYNCED")
            srv.proc.send_signal(sig)
            assert srv.proc.wait(timeout=10) == 0
            err = srv.log.read_text()
            assert "Traceback" not in err and "CancelledError" not in err, err
            assert [ln for ln in err.splitlines() if not LOG_LINE.match(ln)] == [], err
            assert "xds: shutting down" in err
            assert err.count("stream closed") >= 4, err  # ADS sotw + delta, and each Envoy's SDS stream
            assert sotw.process.poll() is None and delta.process.poll() is None  # Envoys keep running
            assert mesh.get() == "web-v1"  # ...with their last config
    finally:
        srv.close()
