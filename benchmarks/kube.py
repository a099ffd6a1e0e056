"""Benchmark: live-cluster source through the Kubernetes API emulator.

1. Initial sync of 10,000 objects (VirtualServices, DestinationRules, Services, Pods in 50 namespaces):
   discovery + paginated lists until the cache equals the server ("consistent cache"), side by side with
   ``kubectl get <same kinds> -A -o json`` on the same server when kubectl is installed.
2. Watch throughput and lag: a writer makes 1,000 changes/s for 3 s; each change carries its write time,
   the subscriber measures the delay until its event arrives; the final cache must equal the server.

3. Forced 410 Gone for every watch (history compacted while 100 objects changed): time until every reflector
   relisted and the cache equals the server again.

Targets (2 shared cores, everything in one process): sync <= 5.0 s, p99 event lag <= 0.5 s, no lost event,
consistent again after the forced relist.
Exits 1 on a miss. Run: ``.venv/bin/python benchmarks/kube.py``.
"""

from __future__ import annotations

import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time

_HERE = os.path.dirname(os.path.abspath(__file__))
sys.path[:] = [p for p in sys.path if os.path.abspath(p or ".") != _HERE]  # benchmarks/xds.py shadows `xds`
sys.path.insert(0, os.path.dirname(_HERE))

from meshctl.sources.kubernetes import ClusterSource, KubeClient, ResourceEvent  # noqa: E402
from meshctl.testing.kubeapi import KubeEmulator  # noqa: E402

N_OBJECTS = 10_000
NAMESPACES = 50
RATE = 1000  # events/s
SECONDS = 3
SYNC_TARGET = 5.0
LAG_P99_TARGET = 0.5
ISTIO = "networking.istio.io/v1"


def objects() -> list[dict]:
    out: list[dict] = []
    per_kind = N_OBJECTS // 4
    for i in range(per_kind):
        ns = f"ns-{i % NAMESPACES}"
        host = f"svc-{i}"
        out.append({"apiVersion": "v1", "kind": "Service", "metadata": {"name": host, "namespace": ns, "labels": {"app": host}},
                    "spec": {"selector": {"app": host}, "ports": [{"name": "http", "port": 8080}]}})
        out.append({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": f"{host}-0", "namespace": ns, "labels": {"app": host}},
                    "spec": {"containers": [{"name": "app", "image": "app"}]}, "status": {"phase": "Running", "podIP": f"10.1.{i // 250}.{i % 250}"}})
        out.append({"apiVersion": ISTIO, "kind": "VirtualService", "metadata": {"name": host, "namespace": ns},
                    "spec": {"hosts": [host], "http": [{"route": [{"destination": {"host": host, "subset": "v1"}}], "timeout": "3s"}]}})
        out.append({"apiVersion": ISTIO, "kind": "DestinationRule", "metadata": {"name": host, "namespace": ns},
                    "spec": {"host": host, "subsets": [{"name": "v1", "labels": {"version": "v1"}}]}})
    return out


