"""``meshctl graph -k``: config from a cluster (the repo's Kubernetes API emulator), stats through port-forwards."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import BOOKINFO

from meshctl.testing.kubeapi import KubeEmulator

pytestmark = [pytest.mark.envoy, pytest.mark.timeout(120)]


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[tuple[KubeEmulator, str]]:
    emu = KubeEmulator(controllers=True)
    emu.load([str(BOOKINFO)])
    with emu:
        yield emu, emu.write_kubeconfig(tmp_path / "kubeconfig")


def test_graph_k_reads_cluster_and_port_forwarded_stats(cluster: tuple[KubeEmulator, str], cli) -> None:  # type: ignore[no-untyped-def]
    from meshctl.envoy.runner import start_envoy

    emu, kc = cluster
    pods = [o["metadata"]["name"] for o in emu.store.list(emu.store.types[("", "pods")], "default")[0]]
    with start_envoy({"node": {"id": "sidecar~10.244.0.6~x.default~default.svc.cluster.local"}}) as envoy:
        for name in pods:
            emu.add_port_forward("default", name, 15000, ("127.0.0.1", envoy.admin_port))
        code, out, err = cli(["graph", "-k", "--kubeconfig", kc, "-n", "default", "--interval", "0.2", "--type", "app",
                              "-o", "json"])
    assert code == 0, err
    data = json.loads(out)
    nodes = {n["id"] for n in data["nodes"]}
    assert {"app:default/reviews", "svc:default/reviews", "app:default/productpage"} <= nodes
    edges = {(e["source"], e["target"]): e for e in data["edges"]}
    assert edges[("svc:default/reviews", "app:default/reviews")]["weight"] == 100  # 90 + 10 from the cluster's VS
    assert "warning" not in err


def test_graph_k_rejects_files(cli) -> None:  # type: ignore[no-untyped-def]
    code, _, err = cli(["graph", "-k", "-f", str(BOOKINFO)])
    assert code == 64 and "-k reads config and proxies from the cluster" in err
