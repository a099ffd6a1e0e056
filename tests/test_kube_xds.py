"""xDS from a live cluster: a real Envoy follows a VirtualService changed through the emulator's API."""

from __future__ import annotations

import asyncio
import json
import random
import time
from pathlib import Path

import pytest

from meshctl.envoy.runner import start_envoy
from meshctl.sources.kubernetes import ClusterSource
from meshctl.sources.kubernetes.xds import KubeMeshSource, watch_cluster
from meshctl.testing.kubeapi import KubeEmulator
from meshctl.xds.bootstrap import istio_node_id, xds_bootstrap
from meshctl.xds.cache import SnapshotCache
from meshctl.xds.server import XdsServer
from meshctl.xds.status import SyncStatus

ROOT = Path(__file__).resolve().parent.parent
BOOKINFO = ROOT / "meshctl" / "examples" / "bookinfo"
REVIEWS = "outbound|9080|{}|reviews.default.svc.cluster.local"

pytestmark = [pytest.mark.envoy, pytest.mark.timeout(120)]


def route_clusters(admin_get, route_name: str = "9080") -> set[str]:  # type: ignore[no-untyped-def]
    dump = json.loads(admin_get("/config_dump?resource=dynamic_route_configs"))
    out: set[str] = set()
    for cfg in dump.get("configs", []):
        rc = cfg.get("route_config", {})
        if rc.get("name") != route_name:
            continue
        for vh in rc.get("virtual_hosts", []):
            if not vh["name"].startswith("reviews.default"):
                continue
            for r in vh.get("routes", []):
                act = r.get("route", {})
                if "cluster" in act:
                    out.add(act["cluster"])
                for wc in act.get("weighted_clusters", {}).get("clusters", []):
                    out.add(wc["name"])
    return out


def test_envoy_follows_a_virtualservice_changed_in_the_cluster(tmp_path: Path) -> None:
    emu = KubeEmulator(controllers=True, bookmark_interval=1.0)
    emu.load([str(BOOKINFO)])
    with emu:
        kc = emu.write_kubeconfig(tmp_path / "kc")
        pod = next(o for o in emu.store.list(emu.store.types[("", "pods")], "default")[0]
                   if o["metadata"]["name"].startswith("productpage-v1-"))
        ip = f"127.{random.randint(1, 250)}.{random.randint(1, 250)}.{random.randint(2, 250)}"
        node = istio_node_id(pod["metadata"]["name"], "default", ip)

        async def main() -> None:
            cluster = await asyncio.to_thread(lambda: ClusterSource(kubeconfig=kc, backoff_range=(0.05, 0.5)).start())
            source = KubeMeshSource(cluster, loopback=True)
            await asyncio.to_thread(source.load)
            cache = SnapshotCache(resolver=source.resolve)
            source.cache = cache
            server = XdsServer(cache, SyncStatus())
            port = await server.start("127.0.0.1", 0)
            reloads: list[list[str]] = []

            async def reload() -> None:
                reloads.append(await asyncio.to_thread(source.reload))

            watcher = asyncio.create_task(watch_cluster(cluster, reload, debounce=0.05))
            envoy = None
            try:
                # start_envoy waits for readiness, which needs this loop's xDS server: run it in a thread
                envoy = await asyncio.to_thread(start_envoy, xds_bootstrap(node, xds_port=port))

                async def until(pred, what: str, timeout: float = 20.0):  # type: ignore[no-untyped-def]
                    deadline = time.monotonic() + timeout
                    while time.monotonic() < deadline:
                        got = await asyncio.to_thread(pred)
                        if got:
                            return got
                        await asyncio.sleep(0.05)
                    raise AssertionError(f"timed out: {what}; envoy log: {envoy.log_tail()}")

                before = await until(lambda: route_clusters(envoy.admin_get), "initial reviews routes")
                assert before == {REVIEWS.format("v1"), REVIEWS.format("v2"), REVIEWS.format("v3")}
                # Change routing through the API server, as `kubectl apply` would: everything to v3.
                vs = emu.get("virtualservices", "reviews", "default", group="networking.istio.io")
                spec = {"hosts": ["reviews"], "http": [{"route": [{"destination": {"host": "reviews", "subset": "v3"}}]}]}
                t0 = time.monotonic()
                emu.apply([dict(vs, spec=spec)])
                after = await until(lambda: route_clusters(envoy.admin_get) == {REVIEWS.format("v3")}, "the changed route")
                assert after and time.monotonic() - t0 < 10
                assert reloads and any(node in changed for changed in reloads)
                # proxy-status through a port-forward to "istiod" (this xDS server) on 15010, as `ps -k` does
                from meshctl.sources.kubernetes import open_istiod
                from meshctl.xds.proxystatus import fetch

                emu.apply([{"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "istiod-0", "namespace": "istio-system",
                                                                            "labels": {"app": "istiod"}},
                            "spec": {"containers": [{"name": "discovery"}]}, "status": {"phase": "Running", "podIP": "10.244.9.9"}}])
                emu.add_port_forward("istio-system", "istiod-0", 15010, ("127.0.0.1", port))

                def status() -> list:  # type: ignore[type-arg]
                    with open_istiod(kubeconfig=kc, port=15010) as pf:
                        return fetch(xds=f"127.0.0.1:{pf.local_port}")

                rows = await asyncio.to_thread(status)
                assert [r.node_id for r in rows] == [node]
                # Deleting the VirtualService falls back to the default route (all of reviews).
                emu.delete("virtualservices", "reviews", "default", group="networking.istio.io")
                await until(lambda: route_clusters(envoy.admin_get) == {"outbound|9080||reviews.default.svc.cluster.local"},
                            "the default route")
            finally:
                if envoy is not None:
                    envoy.close()
                watcher.cancel()
                await server.stop(0.5)
                await asyncio.to_thread(cluster.stop)

        asyncio.run(main())
