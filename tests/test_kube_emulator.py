"""The Kubernetes API emulator against the real kubectl: what kubectl sees is what the emulator serves."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from meshctl.testing.kubeapi import KubeEmulator

ROOT = Path(__file__).resolve().parent.parent
BOOKINFO = ROOT / "meshctl" / "examples" / "bookinfo"
KUBECTL = shutil.which("kubectl")

needs_kubectl = pytest.mark.skipif(KUBECTL is None, reason="the real kubectl is not installed")


@pytest.fixture
def emu() -> Iterator[KubeEmulator]:
    e = KubeEmulator()
    e.load([str(BOOKINFO)])
    with e:
        yield e


@pytest.fixture
def kubectl(tmp_path: Path, emu: KubeEmulator):  # type: ignore[no-untyped-def]
    """``kubectl(*args) -> CompletedProcess`` against ``emu`` (own HOME so no discovery cache leaks in)."""
    kc = emu.write_kubeconfig(tmp_path / "kubeconfig")
    env = {"HOME": str(tmp_path), "PATH": os.environ.get("PATH", "")}

    def run(*args: str, input: str | None = None, token: str | None = None, check: bool = True) -> subprocess.CompletedProcess[str]:
        extra = [f"--token={token}"] if token else []
        p = subprocess.run([KUBECTL, f"--kubeconfig={kc}", *extra, *args], capture_output=True, text=True, env=env, input=input, timeout=30)
        if check and p.returncode != 0:
            raise AssertionError(f"kubectl {' '.join(args)} failed ({p.returncode}): {p.stderr}")
        return p

    run.env = env  # type: ignore[attr-defined]
    run.kubeconfig = kc  # type: ignore[attr-defined]
    return run


VS_DETAILS = """\
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata:
  name: details
  namespace: default
spec:
  hosts: [details]
  http:
  - route:
    - destination: {host: details, subset: SUBSET}
