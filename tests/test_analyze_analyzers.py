"""Each analyzer against small fixtures of our own: the message it must emit, and a near miss it must not."""

from __future__ import annotations

from meshctl.analyze import analyze
from meshctl.analyze.registry import builtin_analyzers, select
from meshctl.sources import load_text

NS = "apiVersion: v1\nkind: Namespace\nmetadata: {{name: {n}, labels: {{istio-injection: enabled}}}}\n"


def svc(name: str, ns: str, ports: str = "[{name: http, port: 80}]", selector: str = "{app: x}") -> str:
    return f"apiVersion: v1\nkind: Service\nmetadata: {{name: {name}, namespace: {ns}}}\nspec:\n  selector: {selector}\n  ports: {ports}\n"


def pod(name: str, ns: str, labels: str, extra: str = "") -> str:
    return (f"apiVersion: v1\nkind: Pod\nmetadata:\n  name: {name}\n  namespace: {ns}\n  labels: {labels}\n{extra}"
            "spec:\n  containers: [{name: app, image: app}, {name: istio-proxy, image: proxyv2}]\n")


def run(docs: list[str], analyzer: str, mesh_config: dict | None = None) -> list[tuple[str, str]]:
    res = analyze(load_text("---\n".join(docs), "t.yaml", default_namespace=""), analyzers=select(builtin_analyzers(), [analyzer]), mesh_config=mesh_config)
    return sorted((m.code, m.origin) for m in res.messages)


VS_TO = """apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {{name: {name}, namespace: {ns}}}
spec:
  hosts: [{host}]
  http:
  - route:
    - destination: {{host: {dest}{port}}}
"""


def vs(name: str, ns: str, dest: str, host: str = "front", port: str = "") -> str:
    return VS_TO.format(name=name, ns=ns, dest=dest, host=host, port=port)


def test_destination_host_found_missing_port() -> None:
    docs = [svc("reviews", "shop", "[{name: http, port: 80}, {name: grpc, port: 81}]"), svc("one", "shop"),
            vs("ok", "shop", "one"), vs("bogus", "shop", "nope"), vs("noport", "shop", "reviews"),
            vs("badport", "shop", "one", port=", port: {number: 99}"), vs("okport", "shop", "reviews", port=", port: {number: 81}")]
    assert run(docs, "virtualservice.DestinationHostAnalyzer") == [
        ("IST0101", "VirtualService shop/badport"),
        ("IST0101", "VirtualService shop/bogus"),
        ("IST0112", "VirtualService shop/noport"),
    ]


def test_destination_host_respects_export_to() -> None:
    hidden = svc("db", "data").replace("metadata: {name: db, namespace: data}", "metadata:\n  name: db\n  namespace: data\n  annotations: {networking.istio.io/exportTo: .}")
    docs = [hidden, vs("same", "data", "db"), vs("other", "shop", "db.data.svc.cluster.local")]
    assert run(docs, "virtualservice.DestinationHostAnalyzer") == [("IST0101", "VirtualService shop/other")]


def test_files_without_services_do_not_claim_hosts_are_missing() -> None:
    assert run([vs("a", "shop", "ratings")], "virtualservice.DestinationHostAnalyzer") == []


GW = """apiVersion: networking.istio.io/v1
kind: Gateway
metadata: {{name: {name}, namespace: {ns}}}
spec:
  selector: {{istio: ingressgateway}}
  servers:
  - port: {{number: {port}, name: http, protocol: HTTP}}
    hosts: [{hosts}]
"""
GW_POD = pod("ingress", "istio-system", "{istio: ingressgateway}")
GW_SVC = svc("ingress", "istio-system", "[{name: http2, port: 80, targetPort: 8080}]", "{istio: ingressgateway}")


def test_gateway_analyzers() -> None:
    docs = [GW_POD, GW_SVC, GW.format(name="good", ns="istio-system", port=80, hosts='"a.com"'),
            GW.format(name="badport", ns="istio-system", port=9999, hosts='"b.com"'),
            GW.format(name="dup", ns="istio-system", port=80, hosts='"a.com"')]
    assert run(docs, "gateway.IngressGatewayPortAnalyzer") == [("IST0162", "Gateway istio-system/badport")]
    assert run(docs, "gateway.ConflictingGatewayAnalyzer") == [("IST0145", "Gateway istio-system/dup"), ("IST0145", "Gateway istio-system/good")]
    nopods = [GW.format(name="lonely", ns="x", port=80, hosts='"a.com"')]
    assert run(nopods, "gateway.IngressGatewayPortAnalyzer") == [("IST0101", "Gateway x/lonely")]


