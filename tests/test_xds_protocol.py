"""xDS protocol rules of the ADS server, checked response by response over real gRPC (no Envoy in between).

Each test runs the real server on a loopback port and drives one stream with :class:`AdsClient`; the
Envoy end-to-end tests live in test_xds_envoy.py.
"""

from __future__ import annotations

import json
import urllib.request
from collections.abc import Iterator

import grpc
import pytest
from envoy.service.discovery.v3 import discovery_pb2

from meshctl.xds import samples as S
from meshctl.xds import types as T
from meshctl.xds.bootstrap import istio_node_id
from meshctl.xds.cache import SnapshotCache, UnknownNodeError
from meshctl.xds.client import AdsClient, fetch_syncz
from meshctl.xds.runtime import ServerThread
from meshctl.xds.snapshot import Snapshot

NODE = istio_node_id("app-1", "default")


def snap(
    version: str, clusters: tuple[str, ...] = ("a", "b"), route_to: str = "a", port: int = 1
) -> Snapshot:
    return Snapshot.build(
        version,
        clusters=[S.cluster(c) for c in clusters],
        endpoints=[S.load_assignment(c, [("127.0.0.1", port)]) for c in clusters],
        listeners=[S.http_listener("http", 18080, "r")],
        routes=[S.route_config("r", [("/", route_to)])],
    )


@pytest.fixture
def server() -> Iterator[ServerThread]:
    cache = SnapshotCache()
    cache.set_snapshot(NODE, snap("v1"))
    with ServerThread(cache) as srv:
        yield srv


def req(
    type_url: str, names: list[str] = (), nonce: str = "", version: str = "", error: str | None = None
) -> discovery_pb2.DiscoveryRequest:  # type: ignore[assignment]
    r = discovery_pb2.DiscoveryRequest(
        type_url=type_url, resource_names=list(names), response_nonce=nonce, version_info=version
    )
    r.node.id = NODE
    if error is not None:
        r.error_detail.code = 3
        r.error_detail.message = error
    return r


def names_of(resp: discovery_pb2.DiscoveryResponse) -> list[str]:
    from meshctl.xds.protos import message_class

    out = []
    for a in resp.resources:
        m = message_class(resp.type_url)()
        a.Unpack(m)
        out.append(m.cluster_name if resp.type_url == T.ENDPOINT else m.name)
    return out


def conn_status(srv: ServerThread, short: str) -> dict:
    [c] = srv.status.to_json()
    return c["types"][short]


def test_sotw_wildcard_then_named_with_versions_and_ack(server: ServerThread) -> None:
    with AdsClient(f"127.0.0.1:{server.port}") as c:
        c.send(req(T.CLUSTER))
        cds = c.recv()
        assert cds.version_info == "v1" and cds.nonce and sorted(names_of(cds)) == ["a", "b"]
        c.send(req(T.ENDPOINT, ["a"]))
        eds = c.recv()
        assert names_of(eds) == ["a"]  # named: only what was asked for
        c.send(req(T.CLUSTER, nonce=cds.nonce, version="v1"))  # ACK
        c.send(req(T.ENDPOINT, ["a"], nonce=eds.nonce, version="v1"))  # ACK
        assert c.pending() is None  # ACKs are not answered
        assert conn_status(server, "CDS")["status"] == "SYNCED"
        # A newly requested name is answered even though nothing changed.
        c.send(req(T.ENDPOINT, ["a", "b"], nonce=eds.nonce, version="v1"))
        eds2 = c.recv()
        assert sorted(names_of(eds2)) == ["a", "b"] and eds2.nonce != eds.nonce
        # Dropping a name needs no answer.
        c.send(req(T.ENDPOINT, ["b"], nonce=eds2.nonce, version="v1"))
        assert c.pending() is None


def test_stale_nonce_is_ignored(server: ServerThread) -> None:
    with AdsClient(f"127.0.0.1:{server.port}") as c:
        c.send(req(T.ENDPOINT, ["a"]))
        first = c.recv()
        c.send(req(T.ENDPOINT, ["a", "b"], nonce=first.nonce))
        second = c.recv()
        # A request that answers the superseded response (old nonce) changes nothing and gets no answer.
        c.send(req(T.ENDPOINT, ["a", "b", "c"], nonce=first.nonce))
        assert c.pending() is None
        assert conn_status(server, "EDS")["acked_nonce"] == first.nonce
        assert second.nonce != first.nonce


