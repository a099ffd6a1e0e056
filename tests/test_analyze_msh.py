"""meshctl's own checks (MSH codes): each fires on the mistake it names and stays quiet on the fix."""

from __future__ import annotations

from meshctl.analyze import analyze
from meshctl.analyze.registry import builtin_analyzers, select
from meshctl.sources import load_text

SVC = "apiVersion: v1\nkind: Service\nmetadata: {{name: {n}, namespace: shop}}\nspec:\n  selector: {{app: {n}}}\n  ports: [{{name: http, port: 80}}]\n"
POD = ("apiVersion: v1\nkind: Pod\nmetadata: {{name: {n}, namespace: shop, labels: {{app: {app}, version: {v}}}}}\n"
       "spec:\n  containers: [{{name: app, image: a, ports: [{{containerPort: 80}}]}}, {{name: istio-proxy, image: p}}]\nstatus: {{podIP: {ip}}}\n")


def run(text: str, analyzer: str) -> list:
    return analyze(load_text(text, "m.yaml", default_namespace=""), analyzers=select(builtin_analyzers(), [analyzer])).messages


def vs(name: str, body: str, hosts: str = "[reviews]", extra: str = "") -> str:
    return f"apiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata: {{name: {name}, namespace: shop{extra}}}\nspec:\n  hosts: {hosts}\n{body}"


SHADOW = "meshctl.ShadowedRouteAnalyzer"


def _rules(*matches: str) -> str:
    """An http section with one rule per entry: "" = no match, otherwise the flow-YAML of ``match``."""
    out = "  http:\n"
    for i, m in enumerate(matches):
        out += (f"  - match: {m}\n" if m else "  -") + (f"    route: [{{destination: {{host: reviews, subset: v{i}}}}}]\n" if m else f" route: [{{destination: {{host: reviews, subset: v{i}}}}}]\n")
    return out


def test_msh0001_catch_all_shadows_later_routes() -> None:
    msgs = run(vs("r", _rules("[{uri: {prefix: /}}]", "[{headers: {end-user: {exact: jason}}}]")), SHADOW)
    assert [(m.code, m.line, m.path) for m in msgs] == [("MSH0001", 9, "spec.http[1]")]
    assert "rule #0 comes first and its match takes every request" in msgs[0].text
    assert run(vs("r", _rules("[{uri: {prefix: /api}}]", "[{headers: {end-user: {exact: jason}}}]")), SHADOW) == []


def test_msh0001_rule_without_match_first() -> None:
    """The commonest mistake: a default rule (no match) before the specific ones. Pilot stops generating routes
    after it, so every later rule is dead; IST0130 (Istio's check) stays silent because only one rule is matchless."""
    text = vs("r", _rules("", "[{uri: {prefix: /api}}]", "[{headers: {x: {exact: y}}}]"))
    msgs = run(text, SHADOW)
    assert [(m.code, m.path) for m in msgs] == [("MSH0001", "spec.http[1]"), ("MSH0001", "spec.http[2]")]
    assert "rule #0 comes first and it has no match" in msgs[0].text
    assert [m.code for m in run(text, "schema.ValidationAnalyzer")] == []  # Istio's IST0130 semantics unchanged
    # the default rule last is the correct order
    assert run(vs("r", _rules("[{uri: {prefix: /api}}]", "[{headers: {x: {exact: y}}}]", "")), SHADOW) == []
    # a second matchless rule is Istio's IST0130, not repeated as MSH0001
    two = run(vs("r", _rules("", "")), "schema.ValidationAnalyzer")
    assert [m.code for m in two] == ["IST0130"] and run(vs("r", _rules("", "")), SHADOW) == []


def test_msh0001_catch_all_by_content() -> None:
    for catch in ("[{uri: {regex: .*}}]", "[{}]", "[{name: all, uri: {prefix: /}, ignoreUriCase: true}]",
                  "[{uri: {prefix: /api}}, {uri: {regex: '^/.*$'}}]"):
        msgs = run(vs("r", _rules(catch, "[{uri: {exact: /x}}]")), SHADOW)
        assert [m.code for m in msgs] == ["MSH0001"], catch
    # anything besides the path narrows the rule: later rules stay reachable
    for narrow in ("[{uri: {prefix: /}, headers: {x: {exact: y}}}]", "[{uri: {prefix: /}, queryParams: {q: {exact: '1'}}}]",
                   "[{uri: {prefix: /}, method: {exact: GET}}]", "[{uri: {prefix: /}, withoutHeaders: {x: {exact: y}}}]",
                   "[{uri: {regex: '/a.*'}}]", "[{uri: {prefix: /}, port: 8080}]", "[{uri: {prefix: /}, sourceLabels: {app: a}}]"):
        assert run(vs("r", _rules(narrow, "[{uri: {exact: /x}}]")), SHADOW) == [], narrow
    # ... unless the later rule is narrowed the same way (same port)
    msgs = run(vs("r", _rules("[{uri: {prefix: /}, port: 8080}]", "[{uri: {exact: /x}, port: 8080}]")), SHADOW)
    assert [m.code for m in msgs] == ["MSH0001"]


