"""``pc diff`` and ``explain`` on the real demo mesh (``meshctl demo``: 7 real Envoys in loopback bind mode fed
by meshctl's xDS server), sharing one demo to keep the suite lean.

* ``pc diff --demo`` / ``--xds-debug``: the intended side is what the demo's control plane serves the proxy, so
  a fresh demo is in sync (``-f`` YAML cannot know the demo's generated pods: drift in endpoints only, with a
  note pointing at ``--demo``), and after ``demo apply`` the demo's intent follows while ``-f`` does not.
* ``explain --admin``: recognises loopback bind mode from the proxy's listeners and agrees with where real
  requests go (the apps' ``x-served-by``).
"""

from __future__ import annotations

import collections
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from typing import Any

import pytest
from behaviour.harness import free_subnet
from conftest import BOOKINFO, ROOT, run_cli

pytestmark = [pytest.mark.envoy, pytest.mark.slow, pytest.mark.timeout(240)]
CHANGES = ROOT / "meshctl" / "examples" / "bookinfo-changes"
V = ".default.svc.cluster.local"


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    tmp = tmp_path_factory.mktemp("pcdemo")
    status = tmp / "demo.json"
    log = open(tmp / "demo.log", "w+")  # noqa: SIM115 - closed below
    proc = subprocess.Popen(
        [sys.executable, "-m", "meshctl", "demo", "--subnet", str(free_subnet()), "--status-file", str(status),
         "--no-load", "--log-level", "error", "--ready-timeout", "60"],
        cwd=ROOT, stdout=log, stderr=subprocess.STDOUT, text=True, env={**os.environ, "MESHCTL_PLAIN": "1"},
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 90
        while not status.exists():
            if proc.poll() is not None or time.monotonic() > deadline:
                log.seek(0)
                pytest.fail(f"demo did not come up (exit {proc.poll()}):\n{log.read()[-3000:]}")
            time.sleep(0.1)
        info = json.loads(status.read_text())
        info["status_file"] = str(status)
        info["by_pod"] = {p["pod"]: p for p in info["proxies"]}
        yield info
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGINT)
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        log.close()


def served_by(ip: str, port: int, host: str, path: str, headers: dict[str, str] | None = None) -> str:
    """Send a request the way a demo app does (to its sidecar's own IP, Host = the service); who answered."""
    req = urllib.request.Request(f"http://{ip}:{port}{path}", headers={"Host": host, **(headers or {})})
    try:
        with urllib.request.urlopen(req, timeout=10) as r:  # noqa: S310 - loopback demo
            return str(r.headers.get("x-served-by", ""))
    except urllib.error.HTTPError as e:
        return f"HTTP {e.code}"


def explain_json(admin: str, url: str, *headers: str) -> dict[str, Any]:
    args = ["explain", "--admin", admin, url, "-o", "json"]
    for h in headers:
        args += ["-H", h]
    code, out, err = run_cli(args)
    assert code == 0, err
    return json.loads(out)


# --- explain: loopback bind mode --------------------------------------------------------------------------------


