"""End to end through the emulator: simulated controllers, ``analyze -k``, translate from a cluster, and
``proxy-config cluster pod/NAME`` port-forwarded to a real Envoy running the translated config."""

from __future__ import annotations

import json
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from meshctl.sources.kubernetes import load_cluster
from meshctl.testing.kubeapi import KubeEmulator

ROOT = Path(__file__).resolve().parent.parent
BOOKINFO = ROOT / "meshctl" / "examples" / "bookinfo"


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[tuple[KubeEmulator, str]]:
    emu = KubeEmulator(controllers=True)
    emu.load([str(BOOKINFO)])
    with emu:
        yield emu, emu.write_kubeconfig(tmp_path / "kubeconfig")


def pods(emu: KubeEmulator, ns: str = "default") -> dict[str, dict]:
    return {o["metadata"]["name"]: o for o in emu.store.list(emu.store.types[("", "pods")], ns)[0]}


def test_controllers_make_a_running_cluster(cluster: tuple[KubeEmulator, str]) -> None:
    emu, _ = cluster
    ps = pods(emu)
    reviews = sorted(n for n in ps if n.startswith("reviews-"))
    assert len(reviews) == 3 and len(ps) == 6
    p = ps[reviews[0]]
    assert p["status"]["phase"] == "Running" and p["status"]["podIP"].startswith("10.244.")
    assert [c["name"] for c in p["spec"]["containers"]][-1] == "istio-proxy"  # default ns labelled for injection
    assert p["metadata"]["ownerReferences"][0]["kind"] == "ReplicaSet"
    gw = next(iter(pods(emu, "istio-system").values()))
    assert "sidecar.istio.io/status" not in gw["metadata"]["annotations"]  # istio-system is not injected
    assert "sidecar.istio.io/status" in p["metadata"]["annotations"]
    slices = {o["metadata"]["labels"]["kubernetes.io/service-name"]: o
              for o in emu.store.list(emu.store.types[("discovery.k8s.io", "endpointslices")], "default")[0]}
    assert len(slices["reviews"]["endpoints"]) == 3 and slices["reviews"]["ports"] == [{"port": 9080, "protocol": "TCP", "name": "http"}]
    # scale up, then delete: pods and endpoints follow
    dep_t = emu.store.types[("apps", "deployments")]
    d = emu.store.get(dep_t, "default", "ratings-v1")
    emu.store.update(dep_t, "default", "ratings-v1", dict(d, spec=dict(d["spec"], replicas=3)))
    assert sum(1 for n in pods(emu) if n.startswith("ratings-v1-")) == 3
    assert emu.store.get(dep_t, "default", "ratings-v1")["status"]["readyReplicas"] == 3
    emu.store.delete(dep_t, "default", "ratings-v1")
    assert not any(n.startswith("ratings-v1-") for n in pods(emu))
    ep = emu.store.list(emu.store.types[("discovery.k8s.io", "endpointslices")], "default")[0]
    assert next(o for o in ep if o["metadata"]["labels"]["kubernetes.io/service-name"] == "ratings")["endpoints"] == []


def test_analyze_k_against_the_emulator(cluster: tuple[KubeEmulator, str], cli) -> None:  # type: ignore[no-untyped-def]
    emu, kc = cluster
    code, out, err = cli(["analyze", "-k", "--kubeconfig", kc, "-A"])
    assert code == 0, out + err
    # a running bookinfo: every subset selects pods, the gateway selector matches (policy warnings may show)
    assert "Error [" not in out and "IST0173" not in out and "IST0101" not in out, out
    # break something through the API: the message points at the live object
    vs = emu.get("virtualservices", "reviews", "default", group="networking.istio.io")
    spec = json.loads(json.dumps(vs["spec"]))
    spec["http"][1]["route"][0]["destination"]["subset"] = "v9"
    emu.apply([dict(vs, spec=spec)])
    code, out, err = cli(["analyze", "-k", "--kubeconfig", kc, "-A"])
    assert code == 79, out + err
    assert "IST0101" in out and "kube://emulator/default/VirtualService/reviews" in out and "v9" in out


def test_analyze_k_unreachable_and_forbidden_exit_codes(cluster: tuple[KubeEmulator, str], cli, tmp_path: Path, free_port: int) -> None:  # type: ignore[no-untyped-def]
    emu, kc = cluster
    emu.deny("list", "destinationrules", "networking.istio.io")
    code, out, err = cli(["analyze", "-k", "--kubeconfig", kc, "-A"])
    assert code == 77 and "forbidden by RBAC (403): cannot list destinationrules.networking.istio.io at the cluster scope" in err
    assert "Traceback" not in err
    dead = KubeEmulator(port=free_port).write_kubeconfig(tmp_path / "dead")
    code, out, err = cli(["analyze", "-k", "--kubeconfig", dead, "-A"])
    assert code == 69 and "cannot reach the Kubernetes API server" in err


def test_translate_from_the_cluster_matches_files(cluster: tuple[KubeEmulator, str]) -> None:
    from meshctl.model import build_mesh
    from meshctl.sources import load_paths
    from meshctl.translate import translate

    emu, kc = cluster
    res = load_cluster(kc)
    mesh = build_mesh(res)
    pod = next(n for n in pods(emu) if n.startswith("productpage-v1-"))
    proxy = mesh.proxy(f"pod/{pod}", "default")
    assert proxy.node_id.startswith(f"sidecar~{pods(emu)[pod]['status']['podIP']}~{pod}.default~")
    live = translate(mesh, proxy)
    offline = translate(build_mesh(load_paths([str(BOOKINFO)])), build_mesh(load_paths([str(BOOKINFO)])).proxy("deploy/productpage-v1", "default"))
    assert sorted(c.name for c in live.clusters) == sorted(c.name for c in offline.clusters)
    eds = {e.cluster_name: e for e in live.endpoints}
    addrs = sorted(lb.endpoint.address.socket_address.address for ep in eds["outbound|9080||reviews.default.svc.cluster.local"].endpoints
                   for lb in ep.lb_endpoints)
    want = sorted(p["status"]["podIP"] for n, p in pods(emu).items() if n.startswith("reviews-"))
    assert addrs == want


