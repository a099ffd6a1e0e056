"""End to end: ``meshctl demo`` as a user runs it (a real process, 7 real Envoys, meshctl's xDS server).

One demo per module (start-up is the expensive part): it comes up, every proxy ACKs, the product page through
the ingress gateway shows details and reviews, ``demo apply`` shifts reviews to v3 live, ``demo status``
reports it, and Ctrl-C leaves no Envoy behind.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from behaviour.harness import free_subnet
from conftest import ROOT, run_cli

from meshctl.demo.launch import DemoProcess, demo_process
from meshctl.demo.loadgen import fetch, served_reviews
from meshctl.demo.procguard import children_pids, process_name
from meshctl.errors import UnavailableError

pytestmark = [pytest.mark.envoy, pytest.mark.slow, pytest.mark.timeout(180)]

CHANGES = ROOT / "meshctl" / "examples" / "bookinfo-changes"


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DemoProcess]:
    status_file = tmp_path_factory.mktemp("demo") / "demo.json"
    args = ["--subnet", str(free_subnet()), "--rate", "5", "--log-level", "error", "--ready-timeout", "60"]
    try:
        with demo_process(status_file, args) as running:
            yield running
    except UnavailableError as e:
        pytest.fail(str(e))


def cli(demo: DemoProcess, *args: str) -> tuple[int, str, str]:
    return run_cli([*args, "--status-file", str(demo.status_file)])


def page(demo: DemoProcess, **headers: str) -> str:
    """/productpage from outside, through the ingress gateway."""
    status, body, err = fetch(demo.info["ingress_url"], headers, timeout=10)
    assert status == 200, (status, err, body[:500])
    return body


def mesh_page(demo: DemoProcess, **headers: str) -> str:
    """/productpage from inside the mesh: dialled through the details pod's sidecar (mTLS sidecar to sidecar)."""
    details = next(p for p in demo.info["proxies"] if p["pod"] == "details-v1-0")
    status, body, err = fetch(
        f"http://{details['ip']}:9080/productpage", {"Host": "productpage:9080", **headers}
    )
    assert status == 200, (status, err, body[:500])
    return body


def test_demo_comes_up_and_every_proxy_acks(demo: DemoProcess) -> None:
    info = demo.info
    names = {p["name"] for p in info["proxies"]}
    assert names == {
        "istio-ingressgateway-0.istio-system",
        "productpage-v1-0.default",
        "details-v1-0.default",
        "reviews-v1-0.default",
        "reviews-v2-0.default",
        "reviews-v3-0.default",
        "ratings-v1-0.default",
    }
    assert len({p["ip"] for p in info["proxies"]}) == 7
    for p in info["proxies"]:
        assert p["node_id"].split("~")[1] == p["ip"] and p["admin_url"] == f"http://{p['ip']}:15000"
    assert sorted(children_pids(demo.proc.pid)) == sorted(p["envoy_pid"] for p in info["proxies"])
    code, out, err = cli(demo, "demo", "status", "-o", "json")
    assert code == 0, err
    status = json.loads(out)
    for p in status["proxies"]:
        assert p["alive"] and p["sync"] and set(p["sync"].values()) == {"SYNCED"}, p
    code, out, err = cli(demo, "demo", "status")
    assert code == 0 and "productpage-v1-0.default" in out and "SYNCED" in out
    # istioctl's view of the same, from meshctl's proxy-status over ADS (istio.io/debug/syncz)
    code, out, err = run_cli(["proxy-status", "--xds", info["xds_address"], "-o", "json"])
    assert code == 0, err
    rows = json.loads(out)
    rows = rows if isinstance(rows, list) else rows.get("proxies", rows)
    assert len(rows) == 7, out
    assert "STALE" not in out and "NACK" not in out and "NOT SENT" not in out and out.count("SYNCED") >= 7 * 3


def test_product_page_through_the_ingress_shows_details_and_reviews(demo: DemoProcess) -> None:
    body = page(demo)
    assert "Book Details" in body and "PublisherA" in body and "details served by details-v1-0" in body
    assert "Book Reviews" in body and "An extremely entertaining play" in body
    assert served_reviews(body) in {"reviews-v1-0", "reviews-v3-0"}
    jason = page(demo, **{"end-user": "jason"})
    assert served_reviews(jason) == "reviews-v2-0" and "★★★★★" in jason and "color:black" in jason


def test_product_page_through_the_mesh_shows_details_and_reviews(demo: DemoProcess) -> None:
    body = mesh_page(demo)
    assert "details served by details-v1-0" in body and "Book Reviews" in body
    assert served_reviews(body) in {"reviews-v1-0", "reviews-v3-0"}
    assert served_reviews(mesh_page(demo, **{"end-user": "jason"})) == "reviews-v2-0"


def test_apply_reviews_v3_shifts_all_traffic_live(demo: DemoProcess) -> None:
    code, out, err = cli(demo, "demo", "apply", str(CHANGES / "reviews-v3.yaml"))
    assert code == 0, err
    assert "VirtualService default/reviews configured" in out and "all proxies synced" in out
    seen = {served_reviews(mesh_page(demo, **({"end-user": "jason"} if i % 2 else {}))) for i in range(20)}
    assert seen == {"reviews-v3-0"}
    code, out, _ = cli(demo, "demo", "status", "-o", "json")
    status = json.loads(out)
    assert status["config_version"] == "2" and status["applied"][0]["file"].endswith("reviews-v3.yaml")
    assert status["load"]["requests"] > 0


