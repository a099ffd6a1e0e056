"""Unit tests of VS HTTPRoute -> Envoy Route against the spec table (istio-translation.md §3.2-§3.3, §9).

Typed configs are built directly from the Istio API models, so each test states the VS fragment it maps.
"""

from __future__ import annotations

from typing import Any

import pytest
from envoy.config.route.v3 import route_components_pb2 as rc
from envoy.extensions.filters.http.cors.v3 import cors_pb2
from envoy.extensions.filters.http.fault.v3 import fault_pb2
from envoy.type.v3 import percent_pb2

from meshctl.model.api import DestinationRule, VirtualService
from meshctl.translate.route import (
    RouteContext,
    VSInfo,
    default_route,
    hash_policy_from_lb,
    translate_virtual_service,
)

FQDN = "reviews.default.svc.cluster.local"


def routes(http: list[dict[str, Any]], port: int = 9080, **ctx: Any) -> list[rc.Route]:
    vs = VirtualService.model_validate({"hosts": [FQDN], "http": http})
    return translate_virtual_service(
        VSInfo("reviews", "default", vs), RouteContext(listener_port=port, **ctx)
    )


def dest(subset: str | None = None, **kw: Any) -> dict[str, Any]:
    d: dict[str, Any] = {"host": FQDN}
    if subset:
        d["subset"] = subset
    d.update(kw)
    return {"destination": d}


def test_one_route_per_match_in_order_and_names() -> None:
    rs = routes(
        [
            {
                "name": "r",
                "match": [
                    {"name": "a", "uri": {"exact": "/a"}},
                    {"uri": {"prefix": "/b"}},
                    {"uri": {"regex": "/c.*"}},
                ],
                "route": [dest()],
            }
        ]
    )
    assert [r.name for r in rs] == ["r.a", "r", "r"]
    assert rs[0].match.path == "/a" and rs[1].match.prefix == "/b" and rs[2].match.safe_regex.regex == "/c.*"
    assert all(r.match.case_sensitive.value for r in rs)


def test_generation_stops_after_first_catch_all() -> None:
    rs = routes([{"name": "x", "route": [dest("v1")]}, {"name": "never", "route": [dest("v2")]}])
    assert [r.name for r in rs] == ["x"]
    rs = routes(
        [{"match": [{"uri": {"prefix": "/"}}], "route": [dest()]}, {"name": "never", "route": [dest()]}]
    )
    assert len(rs) == 1


def test_header_query_method_matchers() -> None:
    m = routes(
        [
            {
                "match": [
                    {
                        "headers": {
                            "b-hdr": {"exact": "x"},
                            "a-hdr": {"regex": "*"},
                            "c-hdr": {"prefix": "p"},
                        },
                        "withoutHeaders": {"aa": {"exact": "no"}},
                        "method": {"exact": "GET"},
                        "authority": {"exact": "h"},
                        "scheme": {"exact": "https"},
                        "queryParams": {"q": {"exact": "1"}, "p": {"regex": "\\d+"}},
                        "ignoreUriCase": True,
                    }
                ],
                "route": [dest()],
            }
        ]
    )[0].match
    assert [h.name for h in m.headers] == [
        "a-hdr",
        "aa",
        "b-hdr",
        "c-hdr",
        ":method",
        ":authority",
        ":scheme",
    ]
    a, aa, b, c = m.headers[:4]
    assert a.present_match and b.string_match.exact == "x" and c.string_match.prefix == "p"
    assert aa.invert_match and aa.treat_missing_header_as_empty and aa.string_match.exact == "no"
    assert [q.name for q in m.query_parameters] == ["p", "q"]
    assert m.query_parameters[0].string_match.safe_regex.regex == "\\d+"
    assert m.case_sensitive.value is False


def test_weights_subsets_zero_weight_skipped_and_destination_headers() -> None:
    r = routes(
        [
            {
                "route": [
                    {
                        **dest("v1"),
                        "weight": 90,
                        "headers": {"request": {"set": {"x": "1", ":authority": "auth.v1"}}},
                    },
                    {**dest("v3"), "weight": 10},
                    {**dest("v2"), "weight": 0},
                ]
            }
        ]
    )[0]
    wc = r.route.weighted_clusters.clusters
    assert [(c.name, c.weight.value) for c in wc] == [
        (f"outbound|9080|v1|{FQDN}", 90),
        (f"outbound|9080|v3|{FQDN}", 10),
    ]
    assert wc[0].request_headers_to_add[0].header.key == "x" and wc[0].host_rewrite_literal == "auth.v1"
    assert r.decorator.operation == "reviews:9080/*"  # several clusters: <vs>:<port><path>


