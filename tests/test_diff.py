"""The semantic diff on dumps edited in memory: noise that must vanish, and real changes that must not."""

from __future__ import annotations

import copy
import json
from typing import Any

from conftest import FIXTURES

from meshctl.envoy.diff import diff_dumps, render_text
from meshctl.envoy.dump import ConfigDump

BASE = json.loads((FIXTURES / "pc" / "sidecar_dump.json").read_text())


def section(d: dict[str, Any], word: str) -> dict[str, Any]:
    return next(c for c in d["configs"] if c["@type"].endswith(f".{word}ConfigDump"))


def cluster(d: dict[str, Any], name: str) -> dict[str, Any]:
    return next(
        w["cluster"]
        for w in section(d, "Clusters")["dynamic_active_clusters"]
        if w["cluster"]["name"] == name
    )


def routes(d: dict[str, Any]) -> dict[str, Any]:
    return section(d, "Routes")["dynamic_route_configs"][0]["route_config"]


def diff(a: dict[str, Any], b: dict[str, Any], **kw: Any) -> Any:
    return diff_dumps(ConfigDump(a), ConfigDump(b), **kw)


def test_noise_is_not_drift() -> None:
    b = copy.deepcopy(BASE)
    for sec in b["configs"]:
        sec.pop("version_info", None)
        for key in ("dynamic_active_clusters", "dynamic_route_configs", "dynamic_endpoint_configs"):
            for w in sec.get(key, []):
                w["version_info"] = "other"
                w["last_updated"] = "2030-01-01T00:00:00Z"
    c = cluster(b, "outbound|9080||ratings.default.svc.cluster.local")
    c["connect_timeout"] = "10.000s"  # same duration, other spelling
    c["connectTimeout"] = c.pop("connect_timeout")  # camelCase spelling
    c["per_connection_buffer_limit_bytes"] = None
    c.pop("per_connection_buffer_limit_bytes")
    c["respect_dns_ttl"] = False  # an explicit proto3 default
    eds = section(b, "Endpoints")["dynamic_endpoint_configs"]
    reviews = next(
        w
        for w in eds
        if w["endpoint_config"]["cluster_name"] == "outbound|9080||reviews.default.svc.cluster.local"
    )
    reviews["endpoint_config"]["endpoints"][0]["lb_endpoints"].reverse()  # EDS order
    for lb in reviews["endpoint_config"]["endpoints"][0]["lb_endpoints"]:
        lb.pop("health_status", None)  # Envoy fills HEALTHY in
        lb.pop("load_balancing_weight", None)
    result = diff(BASE, b)
    assert result.in_sync, render_text(result)


def test_real_changes_are_reported_with_paths_and_owners() -> None:
    b = copy.deepcopy(BASE)
    cluster(b, "outbound|9080||ratings.default.svc.cluster.local")["outlier_detection"]["consecutive_5xx"] = 7
    vh = next(v for v in routes(b)["virtual_hosts"] if v["name"].startswith("reviews"))
    vh["routes"][0]["match"]["headers"][0]["string_match"]["exact"] = "mike"
    result = diff(BASE, b)
    by = {(d.kind, d.name): d for d in result.drift}
    c = by[("cluster", "outbound|9080||ratings.default.svc.cluster.local")]
    assert c.owner == "DestinationRule default/ratings"
    assert [(x.path, x.intended, x.actual) for x in c.changes] == [
        ("outlier_detection.consecutive_5xx", 5, 7)
    ]
    r = by[("route", "9080")]
    assert [(x.path, x.intended, x.actual, x.owner) for x in r.changes] == [
        (
            "virtual_hosts[reviews.default.svc.cluster.local:9080].routes[0].match.headers[end-user].string_match.exact",
            "jason",
            "mike",
            "VirtualService default/reviews",
        )
    ]


def test_route_order_change_is_drift() -> None:
    b = copy.deepcopy(BASE)
    routes(b)["virtual_hosts"][0]["routes"].append(
        {"name": "extra", "match": {"prefix": "/x"}, "route": {"cluster": "a"}}
    )
    a = copy.deepcopy(b)
    rs = routes(b)["virtual_hosts"][0]["routes"]
    rs.reverse()
    result = diff(a, b)
    (d,) = result.drift
    assert any(
        c.path.endswith("routes(order)")
        and c.intended == ["default", "extra"]
        and c.actual == ["extra", "default"]
        for c in d.changes
    )