def test_gateway_selector_counts_deployment_templates() -> None:
    dep = ("apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: ingress, namespace: istio-system}\nspec:\n"
           "  template:\n    metadata: {labels: {istio: ingressgateway}}\n    spec: {containers: [{name: istio-proxy, image: p}]}\n")
    assert run([dep, GW_SVC, GW.format(name="g", ns="istio-system", port=80, hosts='"a.com"')], "gateway.IngressGatewayPortAnalyzer") == []


def test_vs_gateway_host_not_in_gateway_and_missing_gateway() -> None:
    v = VS_TO.format(name="web", ns="shop", host="b.com", dest="web", port="").replace("spec:\n", "spec:\n  gateways: [istio-system/gw, missing]\n")
    docs = [GW_POD, GW.format(name="gw", ns="istio-system", port=80, hosts='"a.com"'), v]
    assert run(docs, "virtualservice.GatewayAnalyzer") == [
        ("IST0101", "VirtualService shop/web"),
        ("IST0132", "VirtualService shop/web"),
        ("IST0132", "VirtualService shop/web"),
    ]


def test_conflicting_mesh_hosts() -> None:
    assert run([vs("a", "shop", "x", host="reviews"), vs("b", "shop", "x", host="reviews.shop.svc.cluster.local")],
               "virtualservice.ConflictingMeshGatewayHostsAnalyzer") == [("IST0109", "VirtualService shop/a"), ("IST0109", "VirtualService shop/b")]
    assert run([vs("a", "shop", "x", host="reviews"), vs("b", "other", "x", host="reviews")], "virtualservice.ConflictingMeshGatewayHostsAnalyzer") == []


DR = """apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {{name: {name}, namespace: shop}}
spec:
  host: {host}
{body}"""


def test_destination_rule_ca_certificates() -> None:
    simple = DR.format(name="tls", host="db", body="  trafficPolicy:\n    tls: {mode: SIMPLE}\n")
    ca = DR.format(name="ca", host="db", body="  trafficPolicy:\n    tls: {mode: SIMPLE, caCertificates: /etc/ca.pem}\n")
    port = DR.format(name="port", host="db", body="  trafficPolicy:\n    portLevelSettings:\n    - port: {number: 443}\n      tls: {mode: MUTUAL}\n")
    assert run([simple, ca, port], "destinationrule.CaCertificateAnalyzer") == [("IST0128", "DestinationRule shop/tls"), ("IST0129", "DestinationRule shop/port")]


def test_destination_rule_subsets_select_pods() -> None:
    dr = DR.format(name="r", host="reviews", body="  subsets:\n  - {name: v1, labels: {v: '1'}}\n  - {name: v9, labels: {v: '9'}}\n")
    docs = [svc("reviews", "shop"), pod("r1", "shop", "{app: x, v: '1'}"), dr, DR.format(name="ghost", host="ghost", body="")]
    assert run(docs, "destinationrule.SubsetSelectPodAnalyzer") == [("IST0173", "DestinationRule shop/r"), ("IST0174", "DestinationRule shop/ghost")]


def test_injection() -> None:
    docs = [NS.format(n="inj"), "apiVersion: v1\nkind: Namespace\nmetadata: {name: plain}\n",
            "apiVersion: v1\nkind: Namespace\nmetadata: {name: both, labels: {istio-injection: enabled, istio.io/rev: canary}}\n",
            "apiVersion: v1\nkind: Pod\nmetadata: {name: bare, namespace: inj}\nspec: {containers: [{name: app, image: a}]}\n",
            pod("good", "inj", "{app: a}")]
    assert run(docs, "injection.Analyzer") == [("IST0102", "Namespace plain"), ("IST0103", "Pod inj/bare"), ("IST0123", "Namespace both")]