def test_destination_port_resolution() -> None:
    assert routes([{"route": [dest(port={"number": 8080})]}])[0].route.cluster == f"outbound|8080||{FQDN}"
    # no port: the service's only port, else the listener port
    r = routes([{"route": [dest()]}], service_ports=lambda h: [7000])[0]
    assert r.route.cluster == f"outbound|7000||{FQDN}"
    assert routes([{"route": [dest()]}], port=80)[0].route.cluster == f"outbound|80||{FQDN}"
    r = routes([{"route": [dest()]}])[0]
    assert r.decorator.operation == f"{FQDN}:9080/*"
    assert (
        r.metadata.filter_metadata["istio"].fields["config"].string_value
        == "/apis/networking.istio.io/v1/namespaces/default/virtual-service/reviews"
    )


def test_timeouts_default_zero_and_grpc_mirror() -> None:
    r = routes([{"route": [dest()]}])[0]
    assert r.route.timeout.seconds == 0 and r.route.HasField("timeout")
    assert r.route.max_grpc_timeout.seconds == 0 and r.route.HasField("max_grpc_timeout")
    r = routes([{"route": [dest()], "timeout": "1.5s"}])[0]
    assert (r.route.timeout.seconds, r.route.timeout.nanos) == (1, 500_000_000)
    assert r.route.max_grpc_timeout == r.route.timeout


def test_retry_defaults_and_overrides() -> None:
    p = routes([{"route": [dest()]}])[0].route.retry_policy
    assert p.num_retries.value == 2
    assert p.retry_on == "connect-failure,refused-stream,unavailable,cancelled,retriable-status-codes"
    assert list(p.retriable_status_codes) == [503]
    assert p.retry_host_predicate[0].name == "envoy.retry_host_predicates.previous_hosts"
    assert p.host_selection_retry_max_attempts == 5
    p = routes(
        [
            {
                "route": [dest()],
                "retries": {
                    "attempts": 4,
                    "perTryTimeout": "100ms",
                    "retryOn": "5xx,503,gateway-error",
                    "retryRemoteLocalities": True,
                    "backoff": "25ms",
                },
            }
        ]
    )[0].route.retry_policy
    assert p.num_retries.value == 4 and p.retry_on == "5xx,gateway-error,retriable-status-codes"
    assert list(p.retriable_status_codes) == [503] and p.per_try_timeout.nanos == 100_000_000
    assert p.retry_priority.name == "envoy.retry_priorities.previous_priorities"
    assert p.retry_back_off.base_interval.nanos == 25_000_000
    assert not routes([{"route": [dest()], "retries": {"attempts": 0}}])[0].route.HasField("retry_policy")


def test_fault_delay_and_abort_percentages() -> None:
    r = routes(
        [
            {
                "route": [dest()],
                "fault": {
                    "delay": {"fixedDelay": "5s", "percentage": {"value": 12.5}},
                    "abort": {"grpcStatus": "UNAVAILABLE"},
                },
            }
        ]
    )[0]
    f = fault_pb2.HTTPFault()
    r.typed_per_filter_config["envoy.filters.http.fault"].Unpack(f)
    assert f.delay.fixed_delay.seconds == 5
    assert (f.delay.percentage.numerator, f.delay.percentage.denominator) == (
        125000,
        percent_pb2.FractionalPercent.MILLION,
    )
    assert f.abort.grpc_status == 14 and not f.abort.HasField("percentage")
    r = routes(
        [
            {
                "route": [dest()],
                "fault": {
                    "delay": {"fixedDelay": "1s", "percent": 30},
                    "abort": {"httpStatus": 418, "percentage": {"value": 100}},
                },
            }
        ]
    )[0]
    r.typed_per_filter_config["envoy.filters.http.fault"].Unpack(f)
    assert (f.delay.percentage.numerator, f.delay.percentage.denominator) == (
        30,
        percent_pb2.FractionalPercent.HUNDRED,
    )
    assert f.abort.http_status == 418 and f.abort.percentage.numerator == 1_000_000
    # exponential delays are unsupported: Istio still attaches an (empty) fault config
    r = routes([{"route": [dest()], "fault": {"delay": {"exponentialDelay": "1s"}}}])[0]
    r.typed_per_filter_config["envoy.filters.http.fault"].Unpack(f)
    assert not f.HasField("delay") and not f.HasField("abort")


