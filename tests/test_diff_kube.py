"""``pc diff pod/NAME`` with no -f: the intended config comes from the live cluster (here meshctl's Kubernetes
API emulator), the actual one from the pod's Envoy through a port-forward. A real Envoy is fed by meshctl's xDS
server from the same cluster; after a VirtualService changes in the cluster, the diff shows exactly that."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
from conftest import BOOKINFO, FIXTURES, free_loopback_ip, run_cli

sys.path.insert(0, str(FIXTURES / "pc"))

import pcworld  # noqa: E402

pytestmark = [pytest.mark.envoy, pytest.mark.timeout(120)]




def test_pc_diff_pod_against_the_clusters_own_config(tmp_path: Path) -> None:
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
                    "name": "productpage-v1-0",
                    "namespace": "default",
                    "labels": {"app": "productpage", "version": "v1"},
                },
                "spec": {
                    "serviceAccountName": "bookinfo-productpage",
                    "containers": [{"name": "productpage", "image": "x", "ports": [{"containerPort": 9080}]}],
                },
                "status": {
                    "phase": "Running",
                    "podIP": ip,
                    "conditions": [{"type": "Ready", "status": "True"}],
                },
            }
        ]
    )
    with emu:
        kc = emu.write_kubeconfig(tmp_path / "kubeconfig")
        source = MeshSource([], loopback=True)
        source.mesh = build_mesh(list(load_cluster(kc)))
        cache = SnapshotCache(resolver=source.resolve)
        source.cache = cache
        node = istio_node_id("productpage-v1-0", "default", ip=ip)
        with ServerThread(cache, debug_port=None) as srv:
            envoy = start_envoy(xds_bootstrap(node, xds_port=srv.port), admin_port=free_port())
            try:
                pcworld.wait(
                    lambda: '"dynamic_route_configs"' in envoy.admin_get("/config_dump").decode(),
                    what="config",
                )
                emu.add_port_forward("default", "productpage-v1-0", 15000, ("127.0.0.1", envoy.admin_port))
                argv = ["pc", "diff", "pod/productpage-v1-0", "-n", "default", "--kubeconfig", kc]
                code, out, err = run_cli(argv)
                assert code == 0, out + err
                assert "In sync" in out

                vs = emu.get("virtualservices", "reviews", "default", group="networking.istio.io")
                for d in vs["spec"]["http"][1]["route"]:
                    d["weight"] = 70 if d["destination"]["subset"] == "v1" else 30
                emu.apply([vs])
                code, out, err = run_cli([*argv, "-o", "json"])
                assert code == 1, err
                data = json.loads(out)
                pairs = sorted(
                    {(c["intended"], c["actual"]) for d in data["differences"] for c in d["changes"]}
                )
                assert pairs == [(30, 10), (70, 90)]
                assert {c["owner"] for d in data["differences"] for c in d["changes"]} == {
                    "VirtualService default/reviews"
                }

                # The cluster's MeshConfig (istio ConfigMap) shapes the intended side: REGISTRY_ONLY turns the
                # catch-all virtual host into block_all; --meshconfig overrides the ConfigMap.
                emu.apply([{
                    "apiVersion": "v1", "kind": "ConfigMap",
                    "metadata": {"name": "istio", "namespace": "istio-system"},
                    "data": {"mesh": "outboundTrafficPolicy:\n  mode: REGISTRY_ONLY\n"},
                }])
                code, out, err = run_cli([*argv, "-o", "json"])
                assert code == 1, err
                assert '"block_all"' in out and "allow_any" in out, out[:3000]  # intended block_all, actual allow_any
                allow = tmp_path / "mesh.yaml"
                allow.write_text("outboundTrafficPolicy:\n  mode: ALLOW_ANY\n")
                code, out, err = run_cli([*argv, "-o", "json", "--meshconfig", str(allow)])
                assert code == 1 and "block_all" not in out, out[:3000]
            finally:
                envoy.close()