def main() -> int:
    ok = True
    emu = KubeEmulator(history=50_000)
    t0 = time.perf_counter()
    emu.apply(objects())
    seed = time.perf_counter() - t0
    emu.start()
    tmp = tempfile.mkdtemp(prefix="meshctl-bench-kube-")
    kc = emu.write_kubeconfig(os.path.join(tmp, "kubeconfig"))
    print(f"seeded {N_OBJECTS} objects into the emulator in {seed:.2f}s")

    # --- 1. initial sync --------------------------------------------------------------------------------------
    client = KubeClient.connect(kc)
    t0 = time.perf_counter()
    src = ClusterSource(client).sync()
    sync_s = time.perf_counter() - t0
    cache_count = len(src.resources())
    consistent = cache_count >= N_OBJECTS and cache_view(src) == server_view(emu, src)
    print(f"meshctl sync: {cache_count} objects in {sync_s:.2f}s ({cache_count / sync_s:,.0f} objects/s), consistent={consistent}")
    kubectl = shutil.which("kubectl")
    if kubectl:
        env = {"HOME": tmp, "PATH": os.environ.get("PATH", "")}
        t0 = time.perf_counter()
        p = subprocess.run([kubectl, f"--kubeconfig={kc}", "get", "services,pods,virtualservices,destinationrules", "-A", "-o", "json"],
                           capture_output=True, env=env, timeout=120)
        k_s = time.perf_counter() - t0
        print(f"kubectl get services,pods,virtualservices,destinationrules -A -o json: {len(p.stdout) / 1e6:.1f} MB in {k_s:.2f}s"
              f" (rc={p.returncode}); meshctl synced all {len(src.kinds)} kinds in {sync_s / k_s:.2f}x kubectl's time for 4")
    else:
        print("kubectl not installed: no side-by-side figure")
    if not consistent or sync_s > SYNC_TARGET:
        ok = False

    # --- 2. watch lag -------------------------------------------------------------------------------------------
    lags: list[float] = []
    lock = threading.Lock()
    done = threading.Event()
    total = RATE * SECONDS

    def on_event(ev: ResourceEvent) -> None:
        ts = ev.resource.annotations.get("bench/written")
        if ts and not ev.relist:
            with lock:
                lags.append(time.perf_counter() - float(ts))
                if len(lags) >= total:
                    done.set()

    src.subscribe(on_event)
    src.start()
    vs_t = emu.store.types[("networking.istio.io", "virtualservices")]
    names = [(f"ns-{i % NAMESPACES}", f"svc-{i}") for i in range(N_OBJECTS // 4)]
    t0 = time.perf_counter()
    for n in range(total):
        due = t0 + n / RATE
        delay = due - time.perf_counter()
        if delay > 0:
            time.sleep(delay)
        ns, name = names[n % len(names)]
        cur = emu.store.get(vs_t, ns, name)
        new = dict(cur, metadata=dict(cur["metadata"], annotations={"bench/written": repr(time.perf_counter())}))
        emu.store.update(vs_t, ns, name, new)
    write_s = time.perf_counter() - t0
    done.wait(30)
    with lock:
        watch_lags = list(lags)

    # --- 3. forced 410: relist of the whole cache, only the differences become events ------------------------
    with emu.paused_watches():
        for i in range(100):
            ns, name = names[i]
            cur = emu.store.get(vs_t, ns, name)
            md = {k: v for k, v in cur["metadata"].items() if k != "annotations"}
            emu.store.update(vs_t, ns, name, dict(cur, metadata=md, spec=dict(cur["spec"], hosts=[name, f"{name}.relist"])))
        emu.compact()
        relists_before = src.stats.relists
        t0 = time.perf_counter()
    # cheap progress check first (every reflector relisted), then the full comparison
    while src.stats.relists - relists_before < len(src.kinds) and time.perf_counter() - t0 < 30:
        time.sleep(0.005)
    while cache_view(src) != server_view(emu, src) and time.perf_counter() - t0 < 30:
        time.sleep(0.05)
    relist_s = time.perf_counter() - t0
    relist_ok = cache_view(src) == server_view(emu, src)
    print(f"forced 410: {src.stats.relists - relists_before} relists, cache consistent again after {relist_s:.2f}s: {relist_ok}")
    if not relist_ok:
        ok = False
    src.stop()
    client.close()
    emu.stop()

    received = len(watch_lags)
    if watch_lags:
        watch_lags.sort()
        p50, p99, mx = statistics.median(watch_lags), watch_lags[int(len(watch_lags) * 0.99) - 1], watch_lags[-1]
    else:
        p50 = p99 = mx = float("inf")
    print(f"watch: wrote {total} changes in {write_s:.2f}s ({total / write_s:,.0f}/s), received {received}; "
          f"lag p50 {p50 * 1000:.1f} ms, p99 {p99 * 1000:.1f} ms, max {mx * 1000:.1f} ms")
    final_ok = cache_view(src) == server_view(emu, src)
    print(f"after the watch phase the cache equals the server: {final_ok}")
    if received != total or p99 > LAG_P99_TARGET or not final_ok:
        ok = False
    verdict = "PASS" if ok else "FAIL"
    print(f"{verdict}: sync {cache_count} objects {sync_s:.2f}s (target <= {SYNC_TARGET}s); {RATE}/s watch events "
          f"p99 lag {p99 * 1000:.0f} ms (target <= {LAG_P99_TARGET * 1000:.0f} ms), {received}/{total} received; "
          f"consistent {relist_s:.2f}s after a forced 410")
    return 0 if ok else 1


def cache_view(src: ClusterSource) -> set[tuple[str, str, str, str, str]]:
    return {(r.group, r.kind, r.namespace or "", r.name, r.extra["resourceVersion"]) for r in src.resources()}


def server_view(emu: KubeEmulator, src: ClusterSource) -> set[tuple[str, str, str, str, str]]:
    """What the source should hold: every object of the kinds it reads (the 'istio' ConfigMap filter aside)."""
    out = set()
    for k in src.kinds:
        rt = emu.store.types[(k.group, k.plural)]
        for o in emu.store.list(rt, src.istio_namespace if k.istio_ns_only else None)[0]:
            md = o["metadata"]
            if k.keeps(md["name"]):
                out.add((k.group, k.kind, md.get("namespace", ""), md["name"], md["resourceVersion"]))
    return out


if __name__ == "__main__":
    sys.exit(main())