def test_mirrors() -> None:
    r = routes([{"route": [dest()], "mirror": {"host": "m.default.svc.cluster.local"}}])[0]
    (m,) = r.route.request_mirror_policies
    assert m.cluster == "outbound|9080||m.default.svc.cluster.local" and m.disable_shadow_host_suffix_append
    assert (m.runtime_fraction.default_value.numerator, m.runtime_fraction.default_value.denominator) == (
        100,
        percent_pb2.FractionalPercent.HUNDRED,
    )
    assert m.trace_sampled.value is False
    r = routes(
        [
            {
                "route": [dest()],
                "mirrors": [
                    {"destination": {"host": "a.b"}, "percentage": {"value": 5}},
                    {"destination": {"host": "c.d"}, "percentage": {"value": 0}},
                ],
            }
        ]
    )[0]
    assert [
        (m.cluster, m.runtime_fraction.default_value.numerator) for m in r.route.request_mirror_policies
    ] == [("outbound|9080||a.b", 50000)]


def test_rewrites_and_authority_precedence() -> None:
    r = routes(
        [
            {
                "route": [dest()],
                "rewrite": {"uri": "/v2"},
                "headers": {"request": {"set": {"host": "h.set"}, "add": {":authority": "h.add"}}},
            }
        ]
    )[0]
    assert r.route.prefix_rewrite == "/v2" and r.route.host_rewrite_literal == "h.set"
    assert [h.header.key for h in r.request_headers_to_add] == []  # pseudo headers / host never added
    r = routes(
        [
            {
                "route": [dest()],
                "rewrite": {"authority": "rw", "uriRegexRewrite": {"match": "^/a", "rewrite": "/b"}},
                "headers": {"request": {"set": {"host": "h"}}},
            }
        ]
    )[0]
    assert r.route.host_rewrite_literal == "rw"
    assert (r.route.regex_rewrite.pattern.regex, r.route.regex_rewrite.substitution) == ("^/a", "/b")


def test_header_operations() -> None:
    r = routes(
        [
            {
                "route": [dest()],
                "headers": {
                    "request": {"set": {"b": "1", "a": "2"}, "add": {"c": "3"}, "remove": ["d", "host"]},
                    "response": {"set": {"e": "4"}, "remove": ["f"]},
                },
            }
        ]
    )[0]
    from envoy.config.core.v3 import base_pb2

    ow, app = (
        base_pb2.HeaderValueOption.OVERWRITE_IF_EXISTS_OR_ADD,
        base_pb2.HeaderValueOption.APPEND_IF_EXISTS_OR_ADD,
    )
    assert [(h.header.key, h.append_action) for h in r.request_headers_to_add] == [
        ("a", ow),
        ("b", ow),
        ("c", app),
    ]
    assert list(r.request_headers_to_remove) == ["d"]
    assert [h.header.key for h in r.response_headers_to_add] == ["e"] and list(
        r.response_headers_to_remove
    ) == ["f"]


def test_redirects() -> None:
    r = routes(
        [
            {
                "redirect": {
                    "uri": "/n",
                    "authority": "a.com",
                    "redirectCode": 307,
                    "scheme": "https",
                    "port": 443,
                }
            }
        ]
    )[0]
    rd = r.redirect
    assert (rd.path_redirect, rd.host_redirect, rd.scheme_redirect, rd.port_redirect) == (
        "/n",
        "a.com",
        "https",
        0,
    )
    assert rd.response_code == rc.RedirectAction.TEMPORARY_REDIRECT
    rd = routes([{"redirect": {"uri": "/d", "derivePort": "FROM_REQUEST_PORT"}}], port=8080)[0].redirect
    assert rd.port_redirect == 8080 and rd.response_code == rc.RedirectAction.MOVED_PERMANENTLY
    # an unsupported redirect code: Istio emits the route without any action
    r = routes([{"redirect": {"uri": "/x", "redirectCode": 399}}])[0]
    assert r.WhichOneof("action") is None


