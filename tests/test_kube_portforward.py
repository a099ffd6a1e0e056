"""Port-forward through the emulator's pods/portforward to a real Envoy admin (and an istiod-like debug server)."""

from __future__ import annotations

import json
import threading
import urllib.request
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from meshctl.envoy.runner import EnvoyProcess, start_envoy
from meshctl.sources.kubernetes import (
    KubeApiError,
    KubeForbiddenError,
    istiod_debug,
    open_admin,
)
from meshctl.testing.kubeapi import FORWARD_ANNOTATION, KubeEmulator

MINIMAL_BOOTSTRAP = {"node": {"id": "sidecar~10.244.0.7~productpage-v1-0.default~default.svc.cluster.local", "cluster": "productpage.default"}}


def pod(name: str, ns: str = "default", labels: dict | None = None, annotations: dict | None = None) -> dict:
    return {"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": name, "namespace": ns, "labels": labels or {}, "annotations": annotations or {}},
            "spec": {"containers": [{"name": "istio-proxy", "image": "envoy"}]},
            "status": {"phase": "Running", "podIP": "10.244.0.7"}}


@pytest.fixture(scope="module")
def envoy() -> Iterator[EnvoyProcess]:
    with start_envoy(MINIMAL_BOOTSTRAP) as ep:
        ep.wait_ready(30)
        yield ep


@pytest.fixture
def emu() -> Iterator[KubeEmulator]:
    with KubeEmulator() as e:
        yield e


@pytest.mark.envoy
def test_open_admin_reaches_real_envoy_server_info(emu: KubeEmulator, envoy: EnvoyProcess, tmp_path: Path) -> None:
    emu.apply([pod("productpage-v1-0")])
    emu.add_port_forward("default", "productpage-v1-0", 15000, ("127.0.0.1", envoy.admin_port))
    kc = emu.write_kubeconfig(tmp_path / "kc")
    with open_admin("pod/productpage-v1-0", "default", kubeconfig=kc) as pf:
        assert pf.base_url.startswith("http://127.0.0.1:")
        info = json.loads(urllib.request.urlopen(pf.base_url + "/server_info", timeout=10).read())
        assert info["state"] == "LIVE"
        assert info["node"]["id"] == MINIMAL_BOOTSTRAP["node"]["id"]
        # several connections in parallel, and a large body (config_dump) arrive intact
        direct = envoy.admin_get("/config_dump")
        results: list[bytes] = []

        def fetch() -> None:
            results.append(urllib.request.urlopen(pf.base_url + "/config_dump", timeout=10).read())

        threads = [threading.Thread(target=fetch) for _ in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(20)
        assert len(results) == 4
        assert all(json.loads(r)["configs"][0]["bootstrap"]["node"]["id"] == MINIMAL_BOOTSTRAP["node"]["id"] for r in results)
        assert all(len(r) == len(direct) for r in results)
    assert any(p.endswith("/pods/productpage-v1-0/portforward") for _, p, _ in emu.requests)


@pytest.mark.envoy
def test_forward_annotation_maps_a_pod_port(emu: KubeEmulator, envoy: EnvoyProcess, tmp_path: Path) -> None:
    emu.apply([pod("reviews-v1-0", annotations={f"{FORWARD_ANNOTATION}15000": f"127.0.0.1:{envoy.admin_port}"})])
    with open_admin("reviews-v1-0", "default", kubeconfig=emu.write_kubeconfig(tmp_path / "kc")) as pf:
        assert urllib.request.urlopen(pf.base_url + "/ready", timeout=10).read().strip() == b"LIVE"


def test_port_forward_errors(emu: KubeEmulator, tmp_path: Path) -> None:
    kc = emu.write_kubeconfig(tmp_path / "kc")
    with pytest.raises(KubeApiError) as ei:
        open_admin("nope", "default", kubeconfig=kc)
    assert 'pods "nope" not found' in str(ei.value)
    emu.apply([pod("p")])
    emu.deny("create", "pods/portforward", "")
    with pytest.raises(KubeForbiddenError) as ei:
        open_admin("p", "default", kubeconfig=kc)
    assert 'create pods/portforward in namespace "default"' in str(ei.value) and ei.value.exit_code == 77


def test_pod_without_a_forward_target_names_pod_and_port(emu: KubeEmulator, tmp_path: Path, cli) -> None:  # type: ignore[no-untyped-def]
    """The API server accepts the port-forward but the pod's port is unreachable: the error names the pod and
    port (like istioctl), never the random local port, exit 69 -- in the library and through proxy-config."""
    from meshctl.sources.kubernetes.portforward import PortForwardError

    emu.apply([pod("productpage-v1-0")])  # pod IP 10.244.0.7: the emulator has nowhere to forward 15000
    kc = emu.write_kubeconfig(tmp_path / "kc")
    from meshctl.envoy.admin import Target

    with pytest.raises(PortForwardError) as ei:
        Target(pod="productpage-v1-0", namespace="default", kubeconfig=kc).config_dump()
    assert ei.value.exit_code == 69
    assert ei.value.message.startswith("port-forward to default/productpage-v1-0:15000 failed: error forwarding port 15000")
    code, out, err = cli(["pc", "cluster", "pod/productpage-v1-0", "-n", "default", "--kubeconfig", kc])
    assert code == 69, (out, err)
    assert "port-forward to default/productpage-v1-0:15000 failed: " in err and "127.0.0.1:" not in err


def test_istiod_debug_through_port_forward(emu: KubeEmulator, tmp_path: Path) -> None:
    class Debug(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802
            body = json.dumps([{"proxy": "productpage-v1-0.default", "path": self.path}]).encode()
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *a: object) -> None:
            pass

    srv = ThreadingHTTPServer(("127.0.0.1", 0), Debug)
    t = threading.Thread(target=srv.serve_forever, daemon=True)
    t.start()
    try:
        emu.apply([pod("istiod-abc", ns="istio-system", labels={"app": "istiod"})])
        emu.add_port_forward("istio-system", "istiod-abc", 15014, ("127.0.0.1", srv.server_address[1]))
        data = json.loads(istiod_debug("/debug/syncz", kubeconfig=emu.write_kubeconfig(tmp_path / "kc")))
        assert data == [{"proxy": "productpage-v1-0.default", "path": "/debug/syncz"}]
    finally:
        srv.shutdown()
        srv.server_close()


def test_no_istiod_is_a_clear_error(emu: KubeEmulator, tmp_path: Path) -> None:
    with pytest.raises(KubeApiError) as ei:
        istiod_debug("/debug/syncz", kubeconfig=emu.write_kubeconfig(tmp_path / "kc"))
    assert "no running istiod pod (label app=istiod) in namespace istio-system" in str(ei.value)