def test_service_port_names_and_deployment_protocols() -> None:
    docs = [svc("ok", "shop", "[{name: http-web, port: 80}, {name: tcp, port: 81}]"), svc("bad", "shop", "[{name: web, port: 80}]"),
            svc("ext", "shop", "[{name: tcp, port: 80}]", "{}").replace("spec:\n", "spec:\n  type: ExternalName\n")]
    assert run(docs, "service.PortNameAnalyzer") == [("IST0118", "Service shop/bad"), ("IST0150", "Service shop/ext")]
    dep = ("apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web, namespace: shop}\nspec:\n  template:\n"
           "    metadata: {labels: {app: web}}\n    spec: {containers: [{name: istio-proxy, image: p}]}\n")
    two = [dep, svc("a", "shop", "[{name: http, port: 80, protocol: TCP}]", "{app: web}"), svc("b", "shop", "[{name: http, port: 80, protocol: UDP}]", "{app: web}")]
    assert run(two, "deployment.MultiServiceAnalyzer") == [("IST0116", "Deployment shop/web")]


def test_sidecar_selectors() -> None:
    sc = "apiVersion: networking.istio.io/v1\nkind: Sidecar\nmetadata: {{name: {n}, namespace: shop}}\nspec:\n{body}  egress: [{{hosts: ['./*']}}]\n"
    docs = [pod("p", "shop", "{app: a}"), sc.format(n="d1", body=""), sc.format(n="d2", body=""),
            sc.format(n="s1", body="  workloadSelector: {labels: {app: a}}\n"), sc.format(n="s2", body="  workloadSelector: {labels: {app: a}}\n"),
            sc.format(n="none", body="  workloadSelector: {labels: {app: zzz}}\n")]
    assert run(docs, "sidecar.SelectorAnalyzer") == [
        ("IST0101", "Sidecar shop/none"), ("IST0110", "Sidecar shop/s1"), ("IST0110", "Sidecar shop/s2"),
        ("IST0111", "Sidecar shop/d1"), ("IST0111", "Sidecar shop/d2"),
    ]


def test_serviceentry_addresses_and_protocol_conflicts() -> None:
    se = "apiVersion: networking.istio.io/v1\nkind: ServiceEntry\nmetadata: {{name: {n}, namespace: shop}}\nspec:\n  hosts: [db.example.com]\n{addr}  ports: [{{number: 5432, name: p, protocol: {p}}}]\n"
    docs = [se.format(n="tcp", p="TCP", addr=""), se.format(n="withaddr", p="TCP", addr="  addresses: [10.0.0.1]\n"), se.format(n="http", p="HTTP", addr="")]
    assert run(docs, "serviceentry.Analyzer") == [("IST0134", "ServiceEntry shop/tcp")]
    assert {o for c, o in run(docs, "serviceentry.ConflictingServiceEntryProtocolAnalyzer")} == {"ServiceEntry shop/tcp", "ServiceEntry shop/withaddr", "ServiceEntry shop/http"}


def test_envoyfilter_operations() -> None:
    ef = ("apiVersion: networking.istio.io/v1alpha3\nkind: EnvoyFilter\nmetadata: {{name: {n}, namespace: shop}}\nspec:\n{prio}  configPatches:\n"
          "  - applyTo: {a}\n    patch: {{operation: {op}, value: {{name: f}}}}\n")
    docs = [ef.format(n="add-route", a="HTTP_ROUTE", op="ADD", prio=""), ef.format(n="replace-cluster", a="CLUSTER", op="REPLACE", prio=""),
            ef.format(n="relative", a="HTTP_FILTER", op="INSERT_BEFORE", prio=""), ef.format(n="prio", a="HTTP_FILTER", op="INSERT_BEFORE", prio="  priority: 10\n"),
            ef.format(n="remove-route", a="ROUTE_CONFIGURATION", op="REMOVE", prio="")]
    assert run(docs, "envoyfilter") == [("IST0151", "EnvoyFilter shop/relative"), ("IST0152", "EnvoyFilter shop/replace-cluster"),
                                        ("IST0153", "EnvoyFilter shop/add-route"), ("IST0154", "EnvoyFilter shop/remove-route")]


def test_annotations() -> None:
    p = pod("p", "shop", "{app: a}", "  annotations:\n    sidecar.istio.io/bogus: x\n    networking.istio.io/exportTo: .\n"
            "    readiness.status.sidecar.istio.io/periodSeconds: soon\n    sidecar.istio.io/statsInclusionPrefixes: x\n")
    assert run([p], "annotations.K8sAnalyzer") == [("IST0107", "Pod shop/p"), ("IST0108", "Pod shop/p"), ("IST0125", "Pod shop/p"), ("IST0135", "Pod shop/p")]