def test_explain_agrees_with_real_requests_in_loopback_bind_mode(demo: dict[str, Any]) -> None:
    pp = demo["by_pod"]["productpage-v1-0"]
    jason = explain_json(pp["admin_url"], "http://reviews:9080/reviews/1", "end-user: jason")
    assert jason["bind_mode"] == "loopback" and jason["listener"] == "0.0.0.0_9080"
    assert [(c["name"], c["weight"]) for c in jason["clusters"]] == [(f"outbound|9080|v2|reviews{V}", 100)]
    assert {
        served_by(pp["ip"], 9080, "reviews:9080", "/reviews/1", {"end-user": "jason"}) for _ in range(5)
    } == {"reviews-v2-0"}

    others = explain_json(pp["admin_url"], "http://reviews:9080/reviews/1")
    assert [(c["name"], c["weight"]) for c in others["clusters"]] == [
        (f"outbound|9080|v1|reviews{V}", 90),
        (f"outbound|9080|v3|reviews{V}", 10),
    ]
    seen = collections.Counter(served_by(pp["ip"], 9080, "reviews:9080", "/reviews/1") for _ in range(30))
    assert set(seen) <= {"reviews-v1-0", "reviews-v3-0"} and seen["reviews-v1-0"] > seen["reviews-v3-0"], seen

    code, out, _ = run_cli(["explain", "--admin", pp["admin_url"], "http://ratings:9080/ratings/0"])
    assert code == 0
    assert (
        f"loopback bind mode (no iptables capture): clients connect to the proxy's own address {pp['ip']}:9080"
        in out
    )
    assert served_by(pp["ip"], 9080, "ratings:9080", "/ratings/0") == "ratings-v1-0"

    # a port nothing is bound on: explain says refused, and it is
    refused = explain_json(pp["admin_url"], "http://reviews:9999/")
    assert refused["outcome"] == "no_listener" and "connection is refused" in refused["steps"][-1]["text"]
    with socket.socket() as s, pytest.raises(ConnectionRefusedError):
        s.settimeout(5)
        s.connect((pp["ip"], 9999))

    gw = demo["by_pod"]["istio-ingressgateway-0"]
    page = explain_json(gw["admin_url"], "http://bookinfo/productpage")
    assert page["bind_mode"] == "loopback"
    assert [c["name"] for c in page["clusters"]] == [f"outbound|9080||productpage{V}"]
    assert served_by(gw["ip"], 8080, "bookinfo", "/productpage") == "productpage-v1-0"


# --- pc diff: the intended side from the demo's control plane ---------------------------------------------------


def test_fresh_demo_is_in_sync_with_what_its_control_plane_serves(demo: dict[str, Any]) -> None:
    sf = ["--status-file", demo["status_file"]]
    pp, gw = demo["by_pod"]["productpage-v1-0"], demo["by_pod"]["istio-ingressgateway-0"]
    code, out, err = run_cli(["pc", "diff", "--demo", *sf, "--admin", pp["admin_url"]])
    assert code == 0 and "In sync" in out, out + err
    code, out, err = run_cli(
        ["pc", "diff", "--demo", *sf, "deploy/istio-ingressgateway", "-n", "istio-system"]
    )
    assert code == 0 and "In sync" in out, out + err

    code, out, err = run_cli(
        ["pc", "diff", "--admin", gw["admin_url"], "--xds-debug", demo["debug_url"], "-o", "json"]
    )
    assert code == 0, out + err
    data = json.loads(out)
    assert data["in_sync"] and data["actual"] == gw["admin_url"]
    assert data["intended"].startswith(f"{demo['debug_url']}/debug/config_dump?proxyID=router~{gw['ip']}~")

    # -f YAML: the demo's generated pods differ (endpoints only), and the note says what to use instead
    code, out, err = run_cli(["pc", "diff", "--admin", pp["admin_url"], "-f", str(BOOKINFO), "--proxy",
                              "deploy/productpage-v1", "-o", "json"])  # fmt: skip
    assert code == 1, err
    data = json.loads(out)
    assert {d["type"] for d in data["differences"]} == {"endpoint"}
    assert any("--demo" in n for n in data["notes"])
    assert data["intended"].startswith(str(BOOKINFO)) and data["actual"] == pp["admin_url"]

    code, _, err = run_cli(["pc", "diff", "--demo", *sf, "nosuch-0.default"])
    assert code == 64 and "productpage-v1-0.default" in err


def test_demo_intent_follows_applied_config(demo: dict[str, Any]) -> None:
    pp = demo["by_pod"]["productpage-v1-0"]
    code, out, err = run_cli(
        ["demo", "apply", "--status-file", demo["status_file"], str(CHANGES / "reviews-v3.yaml")]
    )
    assert code == 0, out + err
    code, out, err = run_cli(
        ["pc", "diff", "--demo", "--status-file", demo["status_file"], "productpage-v1-0.default"]
    )
    assert code == 0 and "In sync" in out, out + err
    code, out, err = run_cli(["pc", "diff", "--admin", pp["admin_url"], "-f", str(BOOKINFO), "--proxy",
                              "deploy/productpage-v1", "--type", "route"])  # fmt: skip
    assert code == 1 and "[VirtualService default/reviews]" in out, out + err
