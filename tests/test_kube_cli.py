"""``meshctl translate -k`` end to end against the emulator (the other commands' -k have their own tests:
test_analyze_kube, test_xds_kube, test_graph_kube, test_kube_e2e)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from meshctl.testing.kubeapi import KubeEmulator

ROOT = Path(__file__).resolve().parent.parent
BOOKINFO = ROOT / "meshctl" / "examples" / "bookinfo"
REVIEWS = "outbound|9080|{}|reviews.default.svc.cluster.local"


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[tuple[KubeEmulator, str]]:
    emu = KubeEmulator(controllers=True, bookmark_interval=1.0)
    emu.load([str(BOOKINFO)])
    with emu:
        yield emu, emu.write_kubeconfig(tmp_path / "kubeconfig")


def pod_named(emu: KubeEmulator, prefix: str, ns: str = "default") -> dict:
    return next(o for o in emu.store.list(emu.store.types[("", "pods")], ns)[0] if o["metadata"]["name"].startswith(prefix))


def test_translate_k_matches_translate_f(cluster: tuple[KubeEmulator, str], cli) -> None:  # type: ignore[no-untyped-def]
    emu, kc = cluster
    pod = pod_named(emu, "productpage-v1-")
    code, live, err = cli(["translate", "-k", "--kubeconfig", kc, "--proxy", f"pod/{pod['metadata']['name']}", "-n", "default",
                           "--type", "cluster"])
    assert code == 0, err
    code, offline, err = cli(["translate", "-f", str(BOOKINFO), "--proxy", "deploy/productpage-v1", "--type", "cluster"])
    assert code == 0, err

    def names(dump: str) -> list[str]:
        return sorted(c["cluster"]["name"] for cfg in json.loads(dump)["configs"] for c in cfg.get("dynamic_active_clusters", []))

    assert names(live) == names(offline) and REVIEWS.format("v2") in names(live)
    # -f on top of -k: a changed VirtualService from a file replaces the live one
    change = Path(kc).parent / "vs.yaml"
    change.write_text("apiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata: {name: reviews, namespace: default}\n"
                      "spec:\n  hosts: [reviews]\n  http:\n  - route:\n    - destination: {host: reviews, subset: v3}\n")
    code, out, err = cli(["translate", "-k", "--kubeconfig", kc, "-f", str(change), "--proxy", f"pod/{pod['metadata']['name']}",
                          "-n", "default", "--type", "route"])
    assert code == 0, err
    assert REVIEWS.format("v3") in out and REVIEWS.format("v2") not in out


def test_translate_k_errors(cluster: tuple[KubeEmulator, str], cli, tmp_path: Path, free_port: int) -> None:  # type: ignore[no-untyped-def]
    emu, kc = cluster
    dead = KubeEmulator(port=free_port).write_kubeconfig(tmp_path / "dead")
    code, _, err = cli(["translate", "-k", "--kubeconfig", dead, "--proxy", "deploy/productpage-v1"])
    assert code == 69 and "cannot reach the Kubernetes API server" in err and "Traceback" not in err
    emu.deny("list", "pods", "")
    code, _, err = cli(["translate", "-k", "--kubeconfig", kc, "--proxy", "deploy/productpage-v1"])
    assert code == 77 and "cannot list pods at the cluster scope" in err


def test_x_model_k_shows_the_clusters_workloads(cluster: tuple[KubeEmulator, str], cli) -> None:  # type: ignore[no-untyped-def]
    emu, kc = cluster
    code, out, err = cli(["x", "model", "-k", "--kubeconfig", kc, "-o", "json"])
    assert code == 0, err
    data = json.loads(out)
    ips = {w["name"]: w.get("ip") for w in data["workloads"]}
    pod = pod_named(emu, "reviews-v2-")
    assert ips[pod["metadata"]["name"]] == pod["status"]["podIP"]
    reviews = next(s for s in data["services"] if s["host"] == "reviews.default.svc.cluster.local")
    assert len(reviews["endpoints"]) == 3
