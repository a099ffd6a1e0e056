"""EDS builder: one ClusterLoadAssignment per EDS cluster, subset filtering, locality grouping, weights, metadata,
and per-proxy locality load balancing (failover priorities, distribute)."""

from __future__ import annotations

import pytest
from envoy.config.cluster.v3 import cluster_pb2
from google.protobuf import json_format

from meshctl.model import build_mesh
from meshctl.sources import load_paths, load_text
from meshctl.translate.cluster import build_clusters
from meshctl.translate.endpoint import build_endpoints
from tests.conftest import BOOKINFO
from tests.test_model_mesh import deploy, dr, svc


def eds_of(text: str, target: str) -> dict[str, object]:
    m = build_mesh(load_text(text, "e.yaml"))
    p = m.proxy(target)
    cs = build_clusters(m, p)
    return {c.cluster_name: c for c in build_endpoints(m, p, cs)}


def addrs(cla) -> list[tuple[str, int]]:  # noqa: ANN001
    return [
        (e.endpoint.address.socket_address.address, e.endpoint.address.socket_address.port_value)
        for g in cla.endpoints
        for e in g.lb_endpoints
    ]


@pytest.fixture(scope="module")
def bookinfo():  # noqa: ANN201
    m = build_mesh(load_paths([str(BOOKINFO)]))
    p = m.proxy("deploy/productpage-v1")
    cs = build_clusters(m, p)
    return m, cs, {c.cluster_name: c for c in build_endpoints(m, p, cs)}


def test_one_assignment_per_eds_cluster_in_order(bookinfo) -> None:  # noqa: ANN001
    _, cs, eds = bookinfo
    assert list(eds) == [c.name for c in cs if c.type == cluster_pb2.Cluster.EDS]
    assert "outbound|443||books.example.com" not in eds  # STRICT_DNS carries its endpoints inline


def test_subsets_filter_endpoints_by_labels(bookinfo) -> None:  # noqa: ANN001
    m, _, eds = bookinfo
    ip = {w.name: w.ip for w in m.workloads}
    assert sorted(addrs(eds["outbound|9080||reviews.default.svc.cluster.local"])) == sorted(
        (ip[n], 9080) for n in ("reviews-v1", "reviews-v2", "reviews-v3")
    )
    assert addrs(eds["outbound|9080|v2|reviews.default.svc.cluster.local"]) == [(ip["reviews-v2"], 9080)]


def test_endpoint_metadata_and_health(bookinfo) -> None:  # noqa: ANN001
    _, _, eds = bookinfo
    [group] = eds["outbound|9080|v3|reviews.default.svc.cluster.local"].endpoints
    [ep] = group.lb_endpoints
    md = json_format.MessageToDict(ep.metadata)["filterMetadata"]
    assert md["envoy.transport_socket_match"] == {"tlsMode": "istio"}
    assert md["istio"] == {"workload": "reviews-v3;default;reviews;v3;Kubernetes"}
    assert (
        ep.health_status == 1
        and ep.load_balancing_weight.value == 1
        and group.load_balancing_weight.value == 1
    )


LOC = (
    svc("web", ports="[{name: http, port: 80, targetPort: 8080}]")
    + "".join(
        f"""---
apiVersion: v1
kind: Pod
metadata: {{name: {name}, namespace: default, labels: {{app: web, version: {ver}, topology.kubernetes.io/region: {r}, topology.kubernetes.io/zone: {z}}}}}
spec: {{containers: [{{name: c, ports: [{{containerPort: 8080}}]}}]}}
status: {{podIP: {ip}}}
"""
        for name, ver, r, z, ip in (
            ("w1", "v1", "us", "a", "10.0.0.1"),
            ("w2", "v2", "us", "b", "10.0.0.2"),
            ("w3", "v1", "eu", "a", "10.0.0.3"),
            ("w4", "v1", "us", "a", "10.0.0.4"),
        )
    )
    + """---
apiVersion: v1
kind: Pod
metadata: {name: client, namespace: default, labels: {app: client, topology.kubernetes.io/region: us, topology.kubernetes.io/zone: a}}
spec: {containers: [{name: c}]}
status: {podIP: 10.0.0.9}
"""
)