def test_apply_rejects_bad_config_with_file_line_and_keeps_running(demo: DemoProcess, tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        "apiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata: {name: x}\nspec:\n  hosts: [reviews]\n  http:\n  - rout: []\n"
    )
    code, _, err = cli(demo, "demo", "apply", str(bad))
    assert code == 65, err
    assert f"{bad}:7" in err and "rout" in err
    assert served_reviews(mesh_page(demo)) == "reviews-v3-0"


def test_apply_of_config_envoy_rejects_fails_with_the_nack_and_recovers(demo: DemoProcess, tmp_path: Path) -> None:
    # Valid for Istio's schema, but RE2 (Envoy) rejects repeat counts over 1000: every sidecar NACKs the RDS update.
    nack = tmp_path / "nack.yaml"
    nack.write_text(
        "apiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata: {name: ratings, namespace: default}\n"
        "spec:\n  hosts: [ratings]\n  http:\n  - match: [{uri: {regex: 'a{1001}'}}]\n"
        "    route: [{destination: {host: ratings, subset: v1}}]\n"
    )
    code, _, err = cli(demo, "demo", "apply", str(nack))
    assert code == 65, err
    assert "NACK" in err and "rejected config version" in err and str(nack) in err
    assert served_reviews(mesh_page(demo)) == "reviews-v3-0"  # the proxies kept their previous config
    # the original ratings VirtualService from the example brings every proxy back in sync
    docs = (ROOT / "meshctl/examples/bookinfo/routing.yaml").read_text().split("---\n")
    good = tmp_path / "ratings.yaml"
    good.write_text(next(d for d in docs if "kind: VirtualService" in d and "name: ratings" in d))
    code, out, err = cli(demo, "demo", "apply", str(good))
    assert code == 0 and "all proxies synced" in out, err
    code, _, err = cli(demo, "demo", "apply", str(tmp_path / "missing.yaml"))
    assert code == 65 and "missing.yaml: no such file" in err


def test_delete_removes_the_virtual_service_live(demo: DemoProcess) -> None:
    code, out, err = cli(demo, "demo", "delete", str(CHANGES / "reviews-v3.yaml"))
    assert code == 0, err
    assert "VirtualService default/reviews deleted" in out
    # Without a VirtualService, reviews traffic is spread over every version (round robin per the DR).
    seen = {served_reviews(mesh_page(demo)) for _ in range(30)}
    assert seen == {"reviews-v1-0", "reviews-v2-0", "reviews-v3-0"}
    code, _, err = cli(demo, "demo", "delete", str(CHANGES / "reviews-v3.yaml"))
    assert code == 65 and "VirtualService default/reviews is not in the running mesh" in err


def test_a_killed_envoy_is_restarted_resyncs_and_serves(demo: DemoProcess) -> None:
    """kill -9 one sidecar's Envoy: the demo restarts it (same admin address), it rejoins xDS, traffic flows."""
    import signal

    before = next(p for p in json.loads(demo.status_file.read_text())["proxies"] if p["pod"] == "details-v1-0")
    os.kill(before["envoy_pid"], signal.SIGKILL)
    deadline = time.monotonic() + 20
    details: dict[str, object] = {}
    while time.monotonic() < deadline:
        code, out, err = cli(demo, "demo", "status", "-o", "json")
        assert code == 0, err
        details = next(p for p in json.loads(out)["proxies"] if p["pod"] == "details-v1-0")
        if details["alive"] and details["restarts"] == 1 and set(details["sync"].values()) == {"SYNCED"}:
            break
        time.sleep(0.3)
    assert details["alive"] and details["restarts"] == 1, details
    assert set(details["sync"].values()) == {"SYNCED"}, details
    assert details["envoy_pid"] != before["envoy_pid"] and details["admin_url"] == before["admin_url"]
    assert demo.proc.poll() is None  # the rest of the demo stayed up
    code, out, err = run_cli(["proxy-status", "--xds", demo.info["xds_address"]])
    assert code == 0, err
    row = next(line for line in out.splitlines() if line.startswith("details-v1-0.default"))
    assert row.count("SYNCED") >= 4, out
    assert "served by details-v1-0" in mesh_page(demo)  # dialled through the restarted sidecar
    log = demo.log_path.read_text()
    assert "Envoy of details-v1-0.default exited (killed by signal 9); restarted it" in log


def test_ctrl_c_stops_everything(demo: DemoProcess) -> None:
    pids = [p["envoy_pid"] for p in json.loads(demo.status_file.read_text())["proxies"]]
    assert all(process_name(pid) == "envoy" for pid in pids)
    assert demo.stop(timeout=20) == 0  # Ctrl-C
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and any(os.path.exists(f"/proc/{pid}") for pid in pids):
        time.sleep(0.05)
    assert [pid for pid in pids if os.path.exists(f"/proc/{pid}")] == []
    assert not demo.status_file.exists()
