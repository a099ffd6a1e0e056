"""``pc diff`` and the live ``--admin`` views against a real Envoy fed by meshctl's ADS server.

1. Hand-built Istio-shaped resources (tests/fixtures/pc/pcworld.py): the views over ``--admin`` equal the
   views of a saved dump; the diff of the proxy against the intended dump that produced it is empty; an
   intended change shows up as exactly the changed fields, owned by the VirtualService; a push converges.
2. The real scenario: bookinfo YAML -> model -> translator -> xDS server -> Envoy (loopback bind mode), then
   ``pc diff --admin URL -f bookinfo/`` reports nothing, and after editing the VirtualService weights it
   reports exactly those weights and exits 1.
"""

from __future__ import annotations

import json
import shutil
import socket
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from conftest import BOOKINFO, FIXTURES, free_loopback_ip, run_cli

sys.path.insert(0, str(FIXTURES / "pc"))

import pcworld  # noqa: E402

from meshctl.envoy.runner import free_port  # noqa: E402

pytestmark = [pytest.mark.envoy, pytest.mark.timeout(120)]


@pytest.fixture(scope="module")
def world() -> Iterator[Any]:
    res = pcworld.resources(outbound_port=free_port(), inbound_port=free_port())
    pc = pcworld.proxy_config(res)
    with pcworld.running(pc) as w:
        w.res = res
        w.pc = pc
        yield w


def _intended(tmp_path: Path, pc: Any, name: str = "intended.json") -> str:
    path = tmp_path / name
    path.write_text(pcworld.intended_dump_json(pc))
    return str(path)


@pytest.mark.parametrize("sub", ["cluster", "listener", "route", "eds", "bootstrap"])
def test_admin_view_equals_saved_dump_view(world: Any, tmp_path: Path, sub: str) -> None:
    dump = tmp_path / "dump.json"
    dump.write_text(world.dump())
    extra = ["-o", "short"] if sub == "bootstrap" else []
    live = run_cli(["pc", sub, "--admin", world.envoy.admin_url, *extra])
    saved = run_cli(["pc", sub, "--file", str(dump), *extra])
    assert live[0] == saved[0] == 0, live[2]
    assert live[1] == saved[1]
    assert live[1].count("\n") >= 3


def test_admin_endpoint_shows_runtime_health(world: Any) -> None:
    code, out, err = run_cli(
        [
            "pc",
            "endpoint",
            "--admin",
            world.envoy.admin_url,
            "--cluster",
            "outbound|9080|v2|reviews.default.svc.cluster.local",
        ]
    )
    assert code == 0, err
    assert out.splitlines()[1].split() == [
        "127.0.0.1:19085",
        "HEALTHY",
        "OK",
        "outbound|9080|v2|reviews.default.svc.cluster.local",
    ]


def test_admin_log_levels_read_only(world: Any) -> None:
    code, out, _ = run_cli(["pc", "log", "--admin", world.envoy.admin_url])
    assert code == 0
    assert "(all): warning" in out  # start_envoy runs with -l warning


def test_diff_in_sync_with_the_config_that_produced_it(world: Any, tmp_path: Path) -> None:
    code, out, err = run_cli(
        ["pc", "diff", "--admin", world.envoy.admin_url, "--file", _intended(tmp_path, world.pc)]
    )
    assert code == 0, out + err
    assert "In sync" in out


def test_diff_reports_exactly_the_changed_weights(world: Any, tmp_path: Path) -> None:
    changed = pcworld.proxy_config(pcworld.resources(outbound_port=0, inbound_port=0, weights=(50, 50)))
    # keep the bound ports of the running listeners so only the weights differ
    for lis, live in zip(changed.listeners, world.pc.listeners, strict=True):
        lis.address.CopyFrom(live.address)
    code, out, err = run_cli(
        ["pc", "diff", "--admin", world.envoy.admin_url, "--file", _intended(tmp_path, changed), "-o", "json"]
    )
    assert code == 1, err
    data = json.loads(out)
    assert [(d["type"], d["name"], d["status"]) for d in data["differences"]] == [
        ("route", "9080", "changed")
    ]
    changes = data["differences"][0]["changes"]
    assert [(c["path"].rsplit("clusters", 1)[1], c["intended"], c["actual"]) for c in changes] == [
        ("[outbound|9080|v1|reviews.default.svc.cluster.local].weight", 50, 90),
        ("[outbound|9080|v3|reviews.default.svc.cluster.local].weight", 50, 10),
    ]
    assert all(c["owner"] == "VirtualService default/reviews" for c in changes)
    assert all(
        "vhost" not in c["path"]
        and c["path"].startswith("virtual_hosts[reviews.default.svc.cluster.local:9080].routes[1]")
        for c in changes
    )
    code, text, _ = run_cli(
        ["pc", "diff", "--admin", world.envoy.admin_url, "--file", _intended(tmp_path, changed)]
    )
    assert (
        "route 9080 / vhost reviews.default.svc.cluster.local:9080 / route[1].route.weighted_clusters" in text
    )
    assert "intended 50, actual 90" in text and "[VirtualService default/reviews]" in text
    assert text.rstrip().endswith("Drift: 1 changed, 0 missing, 0 extra (22 resources compared)")


