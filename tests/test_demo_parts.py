"""Unit tests of the demo's parts that need no control plane: topology, apps, control endpoint, load, process guard."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from threading import Thread

import pytest
from conftest import BOOKINFO, ROOT

from meshctl.demo.apps import AppServer, AppSpec, Upstream, route
from meshctl.demo.control import ControlServer, get_resources, get_status, post_apply
from meshctl.demo.loadgen import LoadGenerator, served_reviews
from meshctl.demo.procguard import children_pids, process_name
from meshctl.demo.topology import layer_pods, plan_workloads
from meshctl.envoy.runner import free_port
from meshctl.errors import InputError, MeshctlError
from meshctl.sources import load_paths, load_text


def test_topology_gives_each_deployment_a_pod_with_its_own_loopback_ip() -> None:
    resources = load_paths([str(BOOKINFO)])
    workloads = plan_workloads(resources, subnet=42)
    by_pod = {w.pod: w for w in workloads}
    assert set(by_pod) == {
        "istio-ingressgateway-0",
        "productpage-v1-0",
        "details-v1-0",
        "reviews-v1-0",
        "reviews-v2-0",
        "reviews-v3-0",
        "ratings-v1-0",
    }
    ips = [w.ip for w in workloads]
    assert len(set(ips)) == len(ips) and all(ip.startswith("127.0.42.") for ip in ips)
    gw = by_pod["istio-ingressgateway-0"]
    assert (
        gw.gateway
        and gw.node_id == f"router~{gw.ip}~istio-ingressgateway-0.istio-system~istio-system.svc.cluster.local"
    )
    r2 = by_pod["reviews-v2-0"]
    assert not r2.gateway and (r2.app, r2.version, r2.service_account) == (
        "reviews",
        "v2",
        "bookinfo-reviews",
    )
    layered = layer_pods(resources, workloads)
    pods = {r.name: r for r in layered if r.kind == "Pod"}
    assert pods["reviews-v2-0"].obj["status"]["podIP"] == r2.ip
    assert pods["reviews-v2-0"].labels == {"app": "reviews", "version": "v2"}
    assert len(layered) == len(resources) + len(workloads)
    # The example on disk is untouched and deployments can be dropped in memory.
    assert not any(r.kind == "Pod" for r in load_paths([str(BOOKINFO)]))
    assert not any(r.kind == "Deployment" for r in layer_pods(resources, workloads, drop_deployments=True))


def _spec(app: str, version: str = "v1") -> AppSpec:
    return AppSpec(
        app, version, f"{app}-{version}-0", "127.0.0.1", 0, Upstream("127.0.0.1", free_port(), timeout=0.5)
    )


def test_apps_answer_like_bookinfo_and_name_the_serving_pod() -> None:
    status, _, body = route(_spec("details"), "/details/0", {})
    data = json.loads(body)
    assert status == 200 and data["author"] == "William Shakespeare" and data["served_by"] == "details-v1-0"
    status, _, body = route(_spec("ratings"), "/ratings/0", {})
    assert json.loads(body)["ratings"] == {"Reviewer1": 5, "Reviewer2": 4}
    data = json.loads(route(_spec("reviews", "v1"), "/reviews/0", {})[2])
    assert data["served_by"] == "reviews-v1-0" and all("rating" not in r for r in data["reviews"])
    # v3 needs ratings; with its sidecar unreachable it says so instead of failing.
    data = json.loads(route(_spec("reviews", "v3"), "/reviews/0", {})[2])
    assert all(r["rating"] == {"error": "Ratings service is currently unavailable"} for r in data["reviews"])
    status, _, page = route(_spec("productpage"), "/productpage", {"end-user": "jason"})
    assert status == 200 and b"Signed in as: jason" in page
    assert (
        b"product details are currently unavailable" in page
        and b"product reviews are currently unavailable" in page
    )
    assert route(_spec("details"), "/nope", {})[0] == 404


def test_app_server_forwards_end_user_and_trace_headers_to_its_upstream() -> None:
    seen: list[dict[str, str]] = []

    class Sidecar(BaseHTTPRequestHandler):
        def log_message(self, *a: object) -> None:
            pass

        def do_GET(self) -> None:  # noqa: N802
            seen.append({k.lower(): v for k, v in self.headers.items()})
            body = json.dumps(
                {**{"ratings": {"Reviewer1": 5, "Reviewer2": 4}}, "served_by": "ratings-v1-0"}
            ).encode()
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.send_header("x-served-by", "ratings-v1-0")
            self.end_headers()
            self.wfile.write(body)

    sidecar = ThreadingHTTPServer(("127.0.0.1", 0), Sidecar)
    Thread(target=sidecar.serve_forever, daemon=True).start()
    spec = AppSpec(
        "reviews",
        "v2",
        "reviews-v2-0",
        "127.0.0.1",
        free_port(),
        Upstream("127.0.0.1", sidecar.server_address[1]),
    )
    app = AppServer(spec).start()
    try:
        from meshctl.demo.loadgen import fetch

        status, body, _ = fetch(
            f"http://127.0.0.1:{spec.listen_port}/reviews/0",
            {"end-user": "jason", "x-b3-traceid": "abc", "traceparent": "00-1-2-01", "x-other": "no"},
        )
        data = json.loads(body)
        assert status == 200 and data["ratings_served_by"] == "ratings-v1-0"
        assert data["reviews"][0]["rating"] == {"stars": 5, "color": "black"}
        hdrs = seen[0]
        assert hdrs["host"] == f"ratings:{sidecar.server_address[1]}"
        assert (
            hdrs["end-user"] == "jason"
            and hdrs["x-b3-traceid"] == "abc"
            and hdrs["traceparent"] == "00-1-2-01"
        )
        assert "x-other" not in hdrs
    finally:
        app.close()
        sidecar.shutdown()
        sidecar.server_close()


def test_control_endpoint_round_trip_and_errors_keep_exit_codes() -> None:
    applied: list[tuple[str, str]] = []

    def apply(text: str, filename: str) -> dict[str, object]:
        if "bad" in text:
            raise InputError("unknown field", file=filename, line=3, field="spec.http[0].rout")
        applied.append((text, filename))
        return {"applied": ["VirtualService default/reviews"]}

    server = ControlServer("127.0.0.1", 0, lambda: {"proxies": [], "ok": True}, apply).start()
    try:
        assert get_status(server.url) == {"proxies": [], "ok": True}
        assert post_apply(server.url, "kind: X", "x.yaml") == {"applied": ["VirtualService default/reviews"]}
        assert applied == [("kind: X", "x.yaml")]
        with pytest.raises(MeshctlError) as err:
            post_apply(server.url, "bad", "c.yaml")
        assert err.value.exit_code == 65 and str(err.value) == "c.yaml:3: spec.http[0].rout: unknown field"
    finally:
        server.close()
    with pytest.raises(MeshctlError) as err:
        get_status(server.url, timeout=1)
    assert err.value.exit_code == 69


def test_control_endpoint_serves_current_resources_with_lines_and_etag() -> None:
    """``GET /resources``: the demo's config (no generated Pods) with file:line of every field; 304 until the
    config tag changes; ``?format=yaml`` for people."""
    base = load_paths([str(BOOKINFO)])
    pods = layer_pods(base, plan_workloads(base, 1))[len(base):]
    state = {"tag": "t1", "res": base + pods}

    def resources() -> tuple[str, list]:
        return state["tag"], [r for r in state["res"] if r.origin != "generated"]

    server = ControlServer("127.0.0.1", 0, dict, lambda t, f: {}, resources=resources).start()
    try:
        tag, got = get_resources(server.url)
        assert tag == "t1" and [r.ref for r in got] == [r.ref for r in base]
        vs = next(r for r in got if r.ref == "VirtualService default/reviews")
        orig = next(r for r in base if r.ref == "VirtualService default/reviews")
        assert vs.obj == orig.obj and vs.file == orig.file
        assert vs.pos("spec.http[1].route[1].weight") == orig.pos("spec.http[1].route[1].weight")
        assert get_resources(server.url, "t1") is None  # 304: unchanged
        state["tag"] = "t2"
        assert get_resources(server.url, "t1") is not None
        import urllib.request

        with urllib.request.urlopen(server.url + "/resources?format=yaml", timeout=5) as r:
            text = r.read().decode()
        assert r.headers["Content-Type"] == "application/yaml"
        assert [x.ref for x in load_text(text, "served.yaml")] == [x.ref for x in base]
    finally:
        server.close()


def test_load_generator_is_bounded_and_counts_reviews_versions() -> None:
    hits: list[str | None] = []

    class Ingress(BaseHTTPRequestHandler):
        def log_message(self, *a: object) -> None:
            pass

        def do_GET(self) -> None:  # noqa: N802
            hits.append(self.headers.get("end-user"))
            body = b"<p>reviews served by reviews-v3-0 (version v3)</p>"
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    srv = ThreadingHTTPServer(("127.0.0.1", 0), Ingress)
    Thread(target=srv.serve_forever, daemon=True).start()
    gen = LoadGenerator(
        f"http://127.0.0.1:{srv.server_address[1]}/productpage", rate=20, jason_every=4
    ).start()
    time.sleep(1.0)
    gen.stop()
    srv.shutdown()
    srv.server_close()
    snap = gen.snapshot()
    assert 10 <= snap["requests"] <= 25  # bounded at ~20/s
    assert snap["by_reviews"] == {"reviews-v3-0": snap["requests"]}
    assert hits.count("jason") == len(hits) // 4
    assert served_reviews("no reviews here") is None


@pytest.mark.envoy
def test_envoys_die_with_the_demo_even_on_sigkill(envoy_bin: str, tmp_path: object) -> None:
    """A parent killed with SIGKILL runs no cleanup: PR_SET_PDEATHSIG must take its Envoy down."""
    script = textwrap.dedent(
        """
        import sys, time
        from meshctl.demo.procguard import ProcessRegistry, spawn_envoy
        from meshctl.envoy.runner import free_port
        reg = ProcessRegistry()
        ep = spawn_envoy({"static_resources": {}}, admin_address="127.0.0.1", admin_port=free_port(), registry=reg,
                         log_level="error", workdir=sys.argv[1], name="guarded")
        ep.wait_ready(30)
        print(ep.process.pid, flush=True)
        time.sleep(60)
        """
    )
    parent = subprocess.Popen(
        [sys.executable, "-c", script, str(tmp_path)], stdout=subprocess.PIPE, cwd=ROOT, text=True
    )
    try:
        assert parent.stdout is not None
        envoy_pid = int(parent.stdout.readline())
        assert children_pids(parent.pid) == [envoy_pid]
        os.kill(parent.pid, signal.SIGKILL)
        parent.wait(timeout=10)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and os.path.exists(f"/proc/{envoy_pid}"):
            time.sleep(0.05)
        assert not os.path.exists(f"/proc/{envoy_pid}"), "envoy outlived its SIGKILLed parent"
    finally:
        if parent.poll() is None:
            parent.kill()
            parent.wait()


def test_merge_resources_replaces_by_kind_namespace_name() -> None:
    from meshctl.demo.mesh import merge_resources

    base = load_paths([str(BOOKINFO)])
    change = load_paths([str(ROOT / "meshctl" / "examples" / "bookinfo-changes" / "reviews-v3.yaml")])
    merged, verbs = merge_resources(base, change)
    assert verbs == ["configured"] and len(merged) == len(base)
    reviews = [r for r in merged if r.kind == "VirtualService" and r.name == "reviews"]
    assert len(reviews) == 1 and reviews[0].spec["http"][0]["route"][0]["destination"]["subset"] == "v3"
    new = load_text(
        "apiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata: {name: extra}\nspec: {hosts: [x]}\n",
        "n.yaml",
    )
    merged, verbs = merge_resources(base, new)
    assert verbs == ["created"] and len(merged) == len(base) + 1


def test_demo_apply_and_status_without_a_running_demo_exit_69(cli: object, tmp_path: object) -> None:
    missing = str(tmp_path) + "/nope.json"  # type: ignore[operator]
    code, _, err = cli(["demo", "status", "--status-file", missing])  # type: ignore[operator]
    assert code == 69 and "no running demo found" in err and "Traceback" not in err
    code, _, err = cli(["demo", "apply", "x.yaml", "--status-file", missing])  # type: ignore[operator]
    assert code == 69
    code, out, _ = cli(["demo", "--help"])  # type: ignore[operator]
    assert code == 0 and "meshctl demo apply" in out and "--status-file" in out and "--no-load" in out


@pytest.mark.envoy
def test_cancelled_start_up_stops_everything_it_started(tmp_path: object) -> None:
    """Ctrl-C while the Envoys start: start() raises DemoCancelled and no child, port or file is left."""
    from behaviour.harness import free_subnet

    from meshctl.demo.mesh import DemoCancelled, DemoMesh, DemoOptions

    status_file = f"{tmp_path}/demo.json"
    demo = DemoMesh(DemoOptions(subnet=free_subnet(), load=False, status_file=status_file, log_level="error"))
    demo._progress = lambda msg: demo.cancel.set() if msg.startswith("starting 7 Envoys") else None
    with pytest.raises(DemoCancelled):
        demo.start()
    assert [p for p in demo.proxies if p.envoy] and all(
        p.envoy.process.poll() is not None for p in demo.proxies if p.envoy
    )
    assert not [pid for pid in children_pids() if process_name(pid) == "envoy"]
    assert not os.path.exists(status_file) and not os.path.exists(demo.workdir)
    ip = demo.proxies[1].workload.ip
    import socket

    with socket.socket() as s:  # the app's and the control plane's ports are free again
        s.bind((ip, demo.proxies[1].app.spec.listen_port))  # type: ignore[union-attr]


def test_other_workloads_get_a_generic_echo_app() -> None:
    status, _, body = route(_spec("httpbin", "v7"), "/anything", {})
    assert status == 200 and json.loads(body) == {
        "served_by": "httpbin-v7-0",
        "app": "httpbin",
        "version": "v7",
        "path": "/anything",
    }


def test_app_port_colliding_with_the_proxy_is_a_clear_input_error(tmp_path: object) -> None:
    """Loopback mode puts an app on target port + 10000: 5000 would land on Envoy's admin port 15000."""
    from behaviour.harness import free_subnet

    from meshctl.demo.mesh import DemoMesh, DemoOptions

    manifest = f"{tmp_path}/app.yaml"
    with open(manifest, "w") as fh:
        fh.write(
            "apiVersion: v1\nkind: Service\nmetadata: {name: web}\nspec:\n  selector: {app: web}\n"
            "  ports: [{name: http, port: 80, targetPort: 5000}]\n---\n"
            "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web}\nspec:\n"
            "  selector: {matchLabels: {app: web}}\n  template:\n    metadata: {labels: {app: web}}\n"
            "    spec: {containers: [{name: web, image: x, ports: [{containerPort: 5000}]}]}\n"
        )
    demo = DemoMesh(
        DemoOptions(paths=[manifest], subnet=free_subnet(), load=False, status_file=f"{tmp_path}/s.json")
    )
    with pytest.raises(InputError) as err:
        demo.start()
    assert err.value.file == manifest and ":15000" in str(err.value) and err.value.exit_code == 65
    assert not [pid for pid in children_pids() if process_name(pid) == "envoy"]