def test_locality_groups_sorted_with_summed_weights() -> None:
    cla = eds_of(LOC, "pod/client")["outbound|80||web.default.svc.cluster.local"]
    locs = [
        (g.locality.region, g.locality.zone, len(g.lb_endpoints), g.load_balancing_weight.value)
        for g in cla.endpoints
    ]
    assert locs == [("eu", "a", 1, 1), ("us", "a", 2, 2), ("us", "b", 1, 1)]
    assert all(g.priority == 0 for g in cla.endpoints)  # no outlier detection: no failover priorities


def test_failover_priorities_need_outlier_detection() -> None:
    text = LOC + dr(
        "web",
        "default",
        "web",
        "  trafficPolicy: {outlierDetection: {consecutive5xxErrors: 1}}\n  subsets: [{name: v1, labels: {version: v1}}]\n",
    )
    eds = eds_of(text, "pod/client")
    prio = {
        (g.locality.region, g.locality.zone): g.priority
        for g in eds["outbound|80||web.default.svc.cluster.local"].endpoints
    }
    assert prio == {
        ("us", "a"): 0,
        ("us", "b"): 1,
        ("eu", "a"): 2,
    }  # same zone, same region, elsewhere (compacted)
    sub = eds["outbound|80|v1|web.default.svc.cluster.local"]
    assert {(g.locality.region, g.priority) for g in sub.endpoints} == {("us", 0), ("eu", 1)}
    assert sorted(a for a, _ in addrs(sub)) == ["10.0.0.1", "10.0.0.3", "10.0.0.4"]


def test_failover_priority_labels_and_failover_to_region() -> None:
    text = LOC.replace("labels: {app: client,", "labels: {app: client, version: v1,") + dr(
        "web",
        "default",
        "web",
        """  trafficPolicy:
    outlierDetection: {consecutive5xxErrors: 1}
    loadBalancer: {localityLbSetting: {failoverPriority: [version]}}
""",
    )
    cla = eds_of(text, "pod/client")["outbound|80||web.default.svc.cluster.local"]
    prio = sorted(
        (g.priority, a)
        for g in cla.endpoints
        for a in [e.endpoint.address.socket_address.address for e in g.lb_endpoints]
    )
    assert prio == [
        (0, "10.0.0.1"),
        (0, "10.0.0.3"),
        (0, "10.0.0.4"),
        (1, "10.0.0.2"),
    ]  # same version first, locality ignored
    text = LOC + dr(
        "web",
        "default",
        "web",
        """  trafficPolicy:
    outlierDetection: {consecutive5xxErrors: 1}
    loadBalancer: {localityLbSetting: {failover: [{from: us, to: eu}]}}
""",
    )
    cla = eds_of(
        text.replace("topology.kubernetes.io/region: eu", "topology.kubernetes.io/region: ap", 0),
        "pod/client",
    )["outbound|80||web.default.svc.cluster.local"]
    assert {(g.locality.region, g.locality.zone): g.priority for g in cla.endpoints} == {
        ("us", "a"): 0,
        ("us", "b"): 1,
        ("eu", "a"): 2,
    }


def test_distribute_rewrites_locality_weights() -> None:
    text = LOC + dr(
        "web",
        "default",
        "web",
        """  trafficPolicy:
    loadBalancer: {localityLbSetting: {distribute: [{from: 'us/*', to: {'us/a': 80, 'eu/*': 20}}]}}
""",
    )
    m = build_mesh(load_text(text, "e.yaml"))
    p = m.proxy("pod/client")
    cs = {c.name: c for c in build_clusters(m, p)}
    assert cs["outbound|80||web.default.svc.cluster.local"].common_lb_config.HasField(
        "locality_weighted_lb_config"
    )
    cla = {c.cluster_name: c for c in build_endpoints(m, p, list(cs.values()))}[
        "outbound|80||web.default.svc.cluster.local"
    ]
    w = {
        (g.locality.region, g.locality.zone): (g.load_balancing_weight.value, len(g.lb_endpoints))
        for g in cla.endpoints
    }
    assert w == {
        ("us", "a"): (80, 2),
        ("eu", "a"): (20, 1),
        ("us", "b"): (1, 0),
    }  # unlisted localities emptied


