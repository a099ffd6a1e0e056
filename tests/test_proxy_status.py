"""``meshctl proxy-status`` against a running xDS server with real Envoys: SYNCED rows, NACK with Envoy's message,
table/json/yaml output, over ADS (istio.io/debug/syncz) and over the HTTP debug endpoint; unreachable server -> 69.
"""

from __future__ import annotations

import json
import time

import pytest
import yaml

from meshctl.envoy.runner import free_port, start_envoy
from meshctl.xds import samples as S
from meshctl.xds.bootstrap import istio_node_id, xds_bootstrap
from meshctl.xds.cache import SnapshotCache
from meshctl.xds.runtime import ServerThread
from meshctl.xds.snapshot import Snapshot

GOOD = istio_node_id("good-1", "default")
BAD = istio_node_id("bad-1", "other", ip="127.0.0.2")


def snapshot(version: str, port: int, broken: bool = False) -> Snapshot:
    clusters = [S.cluster("a")]
    if broken:
        clusters.append(S.cluster("broken", connect_timeout="0s"))
    return Snapshot.build(
        version,
        clusters=clusters,
        endpoints=[S.load_assignment("a", [("127.0.0.1", 9)])],
        listeners=[S.http_listener("http", port, "r")],
        routes=[S.route_config("r", [("/", "a")])],
    )


def wait_rows(cli, args: list[str], pred, timeout: float = 10.0) -> str:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    out = ""
    while time.monotonic() < deadline:
        code, out, err = cli(args)
        assert code == 0, err
        if pred(out):
            return out
        time.sleep(0.05)
    raise AssertionError(f"proxy-status never matched; last output:\n{out}")


@pytest.mark.envoy
@pytest.mark.timeout(60)
def test_proxy_status_synced_and_nack(cli) -> None:  # type: ignore[no-untyped-def]
    cache = SnapshotCache()
    cache.set_snapshot(GOOD, snapshot("v1", free_port()))
    cache.set_snapshot(BAD, snapshot("v7", free_port(), broken=True))
    with (
        ServerThread(cache) as srv,
        start_envoy(xds_bootstrap(GOOD, xds_port=srv.port)),
        start_envoy(xds_bootstrap(BAD, xds_port=srv.port, delta=True)),
    ):
        xds = ["ps", "--xds", f"127.0.0.1:{srv.port}"]
        # bad-1: its whole CDS update is rejected, so Envoy never asks for EDS (NOT SENT); LDS/RDS are fine.
        out = wait_rows(cli, xds, lambda o: o.count("SYNCED") == 6 and "NACK" in o)
        lines = out.splitlines()
        assert len(lines) == 3
        assert lines[0].split() == ["NAME", "CLUSTER", "CDS", "LDS", "EDS", "RDS", "VERSION"]
        assert lines[1].startswith("bad-1.other") and lines[2].startswith("good-1.default")
        assert lines[2].split() == [
            "good-1.default",
            "Kubernetes",
            "SYNCED",
            "SYNCED",
            "SYNCED",
            "SYNCED",
            "v1",
        ]
        # Envoy's own message about connect_timeout, on one line in the table.
        assert (
            "NACK: Proto constraint validation failed (ClusterValidationError.ConnectTimeout: value must be greater than 0s)"
            in lines[1]
        )
        assert lines[1].split()[-5:] == ["SYNCED", "NOT", "SENT", "SYNCED", "v7"]
        # The same through the HTTP debug endpoint, as JSON and YAML.
        code, js, _ = cli(["ps", "--debug", srv.debug_url, "-o", "json"])
        assert code == 0
        data = {r["name"]: r for r in json.loads(js)}
        assert data["good-1.default"]["types"]["RDS"] == {"status": "SYNCED", "version": "v1", "error": None}
        assert data["bad-1.other"]["types"]["CDS"]["status"] == "NACK"
        assert data["bad-1.other"]["types"]["CDS"]["error"]
        code, ym, _ = cli(["ps", "--debug", srv.debug_url, "-o", "yaml", "-n", "other"])
        assert code == 0 and [r["name"] for r in yaml.safe_load(ym)] == ["bad-1.other"]
        # An unknown proxy is an error naming the connected ones (not an empty table), over ADS and HTTP.
        code, out, err = cli([*xds, "nosuch.default"])
        assert (code, out) == (64, "")
        assert err.splitlines()[0] == (
            f"Error: proxy 'nosuch.default' is not connected to the xDS server at 127.0.0.1:{srv.port}; "
            "connected proxies: bad-1.other, good-1.default"
        )
        code, _, err = cli(["ps", "--debug", srv.debug_url, "-n", "other", "good-1"])
        assert code == 64 and "proxy 'good-1' in namespace 'other' is not connected" in err, err
        # Filtering by proxy name, and a fix turning the NACK into SYNCED.
        cache.set_snapshot(BAD, snapshot("v8", free_port()))
        out = wait_rows(cli, [*xds, "bad-1.other"], lambda o: o.count("SYNCED") == 4)
        assert len(out.splitlines()) == 2 and out.splitlines()[1].split()[-1] == "v8"