def test_authorization_policies() -> None:
    ap = "apiVersion: security.istio.io/v1\nkind: AuthorizationPolicy\nmetadata: {{name: {n}, namespace: shop}}\nspec:\n{body}"
    docs = [NS.format(n="shop"), pod("p", "shop", "{app: a}"),
            ap.format(n="ok", body="  selector: {matchLabels: {app: a}}\n"), ap.format(n="nomatch", body="  selector: {matchLabels: {app: b}}\n"),
            ap.format(n="badns", body="  rules:\n  - from:\n    - source: {namespaces: [nowhere]}\n")]
    assert run(docs, "auth.AuthorizationPoliciesAnalyzer") == [("IST0101", "AuthorizationPolicy shop/badns"), ("IST0127", "AuthorizationPolicy shop/nomatch")]


def test_telemetry() -> None:
    t = "apiVersion: telemetry.istio.io/v1\nkind: Telemetry\nmetadata: {{name: {n}, namespace: shop}}\nspec:\n{body}"
    docs = [t.format(n="empty", body="  accessLogging: [{filter: {expression: 'true'}}]\n"), t.format(n="ok", body="  accessLogging: [{providers: [{name: envoy}]}]\n")]
    assert run(docs, "telemetry.ProviderAnalyzer") == [("IST0157", "Telemetry shop/empty")]
    assert run(docs, "telemetry.DefaultSelectorAnalyzer") == [("IST0160", "Telemetry shop/empty"), ("IST0160", "Telemetry shop/ok")]


def test_unreachable_and_ineffective_matches() -> None:
    v = ("apiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata: {name: r, namespace: shop}\nspec:\n  hosts: [r]\n  http:\n"
         "  - match: [{uri: {prefix: /api}}]\n    route: [{destination: {host: r}}]\n"
         "  - match: [{uri: {prefix: /api/v1}}]\n    route: [{destination: {host: r}}]\n"
         "  - match: [{uri: {prefix: /api}}]\n    route: [{destination: {host: r}}]\n"
         "  - route: [{destination: {host: r}}]\n  - route: [{destination: {host: r}}]\n")
    res = analyze(load_text(v, "t.yaml"), analyzers=select(builtin_analyzers(), ["schema"]))
    got = sorted((m.code, m.text) for m in res.messages)
    assert got == [
        ("IST0130", "VirtualService rule #2 not used (all matches used by prior rules)."),
        ("IST0130", "VirtualService rule #4 not used (only the last rule can have no matches)."),
        ("IST0131", "VirtualService rule #1 match #0 of prefix /api/v1 is not used (duplicate/overlapping match in rule #0 of prefix /api on #0)."),
        ("IST0131", "VirtualService rule #2 match #0 is not used (duplicate/overlapping match in rule #0)."),
    ]
    # each points at the match it is about, not at the document start
    assert sorted((m.code, m.line) for m in res.messages) == [("IST0130", 11), ("IST0130", 14), ("IST0131", 9), ("IST0131", 11)]


def test_every_message_has_file_line_analyzer_and_doc_url() -> None:
    from conftest import FIXTURES

    from meshctl.sources import load_paths

    res = analyze(load_paths([str(FIXTURES / "analyze" / "mesh.yaml"), str(FIXTURES / "analyze" / "wrongtypes.yaml")], default_namespace=""))
    assert {"IST0101", "IST0106", "IST0130", "MSH0002", "MSH0010"} <= {m.code for m in res.messages}
    for m in res.messages:
        assert m.file and m.line and m.analyzer
        if m.code.startswith("IST"):
            assert m.type.doc_url.endswith(f"/{m.code.lower()}/")