GW = """apiVersion: networking.istio.io/v1
kind: Gateway
metadata: {name: gw, namespace: istio-system}
spec:
  selector: {istio: ingressgateway}
  servers:
  - port: {number: 80, name: http, protocol: HTTP}
    hosts: ["*"]
---
apiVersion: v1
kind: Pod
metadata: {name: ingress-0, namespace: istio-system, labels: {istio: ingressgateway}}
spec: {containers: [{name: istio-proxy, image: proxyv2}]}
status: {podIP: 10.0.0.9}
"""


def test_msh0001_across_virtual_services_from_envoy_routes() -> None:
    """Gateways merge VirtualServices for a host in creation order (the translator builds Envoy's table): an older
    /api prefix route hides a newer /api/v2 one, while an older catch-all does not (Istio moves it last)."""
    gw = "  gateways: [istio-system/gw]\n"
    route = "  http:\n  - match: [{{uri: {{prefix: {p}}}}}]\n    route: [{{destination: {{host: {h}}}}}]\n"
    older = vs("old", gw + route.format(p="/api", h="a"), "[shop.example.com]", ", creationTimestamp: '2024-01-01T00:00:00Z'")
    newer = vs("new", gw + route.format(p="/api/v2", h="b"), "[shop.example.com]", ", creationTimestamp: '2024-02-01T00:00:00Z'")
    msgs = run("---\n".join([GW, SVC.format(n="a"), SVC.format(n="b"), older, newer]), "meshctl.ShadowedRouteAnalyzer")
    assert [(m.code, m.origin) for m in msgs] == [("MSH0001", "VirtualService shop/new")]
    assert "Envoy matches a route of VirtualService shop/old first" in msgs[0].text
    catch_all = vs("old", gw + "  http:\n  - route: [{destination: {host: a}}]\n", "[shop.example.com]", ", creationTimestamp: '2024-01-01T00:00:00Z'")
    assert run("---\n".join([GW, SVC.format(n="a"), SVC.format(n="b"), catch_all, newer]), "meshctl.ShadowedRouteAnalyzer") == []


def test_msh0002_weights() -> None:
    body = "  http:\n  - route:\n    - {destination: {host: a}, weight: 70}\n    - {destination: {host: b}, weight: 20}\n"
    msgs = run(vs("w", body), "meshctl.RouteWeightAnalyzer")
    assert [m.code for m in msgs] == ["MSH0002"] and "add up to 90" in msgs[0].text and "70:20" in msgs[0].text
    assert run(vs("w", body.replace("20}", "30}")), "meshctl.RouteWeightAnalyzer") == []


def test_msh0003_and_msh0004_subsets() -> None:
    dr = ("apiVersion: networking.istio.io/v1\nkind: DestinationRule\nmetadata: {name: reviews, namespace: other}\nspec:\n"
          "  host: reviews.shop.svc.cluster.local\n  exportTo: [.]\n  subsets: [{name: v1, labels: {version: v1}}]\n")
    route = "  http:\n  - route: [{destination: {host: reviews, subset: v1}}]\n"
    msgs = run(SVC.format(n="reviews") + "---\n" + dr + "---\n" + vs("r", route), "meshctl.SubsetAnalyzer")
    assert [m.code for m in msgs] == ["MSH0003"]  # the only DR defining v1 is not exported to shop
    assert "fail with 503 NC" in msgs[0].text  # no cluster for the subset: Envoy's NC flag, as describe says
    visible = dr.replace("namespace: other", "namespace: shop").replace("  exportTo: [.]\n", "").replace(
        "subsets: [{name: v1, labels: {version: v1}}]", "subsets: [{name: v1, labels: {version: v1}}, {name: v2, labels: {version: v2}}]")
    pods = POD.format(n="r1", app="reviews", v="v1", ip="10.0.0.1")
    split = "  http:\n  - route:\n    - {destination: {host: reviews, subset: v1}, weight: 90}\n    - {destination: {host: reviews, subset: v2}, weight: 10}\n"
    msgs = run("---\n".join([SVC.format(n="reviews"), pods, visible, vs("r", split)]), "meshctl.SubsetAnalyzer")
    assert [(m.code, m.args[0], m.args[2]) for m in msgs] == [("MSH0004", "v2", 10)]


