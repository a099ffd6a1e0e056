"""``describe pod`` against a live cluster (meshctl's Kubernetes API emulator): objects from the API server, the
pod's DestinationRule/VirtualService from its real Envoy through a port-forward."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from conftest import BOOKINFO, FIXTURES, free_loopback_ip, run_cli

sys.path.insert(0, str(FIXTURES / "pc"))

import pcworld  # noqa: E402

pytestmark = [pytest.mark.envoy, pytest.mark.timeout(120)]




def _pod(name: str, ns: str, labels: dict[str, str]) -> dict[str, object]:
    """A running pod whose IP the emulator cannot forward to (its Envoy is unreachable)."""
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "namespace": ns, "labels": labels},
        "spec": {"containers": [{"name": "istio-proxy", "image": "x"}]},
        "status": {"phase": "Running", "podIP": "10.244.9.9"},
    }


def test_describe_pod_live(tmp_path: Path) -> None:
    from meshctl.envoy.runner import free_port, start_envoy
    from meshctl.model import build_mesh
    from meshctl.sources.kubernetes import load_cluster
    from meshctl.testing.kubeapi import KubeEmulator
    from meshctl.xds.bootstrap import istio_node_id, xds_bootstrap
    from meshctl.xds.cache import SnapshotCache
    from meshctl.xds.runtime import ServerThread
    from meshctl.xds.source import MeshSource

    ip = free_loopback_ip()
    emu = KubeEmulator()
    emu.load([str(BOOKINFO)])
    emu.apply(
        [
            {
                "apiVersion": "v1",
                "kind": "Pod",
                "metadata": {
                    "name": "reviews-v1-0",
                    "namespace": "default",
                    "labels": {"app": "reviews", "version": "v1"},
                },
                "spec": {
                    "containers": [{"name": "reviews", "image": "x", "ports": [{"containerPort": 9080}]}]
                },
                "status": {"phase": "Running", "podIP": ip},
            },
            _pod("istio-ingressgateway-0", "istio-system", {"app": "istio-ingressgateway", "istio": "ingressgateway"}),
            _pod("ratings-v1-0", "default", {"app": "ratings", "version": "v1"}),
        ]
    )
    with emu:
        kc = emu.write_kubeconfig(tmp_path / "kubeconfig")
        source = MeshSource([], loopback=True)
        source.mesh = build_mesh(list(load_cluster(kc)))
        cache = SnapshotCache(resolver=source.resolve)
        with ServerThread(cache, debug_port=None) as srv:
            envoy = start_envoy(
                xds_bootstrap(istio_node_id("reviews-v1-0", "default", ip=ip), xds_port=srv.port),
                admin_port=free_port(),
            )
            try:
                pcworld.wait(
                    lambda: '"dynamic_route_configs"' in envoy.admin_get("/config_dump").decode(),
                    what="config",
                )
                emu.add_port_forward("default", "reviews-v1-0", 15000, ("127.0.0.1", envoy.admin_port))
                code, out, err = run_cli(
                    ["describe", "pod", "reviews-v1-0", "-n", "default", "--kubeconfig", kc]
                )
                code_own, _, err_own = run_cli(
                    ["describe", "pod", "ratings-v1-0", "-n", "default", "--kubeconfig", kc]
                )
                # the cluster's MeshConfig applies: its rootNamespace makes a PeerAuthentication there mesh-wide
                emu.apply([
                    {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "istio", "namespace": "istio-system"},
                     "data": {"mesh": "rootNamespace: mesh-root\n"}},
                    {"apiVersion": "security.istio.io/v1", "kind": "PeerAuthentication",
                     "metadata": {"name": "default", "namespace": "mesh-root"}, "spec": {"mtls": {"mode": "STRICT"}}},
                ])
                _, out_root, err_root = run_cli(
                    ["describe", "pod", "reviews-v1-0", "-n", "default", "--kubeconfig", kc]
                )
                mc = tmp_path / "mesh.yaml"
                mc.write_text("rootNamespace: istio-system\n")
                _, out_override, _ = run_cli(
                    ["describe", "pod", "reviews-v1-0", "-n", "default", "--kubeconfig", kc, "--meshconfig", str(mc)]
                )
            finally:
                envoy.close()
    assert code == 0, err
    assert out.startswith("Pod: reviews-v1-0\n")
    assert (
        'DestinationRule: reviews for "reviews"\n   Matching subsets: v1\n      (Non-matching subsets v2,v3)'
        in out
    )
    assert 'VirtualService: reviews\n   Route to host "reviews" subset "v1" with weight 90%' in out
    assert "Effective PeerAuthentication:\n   Workload mTLS mode: PERMISSIVE" in out
    # the ingress gateway's Envoy is unreachable (no forward target): istioctl's note, not an abort
    assert (
        "Skipping Gateway information (port-forward to istio-system/istio-ingressgateway-0:15000 failed: "
        in out
    ), out
    assert "Workload mTLS mode: STRICT" in out_root, out_root + err_root
    assert "Applied PeerAuthentication:\n   default.mesh-root" in out_root, out_root
    assert "Workload mTLS mode: PERMISSIVE" in out_override, out_override  # --meshconfig overrides the ConfigMap
    # the described pod's own Envoy unreachable is the error, named by pod and port
    assert code_own == 69 and "port-forward to default/ratings-v1-0:15000 failed: " in err_own, err_own
