"""``meshctl explain``: Envoy's routing decision for one request, on intended config (bookinfo through the
translator) and on actual config (a real Envoy), checked against where the real Envoy sends real requests."""

from __future__ import annotations

import collections
import http.client
import json
import sys
from collections.abc import Iterator
from typing import Any

import pytest
from conftest import BOOKINFO, FIXTURES, run_cli
from google.protobuf.json_format import ParseDict

from meshctl.envoy.dump import ConfigDump
from meshctl.envoy.explain import Request, explain, match_route, select_virtual_host

sys.path.insert(0, str(FIXTURES / "pc"))

import pcworld  # noqa: E402
from test_xds_helpers import Backend  # noqa: E402

from meshctl.envoy.runner import free_port  # noqa: E402

BI = ["-f", str(BOOKINFO), "--proxy", "deploy/productpage-v1"]
V = ".default.svc.cluster.local"


def bookinfo(url: str, *extra: str) -> dict[str, Any]:
    code, out, err = run_cli(["explain", *BI, url, *extra, "-o", "json"])
    assert code == 0, err
    return json.loads(out)


def test_bookinfo_jason_goes_to_reviews_v2() -> None:
    e = bookinfo("http://reviews:9080/", "-H", "end-user: jason")
    assert e["listener"] == "0.0.0.0_9080"
    assert e["virtual_host"] == "reviews.default.svc.cluster.local:9080"
    assert e["outcome"] == "cluster"
    assert e["clusters"] == [{"name": f"outbound|9080|v2|reviews{V}", "weight": 100}]
    assert (
        e["routes_checked"][-1]["matched"]
        and e["routes_checked"][-1]["owner"] == "VirtualService default/reviews"
    )
    assert e["cluster_info"][f"outbound|9080|v2|reviews{V}"]["owner"] == "DestinationRule default/reviews"


def test_bookinfo_others_split_90_10_and_why_jason_route_did_not_match() -> None:
    e = bookinfo("http://reviews:9080/reviews/1", "-H", "end-user: mike")
    assert e["outcome"] == "weighted"
    assert [(c["name"], c["weight"]) for c in e["clusters"]] == [
        (f"outbound|9080|v1|reviews{V}", 90),
        (f"outbound|9080|v3|reviews{V}", 10),
    ]
    first = e["routes_checked"][0]
    assert not first["matched"] and first["reason"] == 'header end-user: "mike", wants exact "jason"'


def test_bookinfo_ratings_timeout_and_retries() -> None:
    e = bookinfo("http://ratings.default.svc.cluster.local:9080/ratings/0")
    assert e["policies"]["timeout"] == "3s"
    assert e["policies"]["retries"]["num_retries"] == 3
    info = e["cluster_info"][e["clusters"][0]["name"]]
    assert "outlier_detection" in info and info["owner"] == "DestinationRule default/ratings"


def test_bookinfo_unknown_host_is_passthrough_like_istio() -> None:
    e = bookinfo("http://unknown.example.com:9080/")
    assert e["virtual_host"] == "allow_any" and e["outcome"] == "passthrough"
    assert e["clusters"] == [{"name": "PassthroughCluster", "weight": 100}]
    e = bookinfo("http://example.org:8443/")  # no listener on that port: virtualOutbound's chains
    assert e["outcome"] in ("passthrough", "blackhole")


def test_text_output_reads_like_a_decision() -> None:
    code, out, _ = run_cli(["explain", *BI, "http://reviews:9080/", "-H", "end-user: jason"])
    assert code == 0
    lines = out.splitlines()
    assert lines[0] == "Request:       GET http://reviews:9080/"
    assert any(ln.startswith("Virtual host:  reviews.default.svc.cluster.local:9080") for ln in lines)
    assert f"Action:        forward to outbound|9080|v2|reviews{V}" in lines


def test_bad_request_arguments() -> None:
    code, _, err = run_cli(["explain", *BI, "ftp://x/"])
    assert code == 64 and "expected http" in err
    code, _, err = run_cli(["explain", *BI, "http://x/", "-H", "no-colon"])
    assert code == 64 and "bad header" in err


# --- Envoy's rules, on small hand-built configs ----------------------------------------------------------------


def _rc(vhosts: list[tuple[str, list[str]]]) -> Any:
    from envoy.config.route.v3 import route_pb2

    return ParseDict(
        {"name": "r", "virtual_hosts": [{"name": n, "domains": d} for n, d in vhosts]},
        route_pb2.RouteConfiguration(),
    )


@pytest.mark.parametrize(
    ("host", "expected"),
    [
        ("api.example.com", "exact"),
        ("foo.example.com", "long-suffix"),
        ("foo.other.com", "short-suffix"),
        ("api.internal", "prefix"),
        ("nothing", "star"),
    ],
)
def test_virtual_host_precedence(host: str, expected: str) -> None:
    rc = _rc(
        [
            ("star", ["*"]),
            ("prefix", ["api.*"]),
            ("short-suffix", ["*.com"]),
            ("long-suffix", ["*.example.com"]),
            ("exact", ["api.example.com"]),
        ]
    )
    vh, _ = select_virtual_host(rc, host)
    assert vh.name == expected