def test_every_demo_proxy_sends_to_sidecars_at_their_loopback_inbound_port() -> None:
    """In loopback mode a pod's ``<ip>:<targetPort>`` is its own *outbound* listener, so every proxy's EDS (the
    ingress gateway's too) must address injected pods at their inbound port (docs/translate.md, loopback table)."""
    from types import SimpleNamespace

    from meshctl.demo.controlplane import DemoSource
    from meshctl.xds import types as T

    resources = load_paths([str(BOOKINFO)])
    workloads = plan_workloads(resources, subnet=1)
    source = DemoSource(layer_pods(resources, workloads))
    source.load()
    sidecar_ips = {w.ip for w in workloads if not w.gateway}
    for w in workloads:
        snap = source.snapshot(w.node_id)
        cfg = SimpleNamespace(endpoints=snap.messages(T.ENDPOINT))
        wrong = [
            (
                cla.cluster_name,
                f"{lb.endpoint.address.socket_address.address}:{lb.endpoint.address.socket_address.port_value}",
            )
            for cla in cfg.endpoints
            for lle in cla.endpoints
            for lb in lle.lb_endpoints
            if lb.endpoint.address.socket_address.address in sidecar_ips
            and lb.endpoint.address.socket_address.port_value == 9080
        ]
        assert not wrong, f"{w.pod} sends to sidecars' outbound listeners: {wrong[:3]}"


