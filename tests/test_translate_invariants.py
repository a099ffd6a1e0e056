"""Invariants Envoy itself enforces, checked on every proxy of every example and fixture, in both bind modes.

These run on the translator's xDS output (what `meshctl xds serve` pushes), not only on bootstraps, so a listener
Envoy would reject ("no filter chains specified") fails here even when the bootstrap path hides it.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from envoy.extensions.filters.network.http_connection_manager.v3 import http_connection_manager_pb2 as hcm_pb2

from meshctl.model import build_mesh
from meshctl.sources import load_paths
from meshctl.translate import translate
from tests.conftest import BOOKINFO, FIXTURES

LONELY_POD = """\
apiVersion: v1
kind: Pod
metadata: {name: lonely, namespace: default, labels: {app: lonely}}
spec:
  containers: [{name: app, image: x, ports: [{containerPort: 8080}]}]
status: {podIP: 127.0.0.55}
"""


def _inputs(tmp_path: Path) -> list[tuple[str, list[str]]]:
    lonely = tmp_path / "lonely.yaml"
    lonely.write_text(LONELY_POD)
    cases = [("bookinfo", [str(BOOKINFO)]), ("lonely-pod", [str(lonely)]), ("bookinfo+lonely", [str(BOOKINFO), str(lonely)])]
    for f in sorted((FIXTURES / "translate").glob("*.yaml")):
        if f.name.startswith("meshconfig"):  # a MeshConfig, not resources
            continue
        cases.append((f.name, [str(BOOKINFO), str(f)]))
    return cases


@pytest.mark.parametrize("loopback", [False, True], ids=["istio", "loopback"])
def test_listeners_have_chains_and_references_resolve(tmp_path: Path, loopback: bool) -> None:
    checked = 0
    for case, paths in _inputs(tmp_path):
        try:
            mesh = build_mesh(load_paths(paths))
        except Exception as e:  # a fixture meant to be invalid on its own is not this test's subject
            pytest.fail(f"{case}: does not load: {e}")
        for proxy in mesh.proxies():
            proxy.loopback = loopback
            pc = translate(mesh, proxy)
            names = set()
            for lis in pc.listeners:
                assert lis.name not in names, f"{case} {proxy.id}: duplicate listener {lis.name}"
                names.add(lis.name)
                assert lis.filter_chains or lis.HasField("default_filter_chain"), (
                    f"{case} {proxy.id}: listener {lis.name} has no filter chains (Envoy rejects the LDS update)"
                )
            route_names = {r.name for r in pc.routes}
            for lis in pc.listeners:
                for chain in [*lis.filter_chains, lis.default_filter_chain]:
                    for f in chain.filters:
                        if f.typed_config.type_url.endswith("HttpConnectionManager"):
                            hcm = hcm_pb2.HttpConnectionManager()
                            f.typed_config.Unpack(hcm)
                            if hcm.HasField("rds"):
                                assert hcm.rds.route_config_name in route_names, (
                                    f"{case} {proxy.id}: {lis.name} references missing RDS {hcm.rds.route_config_name!r}"
                                )
            clusters = {c.name for c in pc.clusters}
            assert len(clusters) == len(pc.clusters), f"{case} {proxy.id}: duplicate cluster names"
            for cla in pc.endpoints:
                assert cla.cluster_name in clusters, f"{case} {proxy.id}: EDS for unknown cluster {cla.cluster_name}"
            checked += 1
    assert checked >= 10