def test_msh0005_oldest_vs_wins_on_sidecars() -> None:
    a = vs("a-first", "  http:\n  - route: [{destination: {host: reviews}}]\n", extra=", creationTimestamp: '2024-01-01T00:00:00Z'")
    b = vs("b-second", "  http:\n  - route: [{destination: {host: reviews}}]\n", "[reviews.shop.svc.cluster.local]", ", creationTimestamp: '2024-03-01T00:00:00Z'")
    msgs = run(a + "---\n" + b, "meshctl.HostClaimAnalyzer")
    assert [(m.code, m.origin) for m in msgs] == [("MSH0005", "VirtualService shop/b-second")]
    assert "only the oldest, shop/a-first, takes effect" in msgs[0].text
    # VirtualServices no namespace sees together (exportTo) do not take the host from each other
    private_a = a.replace("spec:\n", "spec:\n  exportTo: [.]\n")
    other_ns = b.replace("namespace: shop", "namespace: web").replace("spec:\n", "spec:\n  exportTo: [.]\n")
    assert run(private_a + "---\n" + other_ns, "meshctl.HostClaimAnalyzer") == []
    assert [m.code for m in run(a + "---\n" + other_ns, "meshctl.HostClaimAnalyzer")] == ["MSH0005"]


def test_msh0006_port_level_settings_drop_top_level() -> None:
    dr = ("apiVersion: networking.istio.io/v1\nkind: DestinationRule\nmetadata: {name: r, namespace: shop}\nspec:\n  host: reviews\n"
          "  trafficPolicy:\n    tls: {mode: ISTIO_MUTUAL}\n    loadBalancer: {simple: LEAST_REQUEST}\n"
          "    portLevelSettings:\n    - port: {number: 9080}\n      connectionPool: {tcp: {maxConnections: 10}}\n")
    msgs = run(dr, "meshctl.PortLevelSettingsAnalyzer")
    assert [m.code for m in msgs] == ["MSH0006"] and "loadBalancer/tls" in msgs[0].text and msgs[0].line == 10


def test_msh0007_sidecar_hides_destination() -> None:
    sc = ("apiVersion: networking.istio.io/v1\nkind: Sidecar\nmetadata: {name: default, namespace: shop}\nspec:\n"
          "  egress: [{hosts: ['./*', 'istio-system/*']}]\n")
    route = "  http:\n  - route: [{destination: {host: ratings.data.svc.cluster.local}}]\n"
    docs = "---\n".join([SVC.format(n="reviews"), SVC.format(n="ratings").replace("namespace: shop", "namespace: data"), sc, vs("r", route)])
    msgs = run(docs, "meshctl.SidecarVisibilityAnalyzer")
    assert [(m.code, m.origin) for m in msgs] == [("MSH0007", "Sidecar shop/default")]
    assert "ratings.data.svc.cluster.local" in msgs[0].text
    assert run(docs.replace("'istio-system/*'", "'data/*'"), "meshctl.SidecarVisibilityAnalyzer") == []


def test_msh0008_mtls_mismatch() -> None:
    pa = "apiVersion: security.istio.io/v1\nkind: PeerAuthentication\nmetadata: {name: strict, namespace: shop}\nspec:\n  mtls: {mode: STRICT}\n"
    dr = ("apiVersion: networking.istio.io/v1\nkind: DestinationRule\nmetadata: {name: r, namespace: shop}\nspec:\n  host: reviews\n"
          "  trafficPolicy:\n    tls: {mode: DISABLE}\n")
    docs = "---\n".join([SVC.format(n="reviews"), POD.format(n="r1", app="reviews", v="v1", ip="10.0.0.1"), pa, dr])
    msgs = run(docs, "meshctl.MutualTLSAnalyzer")
    assert [(m.code, m.origin) for m in msgs] == [("MSH0008", "DestinationRule shop/r")]
    assert "but PeerAuthentication shop/strict sets mTLS mode STRICT" in msgs[0].text
    assert run(docs.replace("mode: DISABLE", "mode: ISTIO_MUTUAL"), "meshctl.MutualTLSAnalyzer") == []


def test_no_derived_checks_on_schema_invalid_resources() -> None:
    """A resource failing schema validation gets IST0106 only: no MSH0002 computed from the bad weight "ten"."""
    body = "  http:\n  - route:\n    - {destination: {host: a}, weight: 10}\n    - {destination: {host: b}, weight: ten}\n"
    msgs = analyze(load_text(vs("w", body), "m.yaml", default_namespace="")).messages
    assert {m.code for m in msgs} - {"POL0001"} == {"IST0106"}
    assert any(m.path == "spec.http[0].route[1].weight" for m in msgs if m.code == "IST0106")
    valid = analyze(load_text(vs("w", body.replace("ten", "20")), "m.yaml", default_namespace="")).messages
    assert "MSH0002" in {m.code for m in valid}