def test_route_matchers() -> None:
    from envoy.config.route.v3 import route_components_pb2

    def route(match: dict[str, Any]) -> Any:
        return ParseDict({"match": match, "route": {"cluster": "c"}}, route_components_pb2.Route())

    req = Request.parse("http://h/api/v1/users?id=7", "POST", ["x-env: canary"])
    assert match_route(route({"prefix": "/api"}), req)[0]
    assert not match_route(route({"path": "/api"}), req)[0]
    assert match_route(route({"path": "/API/V1/USERS", "case_sensitive": False}), req)[0]
    assert match_route(route({"safe_regex": {"regex": "/api/v[0-9]+/.*"}}), req)[0]
    assert match_route(route({"path_separated_prefix": "/api/v1"}), req)[0]
    assert match_route(
        route({"prefix": "/", "headers": [{"name": ":method", "string_match": {"exact": "POST"}}]}), req
    )[0]
    assert not match_route(
        route({"prefix": "/", "headers": [{"name": "x-env", "string_match": {"exact": "prod"}}]}), req
    )[0]
    assert match_route(
        route(
            {
                "prefix": "/",
                "headers": [{"name": "x-env", "string_match": {"exact": "prod"}, "invert_match": True}],
            }
        ),
        req,
    )[0]
    assert not match_route(
        route({"prefix": "/", "headers": [{"name": "x-missing", "present_match": True}]}), req
    )[0]
    assert match_route(
        route({"prefix": "/", "query_parameters": [{"name": "id", "string_match": {"exact": "7"}}]}), req
    )[0]
    ok, why = match_route(
        route({"prefix": "/", "query_parameters": [{"name": "id", "string_match": {"exact": "8"}}]}), req
    )
    assert not ok and why == 'query id: "7", wants exact "8"'


# --- agreement with a real Envoy -------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def live() -> Iterator[Any]:
    backends = {name: Backend(name) for name in ("v1", "v2", "v3", "ratings", "details")}
    port = free_port()
    res = pcworld.resources(
        backends={k: b.port for k, b in backends.items()},
        outbound_port=free_port(),
        inbound_port=free_port(),
        test_port=port,
    )
    try:
        with pcworld.running(pcworld.proxy_config(res)) as w:
            w.port = port
            yield w
    finally:
        for b in backends.values():
            b.close()


def _send(port: int, host: str, headers: dict[str, str] | None = None) -> str:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    try:
        conn.request("GET", "/reviews/1", headers={"Host": host, **(headers or {})})
        return conn.getresponse().read().decode()
    finally:
        conn.close()


@pytest.mark.envoy
@pytest.mark.timeout(90)
def test_explain_agrees_with_real_envoy(live: Any) -> None:
    dump = ConfigDump(json.loads(live.dump()))
    jason = explain(
        dump,
        Request.parse(
            f"http://127.0.0.1:{live.port}/reviews/1", headers=["Host: reviews:9080", "end-user: jason"]
        ),
    )
    assert jason.listener == f"127.0.0.1_{live.port}"
    assert jason.clusters == [(f"outbound|9080|v2|reviews{V}", 100)]
    assert {_send(live.port, "reviews:9080", {"end-user": "jason"}) for _ in range(5)} == {"v2"}

    other = explain(
        dump, Request.parse(f"http://127.0.0.1:{live.port}/reviews/1", headers=["Host: reviews:9080"])
    )
    assert other.clusters == [(f"outbound|9080|v1|reviews{V}", 90), (f"outbound|9080|v3|reviews{V}", 10)]
    seen = collections.Counter(_send(live.port, "reviews:9080") for _ in range(40))
    assert set(seen) <= {"v1", "v3"} and seen["v1"] > seen["v3"]

    ratings = explain(dump, Request.parse(f"http://127.0.0.1:{live.port}/", headers=["Host: ratings"]))
    assert ratings.clusters == [(f"outbound|9080||ratings{V}", 100)]
    assert _send(live.port, "ratings") == "ratings"


@pytest.mark.envoy
@pytest.mark.timeout(90)
def test_explain_live_admin_shows_endpoint_health(live: Any) -> None:
    code, out, err = run_cli(
        [
            "explain",
            "--admin",
            live.envoy.admin_url,
            f"http://127.0.0.1:{live.port}/",
            "-H",
            "Host: reviews",
            "-H",
            "end-user: jason",
            "-o",
            "json",
        ]
    )
    assert code == 0, err
    eps = json.loads(out)["cluster_info"][f"outbound|9080|v2|reviews{V}"]["endpoints"]
    assert len(eps) == 1 and eps[0]["health"] == "HEALTHY" and eps[0]["source"] == "live /clusters"


def test_gateway_maps_service_port_to_target_port() -> None:
    gw = ["-f", str(BOOKINFO), "--proxy", "deploy/istio-ingressgateway", "-n", "istio-system"]
    code, out, err = run_cli(["explain", *gw, "http://bookinfo.example.com/productpage", "-o", "json"])
    assert code == 0, err
    e = json.loads(out)
    assert e["listener"] == "0.0.0.0_8080" and e["route_config"] == "http.8080"
    assert e["steps"][0] == {
        "stage": "gateway",
        "text": "service istio-ingressgateway port 80 -> target port 8080",
    }
    assert e["clusters"] == [{"name": f"outbound|9080||productpage{V}", "weight": 100}]
    code, out, _ = run_cli(["explain", *gw, "http://bookinfo.example.com/nope"])
    assert out.rstrip().endswith("Route:         no route of *:80 matches: Envoy answers 404 (NR)")


def test_registry_only_unknown_hosts_are_blocked(tmp_path: Any) -> None:
    mc = tmp_path / "mesh.yaml"
    mc.write_text("outboundTrafficPolicy:\n  mode: REGISTRY_ONLY\n")
    e = bookinfo("http://unknown.example.com:9080/", "--meshconfig", str(mc))
    assert (
        e["virtual_host"] == "block_all"
        and e["outcome"] == "direct_response"
        and e["response"]["status"] == 502
    )
    e = bookinfo("http://unknown.example.com:8443/", "--meshconfig", str(mc))
    assert e["outcome"] == "blackhole" and e["listener"] == "virtualOutbound"