def test_nack_is_recorded_and_not_resent_until_a_new_version(server: ServerThread) -> None:
    with AdsClient(f"127.0.0.1:{server.port}") as c:
        c.send(req(T.CLUSTER))
        cds = c.recv()
        c.send(req(T.CLUSTER, nonce=cds.nonce, error="Proto constraint validation failed"))
        assert c.pending(0.5) is None  # held, not resent
        st = conn_status(server, "CDS")
        assert st["status"] == "NACK" and st["nack"] == "Proto constraint validation failed"
        # The same content set again is not a new version: still nothing is sent.
        server.cache.set_snapshot(NODE, snap("v1-again"))
        assert c.pending(0.5) is None
        # A real change is pushed, and its ACK clears the NACK.
        server.cache.set_snapshot(NODE, snap("v2", clusters=("a", "b", "c")))
        cds2 = c.recv()
        assert cds2.version_info == "v2" and sorted(names_of(cds2)) == ["a", "b", "c"]
        assert conn_status(server, "CDS")["status"] == "STALE"
        c.send(req(T.CLUSTER, nonce=cds2.nonce, version="v2"))
        c.pending(0.2)
        assert conn_status(server, "CDS")["status"] == "SYNCED"


def test_push_order_and_only_changed_types(server: ServerThread) -> None:
    with AdsClient(f"127.0.0.1:{server.port}") as c:
        nonces = {}
        for t, names in ((T.CLUSTER, []), (T.ENDPOINT, ["a", "b"]), (T.LISTENER, []), (T.ROUTE, ["r"])):
            c.send(req(t, names))
            r = c.recv()
            nonces[t] = r.nonce
            c.send(req(t, names, nonce=r.nonce, version=r.version_info))
        assert c.pending() is None
        # Only the route changes: one RDS response with the new version, nothing else.
        server.cache.set_snapshot(NODE, snap("v2", route_to="b"))
        r = c.recv()
        assert r.type_url == T.ROUTE and r.version_info == "v2"
        assert c.pending() is None
        # Clusters change: CDS, then EDS (warming needs it, even unchanged), in that order.
        c.send(req(T.ROUTE, ["r"], nonce=r.nonce, version="v2"))
        server.cache.set_snapshot(NODE, snap("v3", clusters=("a", "b", "c"), route_to="b"))
        got = [c.recv().type_url, c.recv().type_url]
        assert got == [T.CLUSTER, T.ENDPOINT]
        assert c.pending() is None


def test_named_resource_missing_now_is_pushed_when_it_appears(server: ServerThread) -> None:
    with AdsClient(f"127.0.0.1:{server.port}") as c:
        c.send(req(T.ENDPOINT, ["later"]))
        assert c.pending() is None
        server.cache.set_snapshot(NODE, snap("v2", clusters=("a", "b", "later")))
        r = c.recv()
        assert r.type_url == T.ENDPOINT and names_of(r) == ["later"]


def test_unknown_node_gets_not_found_and_server_survives() -> None:
    def resolver(node_id: str, md: dict) -> Snapshot:
        raise UnknownNodeError(f"node {node_id!r} matches no workload")

    with ServerThread(SnapshotCache(resolver)) as srv:
        with AdsClient(f"127.0.0.1:{srv.port}") as c:
            c.send(req(T.CLUSTER))
            with pytest.raises(grpc.RpcError) as ei:
                c.recv()
            assert ei.value.code() == grpc.StatusCode.NOT_FOUND
            assert "matches no workload" in ei.value.details()
        assert fetch_syncz(f"127.0.0.1:{srv.port}") == []  # still serving