def test_diff_missing_cluster_names_its_destination_rule(world: Any, tmp_path: Path) -> None:
    from envoy.config.cluster.v3 import cluster_pb2

    more = pcworld.proxy_config(world.res)
    more.clusters.append(
        cluster_pb2.Cluster(
            name="outbound|9080|v4|reviews.default.svc.cluster.local", type=cluster_pb2.Cluster.EDS
        )
    )
    more.clusters[-1].metadata.filter_metadata["istio"].update(
        {"config": "/apis/networking.istio.io/v1/namespaces/default/destination-rule/reviews"}
    )
    code, out, _ = run_cli(
        ["pc", "diff", "--admin", world.envoy.admin_url, "--file", _intended(tmp_path, more)]
    )
    assert code == 1
    assert "- cluster outbound|9080|v4|reviews.default.svc.cluster.local: only in" in out
    assert "[DestinationRule default/reviews]" in out


def test_diff_two_dumps_after_a_push(world: Any, tmp_path: Path) -> None:
    before = tmp_path / "before.json"
    before.write_text(world.dump())
    res = pcworld.resources(outbound_port=0, inbound_port=0, ratings_timeout="5s")
    pc = pcworld.proxy_config(res)
    for lis, live in zip(pc.listeners, world.pc.listeners, strict=True):
        lis.address.CopyFrom(live.address)
    try:
        world.push(pc, wait_for='"5s"')
        after = tmp_path / "after.json"
        after.write_text(world.dump())
        code, out, _ = run_cli(["pc", "diff", "--file", str(before), "--file", str(after)])
        assert code == 1
        assert (
            'route 9080 / vhost ratings.default.svc.cluster.local:9080 / route[0].route.timeout: first "3s", second "5s"  [VirtualService default/ratings]'
            in out
        )
        assert "version_info" not in out and "last_updated" not in out
        # the proxy converged on the new intent
        code, out, _ = run_cli(
            ["pc", "diff", "--admin", world.envoy.admin_url, "--file", _intended(tmp_path, pc)]
        )
        assert code == 0, out
    finally:
        world.push(world.pc, wait_for='"3s"')


def test_admin_requests_are_get_only(tmp_path: Path) -> None:
    """meshctl never changes a proxy: every request it sends to an admin endpoint is a GET."""
    import http.server
    import threading

    methods: list[str] = []
    body = (FIXTURES / "pc" / "sidecar_dump.json").read_bytes()
    clusters = (FIXTURES / "pc" / "sidecar_clusters.json").read_bytes()

    class H(http.server.BaseHTTPRequestHandler):
        def _any(self) -> None:
            methods.append(self.command)
            payload = (
                clusters
                if self.path.startswith("/clusters")
                else b'{"command_line_options": {"log_level": "info"}}'
                if self.path.startswith("/server_info")
                else body
            )
            self.send_response(200)
            self.send_header("content-length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        do_GET = do_POST = do_PUT = do_DELETE = _any  # noqa: N815

        def log_message(self, *a: object) -> None:
            pass

    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), H)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{srv.server_address[1]}"
    try:
        for sub in ("cluster", "listener", "route", "endpoint", "eds", "secret", "bootstrap", "all", "log"):
            run_cli(["pc", sub, "--admin", url])
        run_cli(["pc", "diff", "--admin", url, "--file", str(FIXTURES / "pc" / "sidecar_intended.json")])
    finally:
        srv.shutdown()
        srv.server_close()
    assert len(methods) >= 10 and set(methods) == {"GET"}


def test_unreachable_admin_exit_69() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    code, _, err = run_cli(["pc", "cluster", "--admin", f"http://127.0.0.1:{port}"])
    assert code == 69 and "cannot reach Envoy admin" in err


# --------------------------------------------------------------------------------------------------------------
# the real scenario: YAML -> translator -> meshctl's xDS server -> Envoy, diffed against the YAML
# --------------------------------------------------------------------------------------------------------------




