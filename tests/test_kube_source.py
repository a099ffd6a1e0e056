"""The live cluster source against the emulator: sync, events, 410 relist, restart recovery, clear errors."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from meshctl.errors import EXIT_UNAVAILABLE
from meshctl.sources import load_paths
from meshctl.sources.kubernetes import (
    EXIT_NOPERM,
    ClusterSource,
    KubeAuthError,
    KubeClient,
    KubeConfigError,
    KubeForbiddenError,
    KubeUnreachableError,
    ResourceEvent,
    load_cluster,
)
from meshctl.testing.kubeapi import KubeEmulator

ROOT = Path(__file__).resolve().parent.parent
BOOKINFO = ROOT / "meshctl" / "examples" / "bookinfo"
ISTIO = "networking.istio.io"


@pytest.fixture
def emu() -> Iterator[KubeEmulator]:
    e = KubeEmulator(bookmark_interval=0.2)
    e.load([str(BOOKINFO)])
    with e:
        yield e


@pytest.fixture
def kubeconfig(emu: KubeEmulator, tmp_path: Path) -> str:
    return emu.write_kubeconfig(tmp_path / "kubeconfig")


class Recorder:
    """Collects events from a ClusterSource subscription, thread-safely."""

    def __init__(self) -> None:
        self.events: list[ResourceEvent] = []
        self.cond = threading.Condition()

    def __call__(self, ev: ResourceEvent) -> None:
        with self.cond:
            self.events.append(ev)
            self.cond.notify_all()

    def wait(self, n: int, timeout: float = 10.0) -> list[ResourceEvent]:
        with self.cond:
            self.cond.wait_for(lambda: len(self.events) >= n, timeout)
            return list(self.events)

    def summary(self) -> list[tuple[str, str]]:
        return [(e.type, e.resource.ref) for e in self.events]


def vs(name: str, host: str, ns: str = "default") -> dict:
    return {"apiVersion": f"{ISTIO}/v1", "kind": "VirtualService", "metadata": {"name": name, "namespace": ns},
            "spec": {"hosts": [host], "http": [{"route": [{"destination": {"host": host}}]}]}}


def test_load_cluster_returns_the_files_resources(kubeconfig: str) -> None:
    res = load_cluster(kubeconfig, all_namespaces=True)
    from_files = {r.ref for r in load_paths([str(BOOKINFO)]) if r.kind != "ServiceAccount"}
    assert from_files <= {r.ref for r in res}
    reviews = next(r for r in res if r.ref == "VirtualService default/reviews")
    assert reviews.origin == "kube" and reviews.file == "kube://emulator/default/VirtualService/reviews"
    assert reviews.api_version == f"{ISTIO}/v1" and reviews.spec["hosts"] == ["reviews"]
    assert reviews.creation_timestamp and reviews.line is None and "managedFields" not in reviews.metadata
    svc = next(r for r in res if r.ref == "Service default/reviews")
    assert svc.spec["clusterIP"].startswith("10.96.")
    assert any("gateway.networking.k8s.io is not served" in n for n in res.notes)
    assert res.context == "emulator"


def test_load_cluster_namespace_scope_keeps_istio_namespace(emu: KubeEmulator, kubeconfig: str) -> None:
    emu.apply([vs("other", "other", ns="other-ns")])
    res = load_cluster(kubeconfig, namespace="default")
    namespaces = {r.namespace for r in res if r.namespace}
    assert namespaces == {"default", "istio-system"}
    all_res = load_cluster(kubeconfig, all_namespaces=True)
    assert "VirtualService other-ns/other" in {r.ref for r in all_res}


def test_load_cluster_reads_only_the_istio_configmap(emu: KubeEmulator, kubeconfig: str) -> None:
    mesh = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "istio", "namespace": "istio-system"},
            "data": {"mesh": "defaultConfig:\n  discoveryAddress: istiod.istio-system.svc:15012\n"}}
    noise = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "kube-root-ca.crt", "namespace": "istio-system"}, "data": {}}
    emu.apply([mesh, noise, dict(mesh, metadata={"name": "istio", "namespace": "default"})])
    cms = [r for r in load_cluster(kubeconfig, all_namespaces=True) if r.kind == "ConfigMap"]
    assert [r.ref for r in cms] == ["ConfigMap istio-system/istio"]
    assert "discoveryAddress" in cms[0].obj["data"]["mesh"]


def test_pagination_gives_the_same_objects(emu: KubeEmulator, kubeconfig: str) -> None:
    emu.apply(vs(f"vs-{i:03d}", f"h{i}") for i in range(120))
    client = KubeClient.connect(kubeconfig)
    try:
        small = ClusterSource(client, page_size=7).sync().resources()
        big = ClusterSource(client, page_size=500).sync().resources()
    finally:
        client.close()
    assert sorted(r.ref for r in small) == sorted(r.ref for r in big)
    assert sum(1 for r in small if r.kind == "VirtualService") == 123
    assert any(q.get("continue") for _, _, q in emu.requests)


def test_watch_events_reach_consumers(emu: KubeEmulator, kubeconfig: str) -> None:
    rec = Recorder()
    with ClusterSource(kubeconfig=kubeconfig) as src:
        src.subscribe(rec)
        emu.apply([vs("details", "details")])
        changed = emu.get("virtualservices", "reviews", "default", group=ISTIO)
        emu.apply([dict(changed, spec={"hosts": ["reviews"], "http": [{"route": [{"destination": {"host": "reviews", "subset": "v3"}}]}]})])
        emu.delete("virtualservices", "ratings", "default", group=ISTIO)
        evs = rec.wait(3)
        assert rec.summary() == [("ADDED", "VirtualService default/details"), ("MODIFIED", "VirtualService default/reviews"),
                                 ("DELETED", "VirtualService default/ratings")]
        mod = evs[1]
        assert mod.old is not None and mod.old.spec["http"][0]["route"][0]["destination"]["subset"] == "v2"
        assert mod.resource.spec["http"][0]["route"][0]["destination"]["subset"] == "v3"
        assert not any(e.relist for e in evs)
        refs = {r.ref for r in src.resources()}
        assert "VirtualService default/details" in refs and "VirtualService default/ratings" not in refs


def test_events_iterator(emu: KubeEmulator, kubeconfig: str) -> None:
    with ClusterSource(kubeconfig=kubeconfig) as src:
        it = src.events(timeout=10)
        emu.apply([vs("details", "details")])
        ev = next(it)
        assert (ev.type, ev.resource.ref) == ("ADDED", "VirtualService default/details")


def test_forced_410_relists_without_loss_or_duplicates(emu: KubeEmulator, kubeconfig: str) -> None:
    rec = Recorder()
    with ClusterSource(kubeconfig=kubeconfig) as src:
        src.subscribe(rec)
        with emu.paused_watches():
            emu.apply([vs("details", "details")])
            cur = emu.get("virtualservices", "reviews", "default", group=ISTIO)
            emu.apply([dict(cur, spec={"hosts": ["reviews"]})])
            emu.delete("virtualservices", "ratings", "default", group=ISTIO)
            emu.compact()  # the three events above are gone from the history: watches must relist
        evs = rec.wait(3)
        assert sorted(rec.summary()) == [("ADDED", "VirtualService default/details"), ("DELETED", "VirtualService default/ratings"),
                                         ("MODIFIED", "VirtualService default/reviews")]
        assert all(e.relist for e in evs)
        # every reflector relists exactly once (the list's rv is watchable again: no relist loop)
        n = len(src._reflectors)
        assert src.wait_for(lambda s: s.stats.relists >= n)
        time.sleep(0.5)
        assert src.stats.relists == n
        # the cache now equals the server, object for object
        server = {(o["kind"], o["metadata"].get("namespace"), o["metadata"]["name"], o["metadata"]["resourceVersion"])
                  for rt in emu.store.types.values() if rt.group == ISTIO for o in emu.store.list(rt, None)[0]}
        cache = {(r.kind, r.namespace, r.name, r.extra["resourceVersion"]) for r in src.resources() if r.group == ISTIO}
        assert cache == server
        # and later changes still flow
        emu.apply([vs("after", "after")])
        rec.wait(4)
        assert rec.summary()[-1] == ("ADDED", "VirtualService default/after")
        assert len(rec.events) == 4


def test_api_server_restart_recovers(emu: KubeEmulator, kubeconfig: str) -> None:
    rec = Recorder()
    with ClusterSource(kubeconfig=kubeconfig, backoff_range=(0.05, 0.5)) as src:
        src.subscribe(rec)
        watches_before = src.stats.watches
        emu.stop()
        emu.apply([vs("while-down", "x")])
        emu.compact()
        emu.start()  # same port, same state
        rec.wait(1)
        assert rec.summary() == [("ADDED", "VirtualService default/while-down")]
        assert src.stats.watches > watches_before or src.stats.reconnects >= 1  # the watches were re-established
        emu.apply([vs("after-restart", "y")])
        rec.wait(2)
        assert rec.summary()[-1] == ("ADDED", "VirtualService default/after-restart")


def test_bookmarks_advance_the_resource_version(emu: KubeEmulator, kubeconfig: str) -> None:
    with ClusterSource(kubeconfig=kubeconfig) as src:
        emu.apply([{"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s", "namespace": "default"}}])
        vs_reflector = next(r for r in src._reflectors if r.kind.kind == "VirtualService")
        target = str(emu.store.rv)
        assert src.wait_for(lambda s: vs_reflector.rv == target, timeout=5)


def test_rbac_403_names_every_missing_permission(emu: KubeEmulator, kubeconfig: str, cli) -> None:  # type: ignore[no-untyped-def]
    emu.deny("list", "virtualservices", ISTIO)
    emu.deny("list", "pods", "")
    with pytest.raises(KubeForbiddenError) as ei:
        load_cluster(kubeconfig, all_namespaces=True)
    err = ei.value
    assert err.exit_code == EXIT_NOPERM == 77
    assert "forbidden by RBAC (403)" in str(err)
    assert "list virtualservices.networking.istio.io at the cluster scope" in str(err)
    assert "list pods at the cluster scope" in str(err)
    assert any("grant verbs [list] on virtualservices.networking.istio.io" in h for h in err.hints)
    with pytest.raises(KubeForbiddenError) as ei:
        load_cluster(kubeconfig, namespace="default")
    assert 'list pods in namespace "default"' in str(ei.value)


def test_401_expired_credentials(emu: KubeEmulator, tmp_path: Path) -> None:
    emu.tokens = {"fresh": "alice"}
    stale = emu.write_kubeconfig(tmp_path / "stale", token="expired")
    with pytest.raises(KubeAuthError) as ei:
        load_cluster(stale)
    assert ei.value.exit_code == 77 and "401 Unauthorized" in str(ei.value) and "expired or invalid" in str(ei.value)
    good = emu.write_kubeconfig(tmp_path / "good", token="fresh")
    assert load_cluster(good)


def test_unreachable_api_server(tmp_path: Path, free_port: int) -> None:
    emu = KubeEmulator(port=free_port)  # never started
    kc = emu.write_kubeconfig(tmp_path / "kc")
    with pytest.raises(KubeUnreachableError) as ei:
        load_cluster(kc)
    assert ei.value.exit_code == EXIT_UNAVAILABLE == 69
    assert f"cannot reach the Kubernetes API server at http://127.0.0.1:{free_port}" in str(ei.value)


def test_istio_crds_not_installed_is_a_note(tmp_path: Path) -> None:
    with KubeEmulator(istio_crds=False) as emu:
        emu.apply_yaml((BOOKINFO / "platform.yaml").read_text())
        res = load_cluster(emu.write_kubeconfig(tmp_path / "kc"), all_namespaces=True)
    assert {r.kind for r in res} >= {"Service", "Deployment", "Namespace"}
    assert not any(r.group.endswith("istio.io") for r in res)
    assert any("networking.istio.io is not served (Istio CRDs not installed?)" in n for n in res.notes)


def test_older_istio_versions_are_discovered(tmp_path: Path) -> None:
    crd_only_v1alpha3 = {
        "apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
        "metadata": {"name": "virtualservices.networking.istio.io"},
        "spec": {"group": ISTIO, "scope": "Namespaced", "names": {"kind": "VirtualService", "plural": "virtualservices"},
                 "versions": [{"name": "v1alpha3", "served": True, "storage": True}]},
    }
    with KubeEmulator(istio_crds=False) as emu:
        emu.apply([crd_only_v1alpha3, dict(vs("old", "old"), apiVersion=f"{ISTIO}/v1alpha3")])
        res = load_cluster(emu.write_kubeconfig(tmp_path / "kc"), all_namespaces=True)
    old = next(r for r in res if r.kind == "VirtualService")
    assert old.api_version == f"{ISTIO}/v1alpha3" and old.name == "old"


def test_kubeconfig_errors(tmp_path: Path, emu: KubeEmulator) -> None:
    with pytest.raises(KubeConfigError) as ei:
        load_cluster(str(tmp_path / "missing"))
    assert ei.value.exit_code == 64 and "kubeconfig file not found" in str(ei.value)
    kc = emu.write_kubeconfig(tmp_path / "kc")
    with pytest.raises(KubeConfigError) as ei:
        load_cluster(kc, context="nope")
    assert ei.value.exit_code == 64 and 'context "nope" does not exist (known: emulator)' in str(ei.value)
    bad = tmp_path / "bad"
    bad.write_text("clusters: [\n")
    with pytest.raises(KubeConfigError) as ei:
        load_cluster(str(bad))
    assert ei.value.exit_code == 65 and str(bad) in str(ei.value)


def test_default_reads_all_namespaces_and_reports_the_context_namespace(emu: KubeEmulator, tmp_path: Path) -> None:
    emu.apply([vs("mine", "mine", ns="team-a"), vs("theirs", "theirs", ns="team-b")])
    kc = emu.write_kubeconfig(tmp_path / "kc", namespace="team-a")
    res = load_cluster(kc)
    assert {"VirtualService team-a/mine", "VirtualService team-b/theirs"} <= {r.ref for r in res}
    assert res.namespace is None and res.namespace_default == "team-a"
    scoped = load_cluster(kc, namespace=res.namespace_default)
    assert {r.ref for r in scoped if r.kind == "VirtualService"} == {"VirtualService team-a/mine"}
    doc = yaml.safe_load(Path(kc).read_text())
    assert doc["contexts"][0]["context"]["namespace"] == "team-a"


def test_load_inputs_layers_files_and_reads_the_cluster_meshconfig(emu: KubeEmulator, kubeconfig: str, tmp_path: Path) -> None:
    from meshctl.errors import MeshctlError
    from meshctl.sources.kubernetes.inputs import load_inputs

    cm = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "istio", "namespace": "istio-system"},
          "data": {"mesh": "outboundTrafficPolicy:\n  mode: REGISTRY_ONLY\n"}}
    emu.apply([cm])
    change = tmp_path / "vs.yaml"
    change.write_text(yaml.safe_dump(vs("reviews", "reviews")))
    inputs = load_inputs([str(change)], kube=True, kubeconfig=kubeconfig)
    assert inputs.mesh_config.outbound_traffic_policy.mode == "REGISTRY_ONLY"
    reviews = [r for r in inputs.resources if r.ref == "VirtualService default/reviews"]
    assert len(reviews) == 1 and reviews[0].file == str(change)  # the file replaces the live object
    assert "VirtualService default/ratings" in {r.ref for r in inputs.resources}
    assert [r.index for r in inputs.resources] == sorted(r.index for r in inputs.resources)
    emu.apply([dict(cm, data={"mesh": "outboundTrafficPolicy:\n  mode: SOMETIMES\n"})])
    with pytest.raises(MeshctlError) as ei:
        load_inputs(kube=True, kubeconfig=kubeconfig)
    assert "kube://emulator/istio-system/ConfigMap/istio" in str(ei.value) and "SOMETIMES" in str(ei.value)


def test_kubeconfig_list_is_merged_like_kubectl(emu: KubeEmulator, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    other = KubeEmulator()  # never started: only its kubeconfig entry is used
    first = other.write_kubeconfig(tmp_path / "first", context="staging")
    second = emu.write_kubeconfig(tmp_path / "second", context="prod")
    monkeypatch.setenv("KUBECONFIG", f"{first}:{second}")
    res = load_cluster(context="prod")  # found in the second file
    assert res.context == "prod" and "VirtualService default/reviews" in {r.ref for r in res}
    with pytest.raises(KubeUnreachableError):
        load_cluster()  # current-context comes from the first file: "staging", not serving


def test_tls_with_token_verifies_the_emulator_certificate(tmp_path: Path) -> None:
    with KubeEmulator(tls=True, tokens={"s3cret": "alice"}) as emu:
        emu.apply([vs("secure", "secure")])
        assert emu.url.startswith("https://127.0.0.1:")
        res = load_cluster(emu.write_kubeconfig(tmp_path / "kc", token="s3cret"))
        assert "VirtualService default/secure" in {r.ref for r in res}
        doc = yaml.safe_load((tmp_path / "kc").read_text())
        doc["clusters"][0]["cluster"].pop("certificate-authority-data")  # then the self-signed cert is untrusted
        (tmp_path / "untrusted").write_text(yaml.safe_dump(doc))
        with pytest.raises(KubeUnreachableError) as ei:
            load_cluster(str(tmp_path / "untrusted"))
        assert "CERTIFICATE_VERIFY_FAILED" in str(ei.value) or "certificate" in str(ei.value).lower()


def test_a_fresh_api_server_on_the_same_port_is_resynced(tmp_path: Path) -> None:
    first = KubeEmulator(bookmark_interval=0.2)
    first.load([str(BOOKINFO)])
    first.start()
    kc = first.write_kubeconfig(tmp_path / "kc")
    rec = Recorder()
    try:
        with ClusterSource(kubeconfig=kc, backoff_range=(0.05, 0.5)) as src:
            src.subscribe(rec)
            first.stop()
            second = KubeEmulator(port=first.port)  # state lost: only one VirtualService now
            second.apply([vs("only", "only")])
            with second:
                assert src.wait_for(lambda s: {r.ref for r in s.resources() if r.kind == "VirtualService"}
                                    == {"VirtualService default/only"}, timeout=15)
            assert ("ADDED", "VirtualService default/only") in rec.summary()
            assert ("DELETED", "VirtualService default/reviews") in rec.summary()
    finally:
        first.stop()


def test_crds_installed_later_are_picked_up(tmp_path: Path) -> None:
    rec = Recorder()
    with KubeEmulator(istio_crds=False) as emu:
        kc = emu.write_kubeconfig(tmp_path / "kc")
        with ClusterSource(kubeconfig=kc, rediscover_interval=0.1) as src:
            src.subscribe(rec)
            assert not any(k.group == ISTIO for k in src.kinds)
            emu.store.install_istio_crds()  # `istioctl install` while meshctl watches
            emu.apply([vs("late", "late")])
            assert src.wait_for(lambda s: "VirtualService default/late" in {r.ref for r in s.resources()}, timeout=10)
            assert ("ADDED", "VirtualService default/late") in rec.summary()
            emu.delete("customresourcedefinitions", "virtualservices.networking.istio.io", group="apiextensions.k8s.io")
            assert src.wait_for(lambda s: not any(r.kind == "VirtualService" for r in s.resources()), timeout=10)
            assert ("DELETED", "VirtualService default/late") in rec.summary()
            # the watch may report the deletion before the next discovery round updates the notes
            assert src.wait_for(lambda s: any("VirtualService" in n for n in s.notes), timeout=10)