def _dreq(
    type_url: str, sub=(), unsub=(), nonce: str = "", initial: dict | None = None, error: str | None = None
):  # type: ignore[no-untyped-def]
    r = discovery_pb2.DeltaDiscoveryRequest(
        type_url=type_url,
        resource_names_subscribe=list(sub),
        resource_names_unsubscribe=list(unsub),
        response_nonce=nonce,
    )
    r.node.id = NODE
    for k, v in (initial or {}).items():
        r.initial_resource_versions[k] = v
    if error is not None:
        r.error_detail.code = 3
        r.error_detail.message = error
    return r


def test_delta_initial_versions_changes_and_removals(server: ServerThread) -> None:
    v1 = server.cache.get_snapshot(NODE)
    assert v1 is not None
    known = v1.digest(T.CLUSTER)
    with AdsClient(f"127.0.0.1:{server.port}", delta=True) as c:
        # Reconnect: the client already has cluster a at the current version, and a cluster that no longer exists.
        c.send(_dreq(T.CLUSTER, initial={"a": known["a"], "gone": "x"}))
        r = c.recv()
        assert [x.name for x in r.resources] == ["b"] and list(r.removed_resources) == ["gone"]
        c.send(_dreq(T.CLUSTER, nonce=r.nonce))
        assert c.pending() is None
        server.cache.set_snapshot(NODE, snap("v2", clusters=("a", "c")))
        r2 = c.recv()
        assert [x.name for x in r2.resources] == ["c"] and list(r2.removed_resources) == ["b"]
        # A NACK is held: no resend of the same content.
        c.send(_dreq(T.CLUSTER, nonce=r2.nonce, error="bad cluster"))
        assert c.pending() is None
        assert conn_status(server, "CDS")["status"] == "NACK"
        # New content lifts the hold: the rejected batch's resources that are still wanted ("c") are resent,
        # since Envoy may have rejected the whole batch; the ACK clears the NACK.
        server.cache.set_snapshot(NODE, snap("v3", clusters=("a", "c", "d")))
        r3 = c.recv()
        assert sorted(x.name for x in r3.resources) == ["c", "d"]
        c.send(_dreq(T.CLUSTER, nonce=r3.nonce))
        c.pending(0.2)
        assert conn_status(server, "CDS")["status"] == "SYNCED"
        # Named EDS: subscribe, unsubscribe; a stale nonce still changes the subscription.
        c.send(_dreq(T.ENDPOINT, sub=["a"]))
        e1 = c.recv()
        assert [x.name for x in e1.resources] == ["a"]
        c.send(_dreq(T.ENDPOINT, sub=["c"], nonce="stale"))
        e2 = c.recv()
        assert [x.name for x in e2.resources] == ["c"]


def test_syncz_over_ads_and_debug_http(server: ServerThread) -> None:
    with AdsClient(f"127.0.0.1:{server.port}") as c:
        c.send(req(T.CLUSTER))
        r = c.recv()
        c.send(req(T.CLUSTER, nonce=r.nonce, version=r.version_info))
        c.pending(0.2)
        [cc] = fetch_syncz(f"127.0.0.1:{server.port}")
        assert cc.node.id == "app-1.default"
        assert [(g.type_url, g.config_status) for g in cc.generic_xds_configs] == [(T.CLUSTER, 1)]  # SYNCED
        with urllib.request.urlopen(server.debug_url + "/debug/syncz", timeout=5) as resp:
            data = json.load(resp)
        assert data[0]["proxy"] == "app-1.default" and data[0]["types"]["CDS"]["status"] == "SYNCED"
        with urllib.request.urlopen(
            server.debug_url + "/debug/config_dump?proxyID=app-1.default", timeout=5
        ) as resp:
            dump = json.load(resp)
        [section] = [c for c in dump["configs"] if c["@type"].endswith("ClustersConfigDump")]
        clusters = section["dynamic_active_clusters"]
        assert {x["version_info"] for x in clusters} == {"v1"}
        assert sorted(x["cluster"]["name"] for x in clusters) == ["a", "b"]
    with pytest.raises(urllib.error.HTTPError) as ei:
        urllib.request.urlopen(server.debug_url + "/debug/config_dump?proxyID=nope.default", timeout=5)
    assert ei.value.code == 404
