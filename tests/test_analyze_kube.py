"""``meshctl analyze -k``: the live cluster (meshctl's Kubernetes API emulator) with files layered on top."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import BOOKINFO

from meshctl.testing.kubeapi import KubeEmulator

pytestmark = pytest.mark.timeout(60)


@pytest.fixture
def kubeconfig(tmp_path: Path) -> Iterator[str]:
    emu = KubeEmulator()
    emu.load([str(BOOKINFO)])
    emu.apply([{"apiVersion": "networking.istio.io/v1", "kind": "VirtualService", "metadata": {"name": "broken", "namespace": "default"},
                "spec": {"hosts": ["broken"], "http": [{"route": [{"destination": {"host": "nowhere"}}]}]}}])
    with emu:
        yield emu.write_kubeconfig(tmp_path / "kubeconfig")


def test_cluster_then_file_override(cli, kubeconfig: str, tmp_path: Path) -> None:
    code, out, err = cli(["analyze", "-k", "--kubeconfig", kubeconfig, "-o", "json", "--analyzer", "virtualservice", "--analyzer", "meshctl"])
    found = {(m["code"], m["origin"]) for m in json.loads(out)}
    assert ("IST0101", "VirtualService default/broken") in found, err
    assert code == 79
    # the same VirtualService fixed in a file replaces the cluster's copy (and is not a duplicate)
    fix = tmp_path / "fix.yaml"
    fix.write_text("apiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata: {name: broken, namespace: default}\n"
                   "spec:\n  hosts: [broken]\n  http:\n  - route: [{destination: {host: reviews, port: {number: 9080}}}]\n")
    code, out, _ = cli(["analyze", "-k", "--kubeconfig", kubeconfig, "-o", "json", "--analyzer", "virtualservice", "--analyzer", "meshctl", str(fix)])
    found = {(m["code"], m["origin"]) for m in json.loads(out)}
    assert not any(o == "VirtualService default/broken" for _, o in found), found
    assert code == 0


def test_unreachable_cluster_exit_69(cli, tmp_path: Path) -> None:
    kc = tmp_path / "kc"
    kc.write_text("apiVersion: v1\nkind: Config\nclusters: [{name: c, cluster: {server: 'https://127.0.0.1:1'}}]\n"
                  "contexts: [{name: c, context: {cluster: c, user: u}}]\ncurrent-context: c\nusers: [{name: u, user: {token: x}}]\n")
    code, _, err = cli(["analyze", "-k", "--kubeconfig", str(kc)])
    assert code == 69, err
    assert "Traceback" not in err