def test_unhealthy_and_unknown_subset() -> None:
    text = (
        svc("web")
        + deploy("client", labels="{app: client}")
        + """---
apiVersion: v1
kind: Pod
metadata: {name: w, namespace: default, labels: {app: web}}
spec: {containers: [{name: c}]}
status: {podIP: 10.1.1.1, phase: Running, conditions: [{type: Ready, status: "False"}]}
"""
        + dr("web", "default", "web", "  subsets: [{name: none, labels: {v: x}}]\n")
    )
    eds = eds_of(text, "deploy/client")
    assert addrs(eds["outbound|80||web.default.svc.cluster.local"]) == []
    assert addrs(eds["outbound|80|none|web.default.svc.cluster.local"]) == []


def test_disabled_peer_authentication_strips_tls_mode() -> None:
    text = (
        svc("web")
        + deploy("web")
        + deploy("client", labels="{app: client}")
        + """---
apiVersion: security.istio.io/v1
kind: PeerAuthentication
metadata: {name: web, namespace: default}
spec: {selector: {matchLabels: {app: web}}, mtls: {mode: DISABLE}}
"""
    )
    [g] = eds_of(text, "deploy/client")["outbound|80||web.default.svc.cluster.local"].endpoints
    assert "envoy.transport_socket_match" not in g.lb_endpoints[0].metadata.filter_metadata


def test_workload_metadata_drops_default_revision() -> None:
    text = svc("web") + deploy("web", labels="{app: web}") + deploy("client", labels="{app: client}")
    [g] = eds_of(text, "deploy/client")["outbound|80||web.default.svc.cluster.local"].endpoints
    assert g.lb_endpoints[0].metadata.filter_metadata["istio"]["workload"] == "web;default;web;;Kubernetes"


def test_port_level_settings_drop_proxy_protocol() -> None:
    from meshctl.model.api import TrafficPolicy
    from meshctl.translate.cluster_policy import port_policy, subset_policy

    tp = TrafficPolicy.model_validate(
        {
            "proxyProtocol": {"version": "V2"},
            "loadBalancer": {"simple": "RANDOM"},
            "portLevelSettings": [{"port": {"number": 80}, "tls": {"mode": "DISABLE"}}],
        }
    )
    assert port_policy(tp, 80).proxy_protocol is None and port_policy(tp, 81).proxy_protocol.version == "V2"
    sub = TrafficPolicy.model_validate(
        {
            "connectionPool": {"tcp": {"maxConnections": 1}},
            "portLevelSettings": [{"port": {"number": 81}, "loadBalancer": {"simple": "ROUND_ROBIN"}}],
        }
    )
    merged = subset_policy(port_policy(tp, 81), sub, 81)
    assert (
        merged.load_balancer.simple == "ROUND_ROBIN" and merged.connection_pool is None
    )  # subset port-level replaces all four
    assert merged.proxy_protocol.version == "V2"
    merged80 = subset_policy(port_policy(tp, 80), sub, 80)
    assert merged80.connection_pool.tcp.max_connections == 1 and merged80.tls.mode == "DISABLE"


def test_traffic_distribution_prefer_close_forces_zone_priorities() -> None:
    text = LOC.replace(
        "ports: [{name: http, port: 80, targetPort: 8080}]",
        "ports: [{name: http, port: 80, targetPort: 8080}]\n  trafficDistribution: PreferClose",
        1,
    )
    cla = eds_of(text, "pod/client")["outbound|80||web.default.svc.cluster.local"]
    prio = sorted(
        (g.priority, e.endpoint.address.socket_address.address) for g in cla.endpoints for e in g.lb_endpoints
    )
    # no outlier detection needed: same zone first, then same region, then elsewhere
    assert prio == [(0, "10.0.0.1"), (0, "10.0.0.4"), (1, "10.0.0.2"), (2, "10.0.0.3")]