def test_redirect_prefix_rewrite() -> None:
    """Istio's HTTPRedirect ``redirect_type`` oneof: ``prefixRewrite`` replaces only the matched prefix."""
    r = routes([{"match": [{"uri": {"prefix": "/foo/"}}], "redirect": {"prefixRewrite": "/new/"}}])[0]
    assert r.redirect.WhichOneof("path_rewrite_specifier") == "prefix_rewrite"
    assert r.redirect.prefix_rewrite == "/new/" and r.redirect.path_redirect == ""
    from meshctl.errors import InputError
    from meshctl.model.api import validate
    from meshctl.sources import load_text

    (vs,) = load_text(
        "apiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata: {name: r}\nspec:\n"
        "  hosts: [r]\n  http:\n  - redirect:\n      uri: /a\n      prefixRewrite: /b/\n",
        "vs.yaml",
    )
    with pytest.raises(InputError) as exc:
        validate(vs)
    assert (exc.value.line, exc.value.field) == (7, "spec.http[0].redirect")
    assert exc.value.message == "only one of uri, prefixRewrite may be set"


def test_direct_response() -> None:
    r = routes([{"directResponse": {"status": 503, "body": {"string": "down"}}}])[0]
    assert r.direct_response.status == 503 and r.direct_response.body.inline_string == "down"
    r = routes([{"directResponse": {"status": 200, "body": {"bytes": "aGk="}}}])[0]
    assert r.direct_response.body.inline_bytes == b"hi"


def test_cors_policy() -> None:
    r = routes(
        [
            {
                "route": [dest()],
                "corsPolicy": {
                    "allowOrigins": [{"exact": "https://a"}, {"prefix": "https://b"}],
                    "allowMethods": ["POST", "GET"],
                    "allowHeaders": ["a", "b"],
                    "exposeHeaders": ["c"],
                    "maxAge": "1m",
                    "allowCredentials": True,
                    "unmatchedPreflights": "IGNORE",
                },
            }
        ]
    )[0]
    c = cors_pb2.CorsPolicy()
    r.typed_per_filter_config["envoy.filters.http.cors"].Unpack(c)
    assert [o.WhichOneof("match_pattern") for o in c.allow_origin_string_match] == ["exact", "prefix"]
    assert (c.allow_methods, c.allow_headers, c.expose_headers, c.max_age) == ("POST,GET", "a,b", "c", "60")
    assert c.allow_credentials.value and c.forward_not_matching_preflights.value is False
    assert c.filter_enabled.default_value.numerator == 100


def test_static_match_filters() -> None:
    http = [
        {
            "match": [
                {"port": 8080, "uri": {"exact": "/p"}},
                {"sourceLabels": {"app": "x"}, "uri": {"exact": "/l"}},
                {"gateways": ["mesh"], "uri": {"exact": "/g"}},
                {"sourceNamespace": "other", "uri": {"exact": "/n"}},
            ],
            "route": [dest()],
        }
    ]
    assert [r.match.path for r in routes(http, proxy_labels={"app": "x"})] == ["/l", "/g"]
    assert [r.match.path for r in routes(http, port=8080)] == ["/p", "/g"]


def test_hash_policy_from_destination_rule_and_retry_predicate() -> None:
    dr = DestinationRule.model_validate(
        {
            "host": FQDN,
            "trafficPolicy": {
                "loadBalancer": {"consistentHash": {"httpCookie": {"name": "c", "ttl": "10s"}}}
            },
        }
    )
    hp = hash_policy_from_lb(dr.traffic_policy.load_balancer)
    assert hp is not None and hp.cookie.name == "c" and hp.cookie.ttl.seconds == 10
    r = routes([{"route": [dest()]}], hash_policy=lambda h, p: hp)[0]
    assert r.route.hash_policy[0].cookie.name == "c"
    assert (
        not r.route.retry_policy.retry_host_predicate
    )  # no previous-hosts predicate with consistent hashing
    ip = hash_policy_from_lb(
        DestinationRule.model_validate(
            {"host": "x", "trafficPolicy": {"loadBalancer": {"consistentHash": {"useSourceIp": True}}}}
        ).traffic_policy.load_balancer
    )
    assert ip is not None and ip.connection_properties.source_ip