def test_supervisor_restarts_dead_envoys_and_stops_on_a_crash_loop(tmp_path: object) -> None:
    """The restart policy over real (exiting) child processes: restart, restart, restart, then a crash loop;
    restarts older than the window do not count."""
    from meshctl.demo.mesh import (
        CRASH_LOOP_RESTARTS,
        CRASH_LOOP_WINDOW,
        CrashLoopError,
        DemoMesh,
        DemoOptions,
        DemoProxy,
    )
    from meshctl.envoy.runner import EnvoyProcess

    workloads = plan_workloads(load_paths([str(BOOKINFO)]), subnet=43)
    mesh = DemoMesh(DemoOptions(status_file=str(tmp_path) + "/demo.json", log_dir=str(tmp_path)))  # type: ignore[operator]

    def dead() -> EnvoyProcess:
        proc = subprocess.Popen([sys.executable, "-c", "raise SystemExit(3)"])
        proc.wait()
        return EnvoyProcess(proc, 15000, admin_address=workloads[0].ip)  # type: ignore[arg-type]

    def spawn(p: DemoProxy) -> None:  # the replacement dies at once, like an Envoy that cannot start
        p.envoy = dead()

    proxy = DemoProxy(workloads[0], envoy=dead())
    mesh.proxies = [proxy]
    mesh._spawn = spawn  # type: ignore[method-assign]
    mesh.write_status_file = lambda: None  # type: ignore[method-assign]
    t = 1000.0
    for i in range(CRASH_LOOP_RESTARTS):
        (line,) = mesh.supervise(now=t + i)
        assert f"Envoy of {proxy.name} exited (exit code 3); restarted it" in line and f"#{i + 1}" in line
    with pytest.raises(CrashLoopError) as e:
        mesh.supervise(now=t + CRASH_LOOP_RESTARTS)
    assert e.value.exit_code == 69 and f"the Envoy of {proxy.name} keeps crashing" in e.value.message
    assert len(mesh.supervise(now=t + CRASH_LOOP_WINDOW + 10)) == 1  # old restarts aged out of the window
    mesh.close()