@pytest.mark.slow
def test_translated_bookinfo_in_sync_then_weight_drift(tmp_path: Path) -> None:
    from meshctl.envoy.runner import start_envoy
    from meshctl.xds.bootstrap import istio_node_id, xds_bootstrap
    from meshctl.xds.cache import SnapshotCache
    from meshctl.xds.runtime import ServerThread
    from meshctl.xds.source import MeshSource

    config = tmp_path / "bookinfo"
    shutil.copytree(BOOKINFO, config)
    ip = free_loopback_ip((15001, 15006, 9080, 15021))
    node = istio_node_id("productpage-v1", "default", ip=ip)
    source = MeshSource([str(config)], loopback=True)
    source.load()
    cache = SnapshotCache(resolver=source.resolve)
    source.cache = cache
    with ServerThread(cache, debug_port=None) as srv:
        envoy = start_envoy(xds_bootstrap(node, xds_port=srv.port), admin_port=free_port())
        try:
            pcworld.wait(
                lambda: (
                    '"dynamic_route_configs"' in envoy.admin_get("/config_dump").decode()
                    and "warming_state" not in envoy.admin_get("/config_dump").decode()
                ),
                what="config",
            )
            code, out, err = run_cli(["pc", "diff", "--admin", envoy.admin_url, "-f", str(config)])
            assert code == 0, out + err
            assert "In sync" in out

            routing = config / "routing.yaml"
            routing.write_text(
                routing.read_text().replace("weight: 90", "weight: 60").replace("weight: 10", "weight: 40")
            )
            code, out, err = run_cli(
                ["pc", "diff", "--admin", envoy.admin_url, "-f", str(config), "-o", "json"]
            )
            assert code == 1, err
            data = json.loads(out)
            changes = [
                (
                    d["type"],
                    d["name"],
                    c["path"].rsplit(".", 1)[-1],
                    c["intended"],
                    c["actual"],
                    c.get("owner"),
                )
                for d in data["differences"]
                for c in d["changes"]
            ]
            assert changes and all(
                t == "route" and field == "weight" and owner == "VirtualService default/reviews"
                for t, _, field, _, _, owner in changes
            )
            assert sorted({(i, a) for *_, i, a, _ in changes}) == [(40, 10), (60, 90)]

            # the same via --proxy, and after the push the proxy is back in sync
            source.reload()
            pcworld.wait(
                lambda: '"weight": 60' in envoy.admin_get("/config_dump").decode(), what="pushed weights"
            )
            code, out, err = run_cli(
                [
                    "pc",
                    "diff",
                    "--admin",
                    envoy.admin_url,
                    "-f",
                    str(config),
                    "--proxy",
                    "deploy/productpage-v1",
                ]
            )
            assert code == 0, out + err
        finally:
            envoy.close()


# --------------------------------------------------------------------------------------------------------------
# an Envoy started from `meshctl translate -o bootstrap` (static resources, no xDS)
# --------------------------------------------------------------------------------------------------------------


def test_static_bootstrap_envoy_is_compared_by_name(tmp_path: Path) -> None:
    """Its config is all ``static_resources``: the intended side is put in the same form (EDS inline, RDS inlined
    into listeners), so it is in sync with its YAML and a real change is drift, not "everything missing"."""
    from behaviour.harness import DR_B, _base_yaml, free_subnet

    from meshctl.envoy.runner import start_envoy

    mesh = tmp_path / "mesh.yaml"
    base = _base_yaml(free_subnet())
    mesh.write_text(base)
    args = ["-f", str(mesh), "--proxy", "pod/a-v1-0"]
    code, boot, err = run_cli(["translate", *args, "--loopback", "-o", "bootstrap"])
    assert code == 0, err
    with start_envoy(json.loads(boot), admin_port=free_port(), log_level="error") as envoy:
        code, out, err = run_cli(["pc", "diff", "--admin", envoy.admin_url, *args, "-o", "json"])
        assert code == 0, out + err
        data = json.loads(out)
        assert data["in_sync"] and data["compared"]["cluster"] > 3 and data["compared"]["listener"] > 1

        # explain reads the same static Envoy in loopback bind mode
        code, out, err = run_cli(["explain", "--admin", envoy.admin_url, "http://b:8080/x", "-o", "json"])
        assert code == 0, err
        exp = json.loads(out)
        assert exp["bind_mode"] == "loopback" and exp["clusters"] == [
            {"name": "outbound|8080||b.default.svc.cluster.local", "weight": 100}
        ]

        vs = "apiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata: {name: b, namespace: default}\n"
        vs += "spec:\n  hosts: [b]\n  http:\n  - route:\n    - {destination: {host: b, subset: v1}, weight: 70}\n"
        vs += "    - {destination: {host: b, subset: v2}, weight: 30}\n---\n"
        # subsets v1/v2 for b (two clusters the running Envoy does not have) and a route splitting across them
        mesh.write_text(DR_B + vs + base)
        code, out, err = run_cli(["pc", "diff", "--admin", envoy.admin_url, *args])
        assert code == 1, out + err
        missing = sorted(ln.split(":")[0] for ln in out.splitlines() if ln.startswith("- "))
        assert missing == [
            "- cluster outbound|8080|v1|b.default.svc.cluster.local",
            "- cluster outbound|8080|v2|b.default.svc.cluster.local",
        ], out
        # the inlined route's change is blamed on its VirtualService
        assert "~ listener 0.0.0.0_8080: changed" in out and "[VirtualService default/b]" in out, out