def test_default_route() -> None:
    r = default_route(f"outbound|9080||{FQDN}", f"{FQDN}:9080")
    assert r.name == "default" and r.match.prefix == "/" and r.route.cluster == f"outbound|9080||{FQDN}"
    assert r.route.timeout.seconds == 0 and r.route.retry_policy.num_retries.value == 2
    assert r.decorator.operation == f"{FQDN}:9080/*"


def test_match_gateways_take_precedence_over_source_labels() -> None:
    http = [
        {
            "match": [{"gateways": ["mesh"], "sourceLabels": {"app": "nope"}, "uri": {"exact": "/g"}}],
            "route": [dest()],
        }
    ]
    assert [r.match.path for r in routes(http)] == ["/g"]  # Istio sourceMatchHTTP: gateways decide alone


def test_redirect_port_scheme_defaults_to_tls_of_server() -> None:
    rd = routes([{"redirect": {"uri": "/x", "port": 443}}], is_tls=True)[0].redirect
    assert rd.port_redirect == 0  # https default port omitted on a TLS server
    rd = routes([{"redirect": {"uri": "/x", "port": 443}}])[0].redirect
    assert rd.port_redirect == 443


def test_empty_prefix_header_is_not_present_match() -> None:
    m = routes([{"match": [{"headers": {"x": {"prefix": "a"}, "y": {}}}], "route": [dest()]}])[0].match
    assert m.headers[0].string_match.prefix == "a" and m.headers[1].present_match


def test_jwt_claim_matches_become_dynamic_metadata() -> None:
    m = routes(
        [
            {
                "match": [
                    {
                        "headers": {"@request.auth.claims[groups][id]": {"exact": "admin"}},
                        "withoutHeaders": {"@request.auth.claims.iss": {"prefix": "bad"}},
                    }
                ],
                "route": [dest()],
            }
        ]
    )[0].match
    assert not m.headers
    a, b = m.dynamic_metadata
    assert a.filter == "istio_authn" and [p.key for p in a.path] == ["request.auth.claims", "groups", "id"]
    assert a.value.list_match.one_of.string_match.exact == "admin" and not a.invert
    assert [p.key for p in b.path] == ["request.auth.claims", "iss"] and b.invert


def test_route_generation_invariants_property() -> None:
    """For arbitrary rule lists: one route per match in order, nothing after the first catch-all, every
    cluster named ``outbound|port|subset|host``, weights only from non-zero destinations."""
    from hypothesis import given, settings
    from hypothesis import strategies as st

    uri = st.one_of(
        st.none(),
        st.builds(lambda v: {"exact": "/" + v}, st.text("abc", max_size=3)),
        st.builds(lambda v: {"prefix": "/" + v}, st.text("abc", max_size=3)),
        st.builds(lambda v: {"regex": "/" + v + ".*"}, st.text("abc", max_size=2)),
    )
    match = st.builds(
        lambda u, h: {k: v for k, v in (("uri", u), ("headers", h)) if v},
        uri,
        st.one_of(st.none(), st.just({"x-user": {"exact": "a"}})),
    )
    dest = st.builds(
        lambda s, w: {"destination": {"host": FQDN, **({"subset": s} if s else {})}, "weight": w},
        st.sampled_from([None, "v1", "v2"]),
        st.integers(0, 100),
    )
    rule = st.builds(
        lambda ms, ds: {"match": ms, "route": ds},
        st.lists(match, max_size=3),
        # Istio's validation rejects several destinations that all weigh 0
        st.lists(dest, min_size=1, max_size=3).filter(
            lambda ds: len(ds) == 1 or any(d["weight"] for d in ds)
        ),
    )

    @settings(max_examples=60, deadline=None)
    @given(st.lists(rule, min_size=1, max_size=4))
    def check(http: list[dict[str, Any]]) -> None:
        out = routes(http)
        expected = []
        for r in http:
            ms = r["match"] or [None]
            for m in ms:
                expected.append(m)
                if m is None or (
                    not m.get("headers") and (m.get("uri") is None or m["uri"].get("prefix") == "/")
                ):
                    break
            else:
                continue
            break
        assert len(out) == len(expected)
        for r in out:
            names = (
                [r.route.cluster] if r.route.cluster else [c.name for c in r.route.weighted_clusters.clusters]
            )
            assert names and all(n.startswith("outbound|9080|") and n.endswith("|" + FQDN) for n in names)
            assert all(c.weight.value > 0 for c in r.route.weighted_clusters.clusters)

    check()