def test_k8s_gateway_selector_and_crd_version() -> None:
    gwpod = pod("gw-0", "shop", "{gateway.networking.k8s.io/gateway-name: web, app: gw}")
    ap = "apiVersion: security.istio.io/v1\nkind: AuthorizationPolicy\nmetadata: {{name: {n}, namespace: shop}}\nspec:\n{body}"
    docs = [gwpod, ap.format(n="sel", body="  selector: {matchLabels: {app: gw}}\n"),
            ap.format(n="ref", body="  targetRefs: [{kind: Gateway, group: gateway.networking.k8s.io, name: web}]\n")]
    assert run(docs, "k8sgateway.SelectorAnalyzer") == [("IST0166", "AuthorizationPolicy shop/sel")]
    crd = ("apiVersion: apiextensions.k8s.io/v1\nkind: CustomResourceDefinition\nmetadata:\n  name: tlsroutes.gateway.networking.k8s.io\n"
           "  annotations: {{gateway.networking.k8s.io/bundle-version: {v}}}\nspec: {{group: gateway.networking.k8s.io}}\n")
    assert run([crd.format(v="v1.3.0")], "k8sgateway.CRDVersionAnalyzer") == [("IST0176", "CustomResourceDefinition tlsroutes.gateway.networking.k8s.io")]
    assert run([crd.format(v="v1.5.1")], "k8sgateway.CRDVersionAnalyzer") == []


def test_conditions_deprecation_uid_and_image_auto() -> None:
    svc_neg = svc("s", "shop") + "status:\n  conditions:\n  - {type: istio.io/WaypointBound, status: 'False', reason: NoWaypoint}\n  - {type: example.com/Synced, status: 'False'}\n"
    assert run([svc_neg], "conditions") == [("IST0171", "Service shop/s")]
    delay = ("apiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata: {name: f, namespace: shop}\nspec:\n  hosts: [f]\n"
             "  http:\n  - fault: {delay: {percent: 10, fixedDelay: 1s}}\n    route: [{destination: {host: f}}]\n")
    assert run([delay], "deprecation") == [("IST0002", "VirtualService shop/f")]
    uid = ("apiVersion: v1\nkind: Pod\nmetadata: {name: u, namespace: shop}\nspec:\n  securityContext: {runAsUser: 1337}\n"
           "  containers: [{name: app, image: a}]\n")
    assert run([uid], "applicationUID") == [("IST0144", "Pod shop/u")]
    auto = ("apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: d, namespace: shop}\nspec:\n  template:\n"
            "    metadata: {labels: {app: d}}\n    spec: {containers: [{name: istio-proxy, image: auto}]}\n")
    assert run([auto], "injection.ImageAutoAnalyzer") == [("IST0146", "Deployment shop/d")]


def test_webhooks() -> None:
    hook = ("apiVersion: admissionregistration.k8s.io/v1\nkind: MutatingWebhookConfiguration\nmetadata: {{name: {n}}}\nwebhooks:\n"
            "- name: sidecar-injector.istio.io\n  clientConfig: {{service: {{name: {svc}, namespace: istio-system}}}}\n"
            "  namespaceSelector: {{matchLabels: {{{sel}}}}}\n")
    istiod = "apiVersion: v1\nkind: Service\nmetadata: {name: istiod, namespace: istio-system}\nspec: {}\n"
    docs = [istiod, hook.format(n="a", svc="istiod", sel="istio-injection: enabled"), hook.format(n="b", svc="istiod", sel="istio.io/rev: canary")]
    assert run(docs, "webhook.Analyzer") == []
    docs.append(hook.format(n="c", svc="gone", sel="istio-injection: enabled"))
    assert run(docs, "webhook.Analyzer") == [("IST0139", "MutatingWebhookConfiguration a"), ("IST0139", "MutatingWebhookConfiguration c"),
                                             ("IST0139", "MutatingWebhookConfiguration c")]


def test_blocked_cidrs() -> None:
    ra = "apiVersion: security.istio.io/v1\nkind: RequestAuthentication\nmetadata: {name: jwt, namespace: shop}\nspec: {}\n"
    istiod = ("apiVersion: apps/v1\nkind: Deployment\nmetadata: {{name: istiod, namespace: istio-system, labels: {{app: istiod}}}}\nspec:\n"
              "  template:\n    spec:\n      containers: [{{name: discovery, image: pilot{env}}}]\n")
    assert run([ra, istiod.format(env="")], "authn") == [("IST0175", "Deployment istio-system/istiod")]
    assert run([ra, istiod.format(env=", env: [{name: BLOCKED_CIDRS_IN_JWKS_URIS, value: 10.0.0.0/8}]")], "authn") == []
    assert run([istiod.format(env="")], "authn") == []