@pytest.mark.envoy
def test_proxy_config_cluster_pod_through_port_forward(cluster: tuple[KubeEmulator, str], cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    from meshctl.envoy.runner import start_envoy

    emu, kc = cluster
    pod = next(n for n in pods(emu) if n.startswith("productpage-v1-"))
    code, boot, err = cli(["translate", "-k", "--kubeconfig", kc, "--proxy", f"pod/{pod}", "-n", "default", "-o", "bootstrap"])
    assert code == 0, err
    cfg = json.loads(boot)
    cfg["static_resources"].pop("listeners", None)  # clusters are what we compare; no port binding needed
    with start_envoy(cfg) as envoy:
        envoy.wait_ready(30)
        emu.add_port_forward("default", pod, 15000, ("127.0.0.1", envoy.admin_port))
        code, via_kube, err = cli(["pc", "cluster", f"pod/{pod}", "-n", "default", "--kubeconfig", kc])
        assert code == 0, err
        code, direct, err = cli(["pc", "cluster", "--admin", envoy.admin_url])
        assert code == 0, err
    assert via_kube == direct
    assert "reviews.default.svc.cluster.local" in via_kube and "9080" in via_kube



def test_kubectl_shows_simulated_pods(cluster: tuple[KubeEmulator, str], tmp_path: Path) -> None:
    kubectl = shutil.which("kubectl")
    if kubectl is None:
        pytest.skip("the real kubectl is not installed")
    _, kc = cluster
    out = subprocess.run([kubectl, f"--kubeconfig={kc}", "get", "pods", "-n", "default"], capture_output=True, text=True,
                         env={"HOME": str(tmp_path), "PATH": "/usr/bin:/bin"}, timeout=30).stdout.splitlines()
    assert out[0].split()[:4] == ["NAME", "READY", "STATUS", "RESTARTS"]
    assert all(line.split()[1:3] == ["2/2", "Running"] for line in out[1:]) and len(out) == 7
    env = {"HOME": str(tmp_path), "PATH": "/usr/bin:/bin"}
    p = subprocess.run([kubectl, f"--kubeconfig={kc}", "scale", "deploy/ratings-v1", "--replicas=3"], capture_output=True,
                       text=True, env=env, timeout=30)
    assert p.returncode == 0 and "deployment.apps/ratings-v1 scaled" in p.stdout, p.stderr
    p = subprocess.run([kubectl, f"--kubeconfig={kc}", "rollout", "status", "deploy/ratings-v1", "--timeout=10s"],
                       capture_output=True, text=True, env=env, timeout=30)
    assert "successfully rolled out" in p.stdout, p.stderr
    emu, _ = cluster
    assert sum(1 for n in pods(emu) if n.startswith("ratings-v1-")) == 3


def test_official_typed_client_reads_the_emulator(cluster: tuple[KubeEmulator, str]) -> None:
    """The generated (pydantic) models of the official client accept what the emulator serves."""
    from kubernetes import client, config

    emu, kc = cluster
    api = config.new_client_from_config(kc)
    try:
        pods_ = client.CoreV1Api(api).list_namespaced_pod("default")
        assert len(pods_.items) == 6 and all(p.status.pod_ip and p.status.phase == "Running" for p in pods_.items)
        assert len(client.DiscoveryV1Api(api).list_endpoint_slice_for_all_namespaces().items) == 5
        deploys = client.AppsV1Api(api).list_deployment_for_all_namespaces().items
        assert {d.metadata.name: d.status.ready_replicas for d in deploys}["reviews-v2"] == 1
        vs = client.CustomObjectsApi(api).list_cluster_custom_object("networking.istio.io", "v1", "virtualservices")
        assert sorted(i["metadata"]["name"] for i in vs["items"]) == ["bookinfo", "ratings", "reviews"]
    finally:
        api.close()


@pytest.mark.envoy
def test_graph_source_from_the_cluster(cluster: tuple[KubeEmulator, str]) -> None:
    """Graph config from the cache (workloads = Deployments), proxies' stats through port-forwards."""
    from meshctl.envoy.runner import start_envoy
    from meshctl.sources.kubernetes.graph import kube_live_source

    emu, kc = cluster
    pod = next(n for n in pods(emu) if n.startswith("reviews-v2-"))
    with start_envoy({"node": {"id": f"sidecar~10.244.0.6~{pod}.default~default.svc.cluster.local"}}) as envoy:
        envoy.wait_ready(30)
        for name in pods(emu):  # every sidecar's admin is this one Envoy
            emu.add_port_forward("default", name, 15000, ("127.0.0.1", envoy.admin_port))
        src = kube_live_source(kc, namespace="default")
        try:
            snap = src.snapshot()
        finally:
            src.close()
    assert {t.workload for t in snap.proxies} == {"productpage-v1", "details-v1", "ratings-v1", "reviews-v1", "reviews-v2", "reviews-v3"}
    assert all(t.admin_url.startswith("http://127.0.0.1:") for t in snap.proxies)
    assert not snap.errors, snap.errors
    nodes = set(snap.graph.nodes)
    assert {"wl:default/reviews-v2", "svc:default/reviews"} <= nodes
    assert not any(n.startswith("wl:default/reviews-v2-") for n in nodes)  # pods fold into their Deployment