def test_missing_extra_and_warming() -> None:
    b = copy.deepcopy(BASE)
    clusters = section(b, "Clusters")
    gone = clusters["dynamic_active_clusters"].pop(0)
    clusters.setdefault("dynamic_warming_clusters", []).append(gone)  # received, not yet active
    extra = copy.deepcopy(clusters["dynamic_active_clusters"][0])
    extra["cluster"]["name"] = "outbound|8080||new.default.svc.cluster.local"
    clusters["dynamic_active_clusters"].append(extra)
    result = diff(BASE, b)
    assert [(d.status, d.name) for d in result.drift] == [
        ("extra", "outbound|8080||new.default.svc.cluster.local")
    ]
    assert [(d.status, d.name) for d in result.warming] == [("warming", gone["cluster"]["name"])]
    text = render_text(result)
    assert "! cluster " + gone["cluster"]["name"] + ": warming" in text
    b2 = copy.deepcopy(BASE)
    section(b2, "Clusters")["dynamic_active_clusters"].pop(0)
    result = diff(BASE, b2)
    assert [(d.status, d.name) for d in result.drift] == [("missing", gone["cluster"]["name"])]


def test_loopback_bind_mode_is_normalized_only_when_detected() -> None:
    a = copy.deepcopy(BASE)
    b = copy.deepcopy(BASE)
    lis = next(x for x in section(b, "Listeners")["dynamic_listeners"] if x["name"] == "0.0.0.0_9080")
    lis["active_state"]["listener"]["address"]["socket_address"]["address"] = "127.0.0.7"
    lis["active_state"]["listener"].pop("bind_to_port")
    assert not diff(a, b).in_sync  # a real sidecar: binding elsewhere is drift
    assert diff(a, b, loopback=True).in_sync
    for d in (a, b):
        section(d, "Bootstrap")["bootstrap"]["node"]["id"] = (
            "sidecar~127.0.0.7~productpage-v1-0.default~default.svc.cluster.local"
        )
    assert diff(a, b).in_sync  # detected from the node ids


def test_unparsable_resource_still_compared_as_written() -> None:
    b = copy.deepcopy(BASE)
    cluster(b, "outbound|9080||details.default.svc.cluster.local")["connect_timeout"] = "soon"
    dump_b = ConfigDump(b)
    result = diff_dumps(ConfigDump(copy.deepcopy(BASE)), dump_b)
    (d,) = result.drift
    assert d.name == "outbound|9080||details.default.svc.cluster.local"
    assert any("cannot parse" in w for w in dump_b.warnings)


def test_committed_real_envoy_dump_matches_its_intent(cli: Any) -> None:
    """make_dumps.py stored what the real Envoy reported for pcworld's resources and the translator-shaped
    dump of the same resources: the diff must be empty, per type as well."""
    a, b = str(FIXTURES / "pc" / "sidecar_intended.json"), str(FIXTURES / "pc" / "sidecar_dump.json")
    code, out, err = cli(["pc", "diff", "--file", a, "--file", b])
    assert code == 0, out + err
    assert "In sync: 22 resources compared (11 cluster, 3 listener, 1 route, 7 endpoint)" in out
    code, out, _ = cli(["pc", "diff", "--file", a, "--file", b, "--type", "route", "-o", "json"])
    assert code == 0 and json.loads(out)["compared"] == {"route": 1}


def test_empty_message_equals_absent_only_where_presence_means_nothing() -> None:
    b = copy.deepcopy(BASE)
    lis = section(b, "Listeners")["dynamic_listeners"]
    chains = [
        fc for w in lis for fc in (w.get("active_state") or {}).get("listener", {}).get("filter_chains", [])
    ]
    bare = [fc for fc in chains if "filter_chain_match" not in fc]
    assert bare, "the fixture has a chain without a match"
    for fc in bare:
        fc["filter_chain_match"] = {}  # what Istio sends for some chains: matches all, like no match
    assert diff(BASE, b).in_sync, render_text(diff(BASE, b))
    c = cluster(b, "outbound|9080||ratings.default.svc.cluster.local")
    assert "http2_protocol_options" not in c
    c["http2_protocol_options"] = {}  # presence alone switches the upstream to HTTP/2: real drift
    result = diff(BASE, b)
    assert [(d.name, [ch.path for ch in d.changes]) for d in result.drift] == [
        ("outbound|9080||ratings.default.svc.cluster.local", ["http2_protocol_options"])
    ]