def test_proxy_status_unreachable_is_exit_69(cli) -> None:  # type: ignore[no-untyped-def]
    port = free_port()
    code, _, err = cli(["ps", "--xds", f"127.0.0.1:{port}"])
    assert code == 69 and f"127.0.0.1:{port}" in err and "Traceback" not in err
    code, _, err = cli(["ps", "--debug", f"http://127.0.0.1:{port}"])
    assert code == 69 and "debug endpoint" in err
    code, _, err = cli(["ps", "--xds", "a:1", "--debug", "b"])
    assert code == 64


PS_CASES = [
    ("ps-prints-single-istiod-input-to-buffer-in-alphabetical-order-by-pod-name", []),
    ("ps-prints-all-known-xds-types-at-max-verbosity", ["-v", "1"]),
]


@pytest.mark.parametrize("case,flags", PS_CASES)
def test_istiod_syncz_file_matches_istioctl_golden(cli, shared_dir, case: str, flags: list[str]) -> None:  # type: ignore[no-untyped-def]
    d = shared_dir / "conformance" / "istio-proxyconfig" / "cases" / case
    code, out, err = cli(["ps", "--syncz", str(d / "syncz_responses.json"), *flags])
    assert code == 0, err
    assert out == (d / "expected.txt").read_text()


def test_istiod_syncz_file_json_and_errors(cli, tmp_path) -> None:  # type: ignore[no-untyped-def]
    doc = {
        "resources": [
            {
                "@type": "type.googleapis.com/envoy.service.status.v3.ClientConfig",
                "node": {"id": "b.ns", "metadata": {"CLUSTER_ID": "c1", "ISTIO_VERSION": "1.24"}},
                "genericXdsConfigs": [
                    {
                        "typeUrl": "type.googleapis.com/envoy.config.cluster.v3.Cluster",
                        "configStatus": "ERROR",
                    },
                    {
                        "typeUrl": "type.googleapis.com/envoy.config.listener.v3.Listener",
                        "configStatus": "UNKNOWN",
                    },
                ],
            },
            {"@type": "type.googleapis.com/envoy.service.status.v3.ClientConfig", "node": {"id": "a.ns"}},
        ],
        "controlPlane": {"identifier": '{"Component":"istiod","ID":"istiod-x"}'},
    }
    f = tmp_path / "syncz.json"
    f.write_text(json.dumps(doc))
    code, out, _ = cli(["ps", "--syncz", str(f)])
    assert code == 0
    assert [line.split() for line in out.splitlines()] == [
        ["NAME", "CLUSTER", "ISTIOD", "VERSION", "SUBSCRIBED", "TYPES"],
        ["a.ns", "istiod-x", "0"],
        ["b.ns", "c1", "istiod-x", "1.24", "1", "(CDS)"],  # LDS is UNKNOWN: IGNORED, not counted
    ]
    code, out, _ = cli(["ps", "--syncz", str(f), "-v", "1", "b.ns"])
    assert out.splitlines()[1].split() == [
        "b.ns",
        "c1",
        "ERROR",
        "NOT",
        "SENT",
        "NOT",
        "SENT",
        "IGNORED",
        "NOT",
        "SENT",
        "istiod-x",
        "1.24",
    ]
    code, _, err = cli(["ps", "--syncz", str(f), "c.ns"])
    assert code == 64 and "connected proxies: a.ns, b.ns" in err, err
    code, out, _ = cli(["ps", "--syncz", str(f), "-o", "json"])
    assert json.loads(out)["controlPlane"]["identifier"].startswith("{")
    f.write_text("{not json")
    code, _, err = cli(["ps", "--syncz", str(f)])
    assert code == 65 and "syncz.json:1" in err