"""


@needs_kubectl
def test_kubectl_get_virtualservices_all_namespaces(kubectl) -> None:  # type: ignore[no-untyped-def]
    out = kubectl("get", "virtualservices", "-A").stdout.splitlines()
    assert out[0].split() == ["NAMESPACE", "NAME", "GATEWAYS", "HOSTS", "AGE"]
    rows = {tuple(line.split()[:2]) for line in out[1:]}
    assert rows == {("default", "bookinfo"), ("default", "reviews"), ("default", "ratings")}
    reviews = next(line for line in out if " reviews " in line)
    assert '["reviews"]' in reviews
    # short names and -o yaml round-trip the stored object
    doc = yaml.safe_load(kubectl("get", "vs", "reviews", "-n", "default", "-o", "yaml").stdout)
    assert doc["spec"]["hosts"] == ["reviews"] and doc["metadata"]["resourceVersion"]


@needs_kubectl
def test_kubectl_get_builtin_tables(kubectl) -> None:  # type: ignore[no-untyped-def]
    out = kubectl("get", "svc", "-n", "istio-system").stdout.splitlines()
    assert out[0].split()[:5] == ["NAME", "TYPE", "CLUSTER-IP", "EXTERNAL-IP", "PORT(S)"]
    gw = out[1].split()
    assert gw[0] == "istio-ingressgateway" and gw[1] == "LoadBalancer" and gw[2].startswith("10.96.")
    names = {line.split()[0] for line in kubectl("get", "deploy", "-o", "name").stdout.splitlines()}
    assert "deployment.apps/reviews-v2" in names
    assert "virtualservices.networking.istio.io" in kubectl("get", "crd").stdout


@needs_kubectl
def test_kubectl_apply_create_configure_unchanged(kubectl, emu: KubeEmulator) -> None:  # type: ignore[no-untyped-def]
    p = kubectl("apply", "-f", "-", input=VS_DETAILS.replace("SUBSET", "v1"))
    assert "virtualservice.networking.istio.io/details created" in p.stdout
    assert emu.get("virtualservices", "details", "default", group="networking.istio.io")["spec"]["http"][0]["route"][0]["destination"]["subset"] == "v1"
    p = kubectl("apply", "-f", "-", input=VS_DETAILS.replace("SUBSET", "v2"))
    assert "configured" in p.stdout
    stored = emu.get("virtualservices", "details", "default", group="networking.istio.io")
    assert stored["spec"]["http"][0]["route"][0]["destination"]["subset"] == "v2"
    assert stored["metadata"]["generation"] == 2
    assert "kubectl.kubernetes.io/last-applied-configuration" in stored["metadata"]["annotations"]
    p = kubectl("apply", "-f", "-", input=VS_DETAILS.replace("SUBSET", "v2"))
    assert "unchanged" in p.stdout
    # built-in kinds go through strategic merge patch
    cm = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c, namespace: default}\ndata: {a: '1', b: '2'}\n"
    kubectl("apply", "-f", "-", input=cm)
    kubectl("apply", "-f", "-", input=cm.replace("b: '2'", "c: '3'"))
    assert emu.get("configmaps", "c", "default")["data"] == {"a": "1", "c": "3"}
    # server-side apply and delete
    p = kubectl("apply", "--server-side", "-f", "-", input=VS_DETAILS.replace("SUBSET", "v3"))
    assert "serverside-applied" in p.stdout
    kubectl("delete", "vs", "details", "-n", "default")
    assert "details" not in kubectl("get", "vs", "-n", "default", "-o", "name").stdout


@needs_kubectl
def test_kubectl_patch_merge_and_json(kubectl, emu: KubeEmulator) -> None:  # type: ignore[no-untyped-def]
    kubectl("patch", "vs", "reviews", "-n", "default", "--type=merge", "-p", '{"spec":{"hosts":["reviews","reviews.default"]}}')
    kubectl("patch", "dr", "reviews", "-n", "default", "--type=json", "-p", '[{"op":"remove","path":"/spec/subsets/2"}]')
    assert emu.get("virtualservices", "reviews", "default", group="networking.istio.io")["spec"]["hosts"] == ["reviews", "reviews.default"]
    assert [s["name"] for s in emu.get("destinationrules", "reviews", "default", group="networking.istio.io")["spec"]["subsets"]] == ["v1", "v2"]


@needs_kubectl
def test_kubectl_get_watch_sees_changes(kubectl, emu: KubeEmulator, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    out = tmp_path / "watch.out"
    with open(out, "w") as fh:
        proc = subprocess.Popen([KUBECTL, f"--kubeconfig={kubectl.kubeconfig}", "get", "vs", "-n", "default", "-w", "-o", "name"],
                                stdout=fh, stderr=subprocess.STDOUT, env=kubectl.env)
    try:
        deadline = time.monotonic() + 15
        while out.read_text().count("\n") < 3 and time.monotonic() < deadline:
            time.sleep(0.05)
        emu.apply_yaml(VS_DETAILS.replace("SUBSET", "v1"))
        emu.delete("virtualservices", "ratings", "default", group="networking.istio.io")
        while out.read_text().count("\n") < 5 and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        proc.terminate()
        proc.wait(10)
    lines = out.read_text().split()
    assert lines[:3] == ["virtualservice.networking.istio.io/bookinfo", "virtualservice.networking.istio.io/ratings",
                         "virtualservice.networking.istio.io/reviews"]
    assert lines[3:5] == ["virtualservice.networking.istio.io/details", "virtualservice.networking.istio.io/ratings"]


@needs_kubectl
def test_kubectl_custom_crd_then_resource(kubectl) -> None:  # type: ignore[no-untyped-def]
    crd = {
        "apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
        "metadata": {"name": "widgets.example.com"},
        "spec": {"group": "example.com", "scope": "Namespaced",
                 "names": {"kind": "Widget", "plural": "widgets", "singular": "widget", "listKind": "WidgetList"},
                 "versions": [{"name": "v1", "served": True, "storage": True,
                               "schema": {"openAPIV3Schema": {"type": "object", "x-kubernetes-preserve-unknown-fields": True}},
                               "additionalPrinterColumns": [{"name": "Size", "type": "integer", "jsonPath": ".spec.size"}]}]},
    }
    kubectl("apply", "-f", "-", input=yaml.safe_dump(crd))
    kubectl("apply", "-f", "-", input="apiVersion: example.com/v1\nkind: Widget\nmetadata: {name: w1, namespace: default}\nspec: {size: 3}\n")
    out = kubectl("get", "widgets").stdout.splitlines()
    assert out[0].split() == ["NAME", "SIZE", "AGE"] and out[1].split()[:2] == ["w1", "3"]


@needs_kubectl
def test_kubectl_sees_401_and_403(kubectl, emu: KubeEmulator) -> None:  # type: ignore[no-untyped-def]
    # kubectl sends bearer tokens only over TLS: restart the same emulator with HTTPS
    emu.stop()
    emu.tls = True
    emu.start()
    emu.write_kubeconfig(kubectl.kubeconfig)
    emu.tokens = {"good": "alice"}
    p = kubectl("get", "vs", "-A", token="bad", check=False)
    assert p.returncode != 0 and "You must be logged in to the server" in p.stderr
    emu.deny("list", "virtualservices", "networking.istio.io", user="alice")
    p = kubectl("get", "vs", "-A", token="good", check=False)
    assert p.returncode != 0
    assert 'User "alice" cannot list resource "virtualservices" in API group "networking.istio.io" at the cluster scope' in p.stderr
    assert kubectl("get", "dr", "-A", token="good").returncode == 0


def test_cli_kube_emulator_serves_until_interrupted(tmp_path: Path) -> None:
    kc = tmp_path / "kc.yaml"
    proc = subprocess.Popen([sys.executable, "-m", "meshctl", "x", "kube-emulator", "-f", str(BOOKINFO), "--kubeconfig-out", str(kc)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT)
    try:
        deadline = time.monotonic() + 30
        while not kc.exists() and time.monotonic() < deadline and proc.poll() is None:
            time.sleep(0.05)
        assert kc.exists(), proc.stderr.read() if proc.stderr else ""
        from meshctl.sources.kubernetes import load_cluster

        res = load_cluster(str(kc), all_namespaces=True)
        assert {r.ref for r in res if r.kind == "VirtualService"} == {
            "VirtualService default/bookinfo", "VirtualService default/reviews", "VirtualService default/ratings"}
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            rc = proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            raise
    err = proc.stderr.read() if proc.stderr else ""
    assert rc == 0, err
    assert "Kubernetes API emulator serving" in err and "objects at http://127.0.0.1:" in err


def test_cli_kube_emulator_bad_input_is_a_clear_error(tmp_path: Path, cli) -> None:  # type: ignore[no-untyped-def]
    bad = tmp_path / "bad.yaml"
    bad.write_text("apiVersion: v1\nkind: Service\nmetadata:\n  name: [oops\n")
    code, _, err = cli(["x", "kube-emulator", "-f", str(bad)])
    assert code == 65 and str(bad) in err and "Traceback" not in err
    unknown = tmp_path / "unknown.yaml"
    unknown.write_text("apiVersion: v1\nkind: Service\nmetadata: {name: ok}\n---\napiVersion: example.com/v1\nkind: Widget\nmetadata: {name: w}\n")
    code, _, err = cli(["x", "kube-emulator", "-f", str(unknown)])
    assert code == 65 and f'{unknown}:5: Widget default/w: no matches for kind "Widget" in version "example.com/v1"' in err
    code, _, err = cli(["x", "kube-emulator", "--forward", "nonsense"])
    assert code == 64 and "--forward" in err


def test_selector_watch_reports_objects_entering_and_leaving(emu: KubeEmulator) -> None:
    import json as _json
    import urllib.request

    cm = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c", "namespace": "default", "labels": {"team": "a"}}}
    emu.apply([cm])
    rv = emu.store.rv
    emu.apply([dict(cm, metadata=dict(cm["metadata"], labels={"team": "b"}))])  # leaves team=a
    emu.apply([dict(cm, metadata=dict(cm["metadata"], labels={"team": "a"}))])  # comes back
    emu.apply([dict(cm, metadata=dict(cm["metadata"], labels={"team": "a"}), data={"x": "1"})])  # stays
    url = f"{emu.url}/api/v1/namespaces/default/configmaps?watch=true&labelSelector=team%3Da&resourceVersion={rv}&timeoutSeconds=1"
    with urllib.request.urlopen(url, timeout=10) as r:
        types = [_json.loads(line)["type"] for line in r.read().splitlines() if line.strip()]
    assert types == ["DELETED", "ADDED", "MODIFIED"]