@pytest.mark.envoy
@pytest.mark.timeout(60)
def test_compare_intended_with_envoy_like_istioctl(cli) -> None:  # type: ignore[no-untyped-def]
    cache = SnapshotCache()
    cache.set_snapshot(GOOD, snapshot("v1", free_port()))
    with ServerThread(cache) as srv, start_envoy(xds_bootstrap(GOOD, xds_port=srv.port)) as envoy:
        args = ["ps", "good-1.default", "--debug", srv.debug_url, "--admin", envoy.admin_url]
        out = wait_rows(cli, args, lambda o: "Routes Match" in o)
        assert out.splitlines()[:2] == ["Clusters Match", "Listeners Match"]
        assert out.splitlines()[2].startswith("Routes Match (RDS last loaded at ")
        # Envoy rejects the next config, so what it runs is no longer what the server intends.
        cache.set_snapshot(GOOD, snapshot("v2", free_port(), broken=True))
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            code, out, _ = cli(args)
            if "Clusters Don't Match" in out:
                break
            time.sleep(0.1)
        assert code == 1
        lines = out.splitlines()
        assert (
            lines[0] == "Clusters Don't Match"
            and "--- Istiod Clusters" in lines
            and "+++ Envoy Clusters" in lines
        )
        assert any(line.startswith("-") and '"broken"' in line for line in lines)
        code, _, err = cli(["ps", "nosuch.default", "--debug", srv.debug_url, "--admin", envoy.admin_url])
        assert code == 64 and "good-1.default" in err


@pytest.mark.envoy
@pytest.mark.timeout(60)
def test_compare_with_xds_address_uses_the_debug_port_next_to_it(cli) -> None:  # type: ignore[no-untyped-def]
    # `meshctl xds serve` (and istiod) put the debug endpoint at gRPC port + 4: --xds alone must find it.
    cache = SnapshotCache()
    cache.set_snapshot(GOOD, snapshot("v1", free_port()))
    port = free_port()
    with ServerThread(cache, port=port, debug_port=port + 4) as srv, start_envoy(xds_bootstrap(GOOD, xds_port=srv.port)) as envoy:
        args = ["ps", "good-1.default", "--xds", f"127.0.0.1:{srv.port}", "--admin", envoy.admin_url]
        out = wait_rows(cli, args, lambda o: "Routes Match" in o)
        assert out.splitlines()[:2] == ["Clusters Match", "Listeners Match"]


def test_compare_golden_match(cli, shared_dir) -> None:  # type: ignore[no-untyped-def]
    d = shared_dir / "conformance" / "istio-proxyconfig" / "cases" / "ps-diff-match"
    code, out, err = cli(
        [
            "ps",
            "x.y",
            "--intended",
            str(d / "istiod_config_dump.json"),
            "--file",
            str(d / "envoy_config_dump.json"),
        ]
    )
    assert code == 0, err
    for line in json.loads((d / "expected_contains.json").read_text()):
        assert line in out


@pytest.mark.parametrize("command", ["xds", "xds serve", "xds bootstrap", "proxy-status"])
def test_help_has_kubectl_style_examples(cli, command: str) -> None:  # type: ignore[no-untyped-def]
    code, out, _ = cli([*command.split(), "--help"])
    assert code == 0
    lines = out.splitlines()
    assert "  Examples:" in lines, out
    examples = lines[lines.index("  Examples:") + 1 :]
    assert examples[0].startswith("    meshctl "), out  # indented command lines right under the heading
