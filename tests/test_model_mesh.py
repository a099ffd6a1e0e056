"""The abstract model: registry, workloads, endpoints, config indexes and per-proxy views (Pilot's rules)."""

from __future__ import annotations

import pytest

from meshctl.errors import InputError, UsageError
from meshctl.model import MeshConfig, ProxyType, Resolution, build_mesh, parse_mesh_config
from meshctl.model.types import Protocol
from meshctl.sources import load_paths, load_text
from tests.conftest import BOOKINFO


def mesh_of(text: str, mesh_config: MeshConfig | None = None):  # noqa: ANN201
    return build_mesh(load_text(text, "m.yaml"), mesh_config)


def svc(
    name: str,
    ns: str = "default",
    ports: str = "[{name: http, port: 80}]",
    extra: str = "",
    selector: str = "",
) -> str:
    sel = f"\n  selector: {selector}" if selector else f"\n  selector: {{app: {name}}}"
    return f"""---
apiVersion: v1
kind: Service
metadata: {{name: {name}, namespace: {ns}}}
spec:
  ports: {ports}{sel}{extra}
"""


def deploy(
    name: str,
    ns: str = "default",
    labels: str = "",
    ports: str = "[{containerPort: 80}]",
    annotations: str = "{}",
) -> str:
    labels = labels or f"{{app: {name.split('-')[0]}}}"
    return f"""---
apiVersion: apps/v1
kind: Deployment
metadata: {{name: {name}, namespace: {ns}}}
spec:
  selector: {{matchLabels: {labels}}}
  template:
    metadata: {{labels: {labels}, annotations: {annotations}}}
    spec:
      serviceAccountName: sa-{name}
      containers: [{{name: c, ports: {ports}}}]
"""


@pytest.fixture(scope="module")
def bookinfo():  # noqa: ANN201
    return build_mesh(load_paths([str(BOOKINFO)]))


# ----------------------------------------------------------------------------------------------- registry
def test_bookinfo_services_hosts_protocols_and_stable_vips(bookinfo) -> None:  # noqa: ANN001
    hosts = [s.hostname for s in bookinfo.services]
    assert "reviews.default.svc.cluster.local" in hosts and "books.example.com" in hosts
    gw = bookinfo.service("istio-ingressgateway.istio-system.svc.cluster.local")
    assert [(p.port, p.protocol, p.target_port) for p in gw.ports] == [
        (15021, Protocol.UNSUPPORTED, 15021),
        (80, Protocol.HTTP2, 8080),
        (443, Protocol.HTTPS, 8443),
    ]
    reviews = bookinfo.service("reviews.default.svc.cluster.local")
    assert reviews.vip and reviews.vip.startswith("10.") and reviews.extra["synthetic_vip"]
    again = build_mesh(load_paths([str(BOOKINFO)]))
    assert again.service("reviews.default.svc.cluster.local").vip == reviews.vip  # stable across builds
    assert len({s.vip for s in bookinfo.services if s.vip}) == len([s for s in bookinfo.services if s.vip])
    books = bookinfo.service("books.example.com")
    assert (
        books.resolution is Resolution.DNS_LB
        and books.mesh_external
        and books.ports[0].protocol is Protocol.TLS
    )


@pytest.mark.parametrize(
    ("name", "app", "port", "expected"),
    [
        ("http-web", None, 80, Protocol.HTTP),
        ("grpc-web-x", None, 80, Protocol.GRPC_WEB),
        ("tcp", None, 80, Protocol.TCP),
        ("web", None, 80, Protocol.UNSUPPORTED),
        ("web", None, 3306, Protocol.TCP),
        ("web", "http2", 80, Protocol.HTTP2),
        ("x", "kubernetes.io/h2c", 80, Protocol.HTTP2),
        ("HTTPS", None, 443, Protocol.HTTPS),
        ("redis", None, 6379, Protocol.REDIS),
    ],
)
def test_port_protocol_detection(name: str, app: str | None, port: int, expected: Protocol) -> None:
    from meshctl.model.protocol import kube_port_protocol

    assert kube_port_protocol(port, name, "TCP", app) is expected


def test_headless_externalname_udp_and_explicit_cluster_ip() -> None:
    m = mesh_of(
        svc("db", extra="\n  clusterIP: None")
        + svc("alias", extra="\n  type: ExternalName\n  externalName: db.default.svc.cluster.local")
        + svc(
            "dns",
            ports="[{name: dns, port: 53, protocol: UDP}, {name: tcp-dns, port: 53}]",
            extra="\n  clusterIP: 10.0.0.10",
        )
    )
    db = m.service("db.default.svc.cluster.local")
    assert db.headless and db.resolution is Resolution.PASSTHROUGH and db.addresses == []
    alias = m.service("alias.default.svc.cluster.local")
    assert alias.resolution is Resolution.ALIAS and alias.external_name == "db.default.svc.cluster.local"
    dns = m.service("dns.default.svc.cluster.local")
    assert [p.name for p in dns.ports] == ["tcp-dns"] and dns.addresses == ["10.0.0.10"]


def test_service_entry_one_service_per_host_and_resolutions() -> None:
    m = mesh_of("""apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: ext, namespace: egress}
spec:
  hosts: [a.example.com, b.example.com]
  addresses: [240.0.0.1]
  ports: [{number: 8080, name: http, protocol: HTTP, targetPort: 80}]
  resolution: STATIC
  location: MESH_INTERNAL
  exportTo: ["."]
  endpoints: [{address: 1.1.1.1, labels: {v: "1"}}, {address: 2.2.2.2, ports: {http: 9090}}]
""")
    a, b = m.service("a.example.com"), m.service("b.example.com")
    assert a.resolution is Resolution.CLIENT_SIDE_LB and not a.mesh_external and a.addresses == ["240.0.0.1"]
    assert a.export_to == frozenset({"."}) and b.namespace == "egress"
    eps = m.endpoints(a, 8080)
    assert [(e.address, e.port) for e in eps] == [("1.1.1.1", 80), ("2.2.2.2", 9090)]
    assert eps[0].tls_mode == "disabled"


# ----------------------------------------------------------------------------------------------- workloads
def test_workloads_synthetic_instances_injection_and_pods_win() -> None:
    text = (
        svc("web", selector="{app: web}", ports="[{name: http, port: 80, targetPort: web-port}]")
        + deploy("web-v1", labels="{app: web, version: v1}", ports="[{containerPort: 8080, name: web-port}]")
        + deploy("legacy", labels="{app: legacy}", annotations='{sidecar.istio.io/inject: "false"}')
        + deploy("api", labels="{app: api}")
        + """---
apiVersion: v1
kind: Pod
metadata: {name: api-abc, namespace: default, labels: {app: api, istio-locality: us-east1.zone-a}}
spec: {containers: [{name: c}]}
status: {podIP: 10.1.2.3, phase: Running}
"""
    )
    m = mesh_of(text)
    names = {(w.kind, w.name) for w in m.workloads}
    assert (
        ("Deployment", "web-v1") in names
        and ("Pod", "api-abc") in names
        and ("Deployment", "api") not in names
    )
    web = next(w for w in m.workloads if w.name == "web-v1")
    assert (
        web.ip
        and web.ip.startswith("10.244.")
        and web.service_account == "sa-web-v1"
        and web.sidecar_injected
    )
    legacy = next(w for w in m.workloads if w.name == "legacy")
    assert not legacy.sidecar_injected and legacy.tls_mode == "disabled"
    pod = next(w for w in m.workloads if w.name == "api-abc")
    assert pod.ip == "10.1.2.3" and pod.locality == "us-east1/zone-a"
    # named targetPort resolved through the container port name
    eps = m.endpoints(m.service("web.default.svc.cluster.local"), 80)
    assert [(e.address, e.port, e.labels["version"]) for e in eps] == [(web.ip, 8080, "v1")]
    assert {p.workload.name for p in m.proxies()} == {"web-v1", "api-abc"}


def test_namespace_without_injection_label_disables_sidecar() -> None:
    m = mesh_of(
        "apiVersion: v1\nkind: Namespace\nmetadata: {name: plain}\n"
        + deploy("x", ns="plain")
        + "---\napiVersion: v1\nkind: Namespace\nmetadata: {name: meshed, labels: {istio-injection: enabled}}\n"
        + deploy("y", ns="meshed")
    )
    assert {w.name: w.sidecar_injected for w in m.workloads} == {"x": False, "y": True}


def test_endpoint_slices_take_precedence_over_selector() -> None:
    m = mesh_of(
        svc("web")
        + deploy("web")
        + """---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata: {name: web-x, namespace: default, labels: {kubernetes.io/service-name: web}}
ports: [{name: http, port: 8081}]
endpoints:
- addresses: [10.9.9.9]
  conditions: {ready: true}
- addresses: [10.9.9.8]
  conditions: {ready: false}
"""
    )
    eps = m.endpoints(m.service("web.default.svc.cluster.local"))
    assert [(e.address, e.port, e.healthy) for e in eps] == [
        ("10.9.9.9", 8081, True),
        ("10.9.9.8", 8081, False),
    ]


# ----------------------------------------------------------------------------------------------- configs
def test_virtual_service_shortnames_resolved_relative_to_its_namespace(bookinfo) -> None:  # noqa: ANN001
    reviews = next(v for v in bookinfo.virtual_services if v.name == "reviews")
    assert reviews.spec.hosts == ["reviews.default.svc.cluster.local"]
    assert reviews.spec.gateways == ["mesh"]
    assert {d.destination.host for r in reviews.spec.http for d in r.route} == {
        "reviews.default.svc.cluster.local"
    }
    bookinfo_vs = next(v for v in bookinfo.virtual_services if v.name == "bookinfo")
    assert bookinfo_vs.spec.gateways == ["default/bookinfo-gateway"]
    # the loaded resource keeps what the user wrote
    assert bookinfo_vs.resource.spec["http"][0]["route"][0]["destination"]["host"] == "productpage"
    from meshctl.model.hosts import resolve_shortname

    assert (
        resolve_shortname("reviews.prod", "default") == "reviews.prod"
    )  # Istio: dotted names are taken as FQDN


def test_virtual_service_delegation_merges_matches() -> None:
    m = mesh_of("""apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: root, namespace: default}
spec:
  hosts: [web]
  http:
  - name: api
    match: [{uri: {prefix: /api}, headers: {x-team: {exact: a}}}]
    delegate: {name: api, namespace: team}
    timeout: 5s
  - route: [{destination: {host: web}}]
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: api, namespace: team}
spec:
  http:
  - name: v2
    match: [{uri: {prefix: /api/v2}}, {uri: {exact: /api/v2/x}, method: {exact: GET}}]
    route: [{destination: {host: api-v2}}]
  - match: [{uri: {prefix: /other}}]
    route: [{destination: {host: dropped}}]
  - match: [{uri: {prefix: /api/v3}, headers: {x-team: {exact: b}}}]
    route: [{destination: {host: dropped}}]
  - route: [{destination: {host: api}}]
""")
    [root] = m.virtual_services
    http = root.spec.http
    # /other does not narrow /api and x-team: b contradicts the root: both delegate routes are dropped
    assert [r.route[0].destination.host for r in http] == [
        "api-v2.team.svc.cluster.local",
        "api.team.svc.cluster.local",
        "web.default.svc.cluster.local",
    ]
    assert http[0].name == "api-v2"
    assert [(mm.uri.prefix or mm.uri.exact, mm.headers["x-team"].exact) for mm in http[0].match] == [
        ("/api/v2", "a"),
        ("/api/v2/x", "a"),
    ]
    assert http[0].match[1].method.exact == "GET"
    assert http[0].timeout == "5s"  # inherited from the root route
    assert [mm.uri.prefix for mm in http[1].match] == ["/api"] and http[2].match == []
    assert [d.key for d in m.delegate_virtual_services] == ["team/api"]


DR = """---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {{name: {name}, namespace: {ns}{ts}}}
spec:
  host: {host}
{body}"""


def dr(name: str, ns: str, host: str, body: str = "", created: str = "") -> str:
    ts = f", creationTimestamp: '{created}'" if created else ""
    return DR.format(name=name, ns=ns, host=host, body=body, ts=ts)


def test_destination_rule_lookup_order_and_export_to() -> None:
    text = (
        svc("web", ns="app")
        + deploy("web", ns="app")
        + deploy("client", ns="client")
        + dr("in-svc-ns", "app", "web.app.svc.cluster.local", "  subsets: [{name: a}]\n")
        + dr("in-root", "istio-system", "'*.local'", "  subsets: [{name: r}]\n")
        + dr(
            "in-client-ns",
            "client",
            "web.app.svc.cluster.local",
            "  subsets: [{name: c}]\n  exportTo: ['.']\n",
        )
    )
    m = mesh_of(text)
    web = m.service("web.app.svc.cluster.local")
    client = m.proxy("deploy/client")
    assert m.destination_rule(client, web).configs[0].name == "in-client-ns"  # proxy namespace first
    assert m.destination_rule(m.proxy("deploy/web"), web).configs[0].name == "in-svc-ns"
    other = mesh_of(svc("x", ns="other") + deploy("x", ns="other") + text)
    xsvc = other.service("x.other.svc.cluster.local")
    assert (
        other.destination_rule(other.proxy("deploy/x"), xsvc).configs[0].name == "in-root"
    )  # wildcard in root ns


def test_destination_rules_merge_subsets_first_policy_wins() -> None:
    m = mesh_of(
        svc("web")
        + deploy("web")
        + dr(
            "b-second",
            "default",
            "web",
            "  trafficPolicy: {loadBalancer: {simple: RANDOM}}\n  subsets: [{name: v1}, {name: v2}]\n",
            "2024-01-02T00:00:00Z",
        )
        + dr("a-first", "default", "web", "  subsets: [{name: v1, labels: {x: y}}]\n", "2024-01-01T00:00:00Z")
    )
    merged = m.destination_rule(None, m.service("web.default.svc.cluster.local"))
    assert [c.name for c in merged.configs] == ["a-first", "b-second"]
    assert [s.name for s in merged.subsets] == ["v1", "v2"] and merged.subset("v1").labels == {"x": "y"}
    assert merged.spec.traffic_policy.load_balancer.simple == "RANDOM"  # first non-empty policy
    assert merged.subset_origin["v2"].name == "b-second"


def test_workload_selector_destination_rule_wins_for_selected_proxy() -> None:
    m = mesh_of(
        svc("web")
        + deploy("web")
        + deploy("special", labels="{app: special}")
        + dr("plain", "default", "web")
        + dr("sel", "default", "web", "  workloadSelector: {matchLabels: {app: special}}\n")
    )
    web = m.service("web.default.svc.cluster.local")
    assert m.destination_rule(m.proxy("deploy/special"), web).configs[0].name == "sel"
    assert m.destination_rule(m.proxy("deploy/web"), web).configs[0].name == "plain"


# ----------------------------------------------------------------------------------------------- scoping
SIDECAR = """---
apiVersion: networking.istio.io/v1
kind: Sidecar
metadata: {{name: {name}, namespace: {ns}}}
spec:
{body}"""


def test_sidecar_scope_selection_and_egress_hosts() -> None:
    base = (
        svc("a", ns="ns1")
        + svc("b", ns="ns1")
        + svc("c", ns="ns2", extra="")
        + deploy("a", ns="ns1")
        + deploy("b", ns="ns1")
        + svc("hidden", ns="ns2").replace(
            "metadata: {name: hidden, namespace: ns2}",
            "metadata: {name: hidden, namespace: ns2, annotations: {networking.istio.io/exportTo: '.'}}",
        )
    )
    m = mesh_of(base)
    default_scope = m.sidecar_scope(m.proxy("deploy/a"))
    assert default_scope.config is None
    assert {s.name for s in default_scope.services} == {"a", "b", "c"}  # hidden is exported to ns2 only
    m2 = mesh_of(
        base
        + SIDECAR.format(name="ns-wide", ns="ns1", body="  egress: [{hosts: ['./*']}]\n")
        + SIDECAR.format(
            name="for-b",
            ns="ns1",
            body="  workloadSelector: {labels: {app: b}}\n"
            "  egress: [{hosts: ['ns2/*', '~/*']}]\n  outboundTrafficPolicy: {mode: REGISTRY_ONLY}\n",
        )
    )
    sa = m2.sidecar_scope(m2.proxy("deploy/a"))
    assert (
        sa.config.name == "ns-wide" and {s.name for s in sa.services} == {"a", "b"} and not sa.registry_only
    )
    sb = m2.sidecar_scope(m2.proxy("deploy/b"))
    assert sb.config.name == "for-b" and {s.name for s in sb.services} == {"c"} and sb.registry_only


def test_root_namespace_sidecar_and_implicit_vs_destinations() -> None:
    text = (
        svc("a")
        + svc("b")
        + svc("c")
        + deploy("a")
        + SIDECAR.format(
            name="default", ns="istio-system", body="  egress: [{hosts: ['./a.default.svc.cluster.local']}]\n"
        )
        + """---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: a, namespace: default}
spec:
  hosts: [a]
  http: [{route: [{destination: {host: c}}]}]
"""
    )
    m = mesh_of(text)
    scope = m.sidecar_scope(m.proxy("deploy/a"))
    assert scope.config.key == "istio-system/default"
    assert {s.name for s in scope.services} == {"a", "c"}  # c imported through the VS
    assert [v.name for v in scope.virtual_services] == ["a"]


# ----------------------------------------------------------------------------------------------- gateways
def test_gateway_proxy_and_server_target_ports(bookinfo) -> None:  # noqa: ANN001
    gw = bookinfo.proxy("deploy/istio-ingressgateway", "istio-system")
    assert gw.type is ProxyType.ROUTER and gw.node_id.startswith("router~")
    mg = bookinfo.merged_gateway(gw)
    [server] = mg.servers
    assert (server.port, server.target_port, server.route_name, server.kind) == (
        80,
        8080,
        "http.8080",
        "http",
    )
    assert [v.name for v in bookinfo.gateway_virtual_services(gw)] == ["bookinfo"]
    assert bookinfo.merged_gateway(bookinfo.proxy("deploy/productpage-v1")) is None


def test_gateway_merge_rejects_conflicts_and_names_https_routes() -> None:
    m = mesh_of(
        deploy("gw", ns="gwns", labels="{istio: gw}")
        + """---
apiVersion: networking.istio.io/v1
kind: Gateway
metadata: {name: one, namespace: gwns, creationTimestamp: '2024-01-01T00:00:00Z'}
spec:
  selector: {istio: gw}
  servers:
  - {port: {number: 8443, name: https-a, protocol: HTTPS}, hosts: [a.com], tls: {mode: SIMPLE, credentialName: a}}
  - {port: {number: 9000, name: tcp, protocol: TCP}, hosts: ['*']}
---
apiVersion: networking.istio.io/v1
kind: Gateway
metadata: {name: two, namespace: gwns, creationTimestamp: '2024-01-02T00:00:00Z'}
spec:
  selector: {istio: gw}
  servers:
  - {port: {number: 8443, name: https-b, protocol: HTTPS}, hosts: [a.com, b.com], tls: {mode: SIMPLE, credentialName: b}}
  - {port: {number: 9000, name: http, protocol: HTTP}, hosts: ['*']}
  - {port: {number: 8443, name: https-c, protocol: HTTPS}, hosts: [c.com], tls: {mode: PASSTHROUGH}}
"""
    )
    mg = m.merged_gateway(m.proxy("deploy/gw", "gwns"))
    assert [(s.gateway.name, s.server.port.name, s.route_name) for s in mg.servers] == [
        ("one", "https-a", "https.8443.https-a.one.gwns"),
        ("one", "tcp", None),
        ("two", "https-c", None),
    ]
    reasons = {s.server.port.name: r for s, r in mg.rejected}
    assert "duplicate host a.com" in reasons["https-b"] and "conflicts" in reasons["http"]


# ----------------------------------------------------------------------------------------------- mTLS
def test_peer_authentication_precedence() -> None:
    pa = """---
apiVersion: security.istio.io/v1
kind: PeerAuthentication
metadata: {{name: {name}, namespace: {ns}}}
spec:
{body}"""
    m = mesh_of(
        deploy("a")
        + deploy("b", ns="other")
        + pa.format(name="mesh", ns="istio-system", body="  mtls: {mode: STRICT}\n")
        + pa.format(name="ns", ns="default", body="  mtls: {mode: UNSET}\n")
        + pa.format(
            name="wl",
            ns="default",
            body="  selector: {matchLabels: {app: a}}\n  mtls: {mode: PERMISSIVE}\n  portLevelMtls: {'8080': {mode: DISABLE}}\n",
        )
    )
    a = next(w for w in m.workloads if w.name == "a")
    b = next(w for w in m.workloads if w.name == "b")
    assert m.mtls_mode(a, 80) == "PERMISSIVE" and m.mtls_mode(a, 8080) == "DISABLE"
    assert m.mtls_mode(b, 80) == "STRICT"


# ----------------------------------------------------------------------------------------------- proxies
def test_proxy_targets_and_errors(bookinfo) -> None:  # noqa: ANN001
    assert bookinfo.proxy("deploy/reviews-v2").workload.labels["version"] == "v2"
    assert bookinfo.proxy("reviews-v3.default").workload.name == "reviews-v3"
    assert bookinfo.proxy("deployment/ratings-v1", "default").type is ProxyType.SIDECAR
    with pytest.raises(UsageError) as ei:
        bookinfo.proxy("pod/nope")
    assert "known:" in str(ei.value) and "deploy/reviews-v1.default" in str(ei.value)
    with pytest.raises(UsageError):
        bookinfo.proxy("svc/reviews")
    assert len(bookinfo.proxies()) == 7


def test_pod_owned_by_deployment_resolves_through_deploy_target() -> None:
    m = mesh_of(
        deploy("web", labels="{app: web}")
        + """---
apiVersion: v1
kind: Pod
metadata: {name: web-5d9c-abcde, namespace: default, labels: {app: web}}
spec: {containers: [{name: c}]}
status: {podIP: 10.0.0.7}
"""
    )
    assert m.proxy("deploy/web").workload.name == "web-5d9c-abcde"


def test_invalid_config_reports_all_errors_with_positions() -> None:
    from meshctl.errors import ErrorList

    with pytest.raises(ErrorList) as ei:
        mesh_of(
            dr("x", "default", "web", "  trafficPolicy: {loadBalancer: {simple: NOPE}}\n")
            + "---\napiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata: {name: v}\nspec: {hosts: [a], htp: []}\n"
        )
    assert [e.field for e in ei.value.errors] == ["spec.trafficPolicy.loadBalancer.simple", "spec.htp"]
    assert all(e.file == "m.yaml" and e.line for e in ei.value.errors)


# ----------------------------------------------------------------------------------------------- meshconfig
def test_mesh_config_from_configmap_and_errors() -> None:
    mc = parse_mesh_config(
        """apiVersion: v1
kind: ConfigMap
metadata: {name: istio, namespace: istio-system}
data:
  mesh: |-
    rootNamespace: istio-config
    enableAutoMtls: false
    outboundTrafficPolicy: {mode: REGISTRY_ONLY}
""",
        "cm.yaml",
    )
    assert (
        mc.root_namespace == "istio-config"
        and mc.enable_auto_mtls is False
        and mc.outbound_traffic_policy.mode == "REGISTRY_ONLY"
    )
    with pytest.raises(InputError) as ei:
        parse_mesh_config(
            "apiVersion: v1\nkind: ConfigMap\ndata:\n  mesh: |-\n    connectTimeout: 10\n    accessLogFile: /dev/stdout\n",
            "cm.yaml",
        )
    assert (ei.value.line, ei.value.field) == (5, "data.mesh.connectTimeout")
    with pytest.raises(InputError) as ei:
        parse_mesh_config("defaultConfig: {}\nconectTimeout: 1s\n", "mesh.yaml")
    assert (ei.value.line, ei.value.field, ei.value.message) == (2, "conectTimeout", "unknown field")
    m = mesh_of(svc("web") + deploy("web"), MeshConfig(outbound_traffic_policy={"mode": "REGISTRY_ONLY"}))
    assert m.sidecar_scope(m.proxy("deploy/web")).registry_only


# ----------------------------------------------------------------------------------------------- CLI
def test_x_model_cli(cli, tmp_path) -> None:  # noqa: ANN001
    code, out, err = cli(["x", "model", "-f", str(BOOKINFO)])
    assert code == 0, err
    assert "reviews.default.svc.cluster.local" in out and "default/reviews" in out and "v1,v2,v3" in out
    code, out, _ = cli(["x", "model", "-f", str(BOOKINFO), "-o", "json"])
    import json

    data = json.loads(out)
    rv = next(s for s in data["services"] if s["host"] == "reviews.default.svc.cluster.local")
    assert rv["destinationRule"] == "default/reviews" and len(rv["endpoints"]) == 3
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        "apiVersion: networking.istio.io/v1\nkind: DestinationRule\nmetadata: {name: d}\nspec:\n  host: 5\n"
    )
    code, out, err = cli(["x", "model", "-f", str(bad)])
    assert code == 65 and f"{bad}:5: spec.host: must be a string" in err


def test_mesh_default_export_to() -> None:
    text = (
        svc("web", ns="app")
        + deploy("web", ns="app")
        + deploy("client", ns="client")
        + dr("web", "app", "web.app.svc.cluster.local", "  subsets: [{name: a}]\n")
    )
    mc = MeshConfig(default_service_export_to=["."], default_destination_rule_export_to=["."])
    m = mesh_of(text, mc)
    client = m.proxy("deploy/client")
    assert "web.app.svc.cluster.local" not in {s.hostname for s in m.sidecar_scope(client).services}
    web = m.service("web.app.svc.cluster.local")
    assert (
        m.destination_rule(client, web) is None and m.destination_rule(m.proxy("deploy/web"), web) is not None
    )


def test_real_pod_name_resolves_to_its_controller_template(bookinfo) -> None:  # noqa: ANN001
    assert bookinfo.proxy("pod/reviews-v2-5d9c8b7f4-x2x9z").workload.name == "reviews-v2"
    assert bookinfo.proxy("productpage-v1-6b746f74dc-9stfz.default").workload.name == "productpage-v1"


def test_service_entry_workload_selector_and_workload_entries() -> None:
    m = mesh_of("""apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: vm-svc, namespace: vms}
spec:
  hosts: [vm.example.internal]
  location: MESH_INTERNAL
  resolution: STATIC
  ports: [{number: 8080, name: http, protocol: HTTP, targetPort: 9090}]
  workloadSelector: {labels: {app: vm}}
---
apiVersion: networking.istio.io/v1
kind: WorkloadEntry
metadata: {name: vm-1, namespace: vms}
spec: {address: 10.10.0.1, labels: {app: vm}, serviceAccount: vm-sa, locality: us/a, ports: {http: 7070}}
---
apiVersion: networking.istio.io/v1
kind: WorkloadEntry
metadata: {name: vm-2, namespace: vms}
spec: {address: 10.10.0.2, labels: {app: vm, security.istio.io/tlsMode: disabled}}
---
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: dns, namespace: vms}
spec:
  hosts: [api.example.com]
  resolution: DNS
  ports: [{number: 443, name: tls, protocol: TLS}]
""")
    vm = m.service("vm.example.internal")
    eps = {(e.address, e.port, e.tls_mode, e.service_account, e.locality) for e in m.endpoints(vm)}
    assert eps == {
        ("10.10.0.1", 7070, "istio", "vm-sa", "us/a"),
        ("10.10.0.2", 9090, "disabled", "default", ""),
    }
    proxy = m.proxy("workloadentry/vm-1")
    assert proxy.ip == "10.10.0.1" and proxy.namespace == "vms"
    assert [t.target_port for t in m.service_targets(proxy.workload)] == [7070]
    assert {p.workload.name for p in m.proxies()} == {"vm-1"}  # vm-2 has no sidecar
    [dns_ep] = m.endpoints(m.service("api.example.com"))
    assert (dns_ep.address, dns_ep.port) == ("api.example.com", 443)


def test_x_model_proxy_view(cli) -> None:  # noqa: ANN001
    import json

    code, out, err = cli(
        ["x", "model", "-f", str(BOOKINFO), "--proxy", "deploy/istio-ingressgateway", "-n", "istio-system"]
    )
    assert code == 0, err
    assert "http.8080" in out and "default/bookinfo-gateway" in out and "INBOUND" not in out
    code, out, _ = cli(["x", "model", "-f", str(BOOKINFO), "--proxy", "reviews-v1", "-o", "json"])
    data = json.loads(out)
    assert data["type"] == "sidecar" and data["inbound"] == [
        {"port": 9080, "service": "reviews.default.svc.cluster.local", "mtls": "PERMISSIVE"}
    ]
    assert {
        "host": "reviews.default.svc.cluster.local",
        "namespace": "default",
        "destinationRule": "default/reviews",
        "subsets": ["v1", "v2", "v3"],
    } in data["hosts"]
    code, _, err = cli(["x", "model", "-f", str(BOOKINFO), "--proxy", "nope"])
    assert code == 64 and "known:" in err


def test_gateway_plaintext_http_servers_share_a_route_and_port_translation_opt_out() -> None:
    m = mesh_of(
        deploy("gw", ns="gwns", labels="{istio: gw}", ports="[{containerPort: 8080}]")
        + svc(
            "gw",
            ns="gwns",
            selector="{istio: gw}",
            ports="[{name: http2, port: 80, targetPort: 8080}, {name: tcp, port: 9000}]",
        )
        + """---
apiVersion: networking.istio.io/v1
kind: Gateway
metadata: {name: a, namespace: gwns, creationTimestamp: '2024-01-01T00:00:00Z'}
spec:
  selector: {istio: gw}
  servers:
  - {port: {number: 80, name: http, protocol: HTTP}, hosts: [a.com]}
---
apiVersion: networking.istio.io/v1
kind: Gateway
metadata: {name: b, namespace: gwns, creationTimestamp: '2024-01-02T00:00:00Z'}
spec:
  selector: {istio: gw}
  servers:
  - {port: {number: 80, name: http2, protocol: HTTP2}, hosts: [b.com]}
  - {port: {number: 80, name: tcp, protocol: TCP}, hosts: ['*']}
  - {port: {number: 9000, name: tcp-a, protocol: TCP}, hosts: ['*']}
  - {port: {number: 9000, name: tcp-b, protocol: TCP}, hosts: ['*']}
"""
    )
    mg = m.merged_gateway(m.proxy("deploy/gw", "gwns"))
    assert [(s.server.port.name, s.target_port, s.route_name) for s in mg.servers] == [
        ("http", 8080, "http.8080"),
        ("http2", 8080, "http.8080"),
        ("tcp-a", 9000, None),
    ]
    assert sorted(s.server.port.name for s, _ in mg.rejected) == ["tcp", "tcp-b"]
    assert {(k, len(v)) for k, v in mg.listeners().items()} == {(("", 8080), 2), (("", 9000), 1)}


def test_publish_not_ready_addresses_keeps_endpoints_healthy() -> None:
    pod = """---
apiVersion: v1
kind: Pod
metadata: {name: db-0, namespace: default, labels: {app: db}}
spec: {containers: [{name: c}]}
status: {podIP: 10.3.3.3, conditions: [{type: Ready, status: "False"}]}
"""
    m = mesh_of(svc("db") + pod)
    assert [e.healthy for e in m.endpoints(m.service("db.default.svc.cluster.local"))] == [False]
    m = mesh_of(svc("db", extra="\n  publishNotReadyAddresses: true") + pod)
    assert [e.healthy for e in m.endpoints(m.service("db.default.svc.cluster.local"))] == [True]


def test_destination_rule_selector_merge_and_no_fall_through() -> None:
    text = (
        svc("web")
        + deploy("web")
        + deploy("special", labels="{app: special}")
        + deploy("other", labels="{app: other}")
        + dr("plain", "default", "web", "  subsets: [{name: p}]\n", "2024-01-01T00:00:00Z")
        + dr(
            "sel",
            "default",
            "web",
            "  workloadSelector: {matchLabels: {app: special}}\n  subsets: [{name: s}]\n",
            "2024-01-02T00:00:00Z",
        )
    )
    m = mesh_of(text)
    web = m.service("web.default.svc.cluster.local")
    special = m.destination_rule(m.proxy("deploy/special"), web)
    # the selector DR is its own entry for the proxies it selects, and (as in Istio) is also merged into the
    # earlier selector-less entry everyone else gets
    assert special.configs[0].name == "sel" and [s.name for s in special.subsets] == ["s"]
    assert [s.name for s in m.destination_rule(m.proxy("deploy/other"), web).subsets] == ["p", "s"]
    assert m.destination_rule(m.proxy("deploy/special"), web, inbound=True).selector is None
    # a namespace whose only DR does not select the proxy stops the lookup (no fall-through to the root namespace)
    text2 = (
        svc("web")
        + deploy("client", ns="c", labels="{app: client}")
        + dr(
            "sel-only", "c", "web.default.svc.cluster.local", "  workloadSelector: {matchLabels: {app: x}}\n"
        )
        + dr("root", "istio-system", "web.default.svc.cluster.local")
    )
    m2 = mesh_of(text2)
    assert m2.destination_rule(m2.proxy("deploy/client"), m2.service("web.default.svc.cluster.local")) is None


def test_service_entries_for_one_host_merge_ports_in_scope() -> None:
    se = """---
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {{name: {name}, namespace: default}}
spec:
  hosts: [api.example.com]
  ports: [{{number: {port}, name: p{port}, protocol: TLS}}]
  resolution: DNS
"""
    m = mesh_of(
        deploy("client", labels="{app: client}")
        + se.format(name="a", port=443)
        + se.format(name="b", port=8443)
    )
    [api] = [s for s in m.sidecar_scope(m.proxy("deploy/client")).services if s.hostname == "api.example.com"]
    assert [p.port for p in api.ports] == [443, 8443]


def test_non_strict_build_skips_invalid_configs() -> None:
    text = (
        svc("web")
        + dr("bad", "default", "web", "  trafficPolicy: {loadBalancer: {simple: NOPE}}\n")
        + dr("good", "default", "web")
    )
    m = build_mesh(load_text(text, "m.yaml"), strict=False)
    assert [c.name for c in m.destination_rules] == ["good"]
    assert [e.field for e in m.invalid] == ["spec.trafficPolicy.loadBalancer.simple"]


def test_live_cluster_shaped_input() -> None:
    """What `kubectl get -o yaml` gives: injected pods (tlsMode label), owner references, EndpointSlices, namespaces."""
    m = mesh_of("""apiVersion: v1
kind: Namespace
metadata: {name: shop, labels: {istio-injection: enabled}}
---
apiVersion: v1
kind: Namespace
metadata: {name: legacy}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: cart, namespace: shop}
spec:
  selector: {matchLabels: {app: cart}}
  template: {metadata: {labels: {app: cart}}, spec: {containers: [{name: c, ports: [{containerPort: 8080, name: web}]}]}}
---
apiVersion: apps/v1
kind: ReplicaSet
metadata: {name: cart-5d9c8b7f4, namespace: shop, ownerReferences: [{kind: Deployment, name: cart}]}
spec:
  selector: {matchLabels: {app: cart}}
  template: {metadata: {labels: {app: cart}}, spec: {containers: [{name: c}]}}
---
apiVersion: v1
kind: Pod
metadata:
  name: cart-5d9c8b7f4-abcde
  namespace: shop
  labels: {app: cart, security.istio.io/tlsMode: istio, topology.kubernetes.io/region: eu, topology.kubernetes.io/zone: eu-1a}
  ownerReferences: [{kind: ReplicaSet, name: cart-5d9c8b7f4}]
spec: {serviceAccountName: cart, containers: [{name: c, ports: [{containerPort: 8080, name: web}]}, {name: istio-proxy}]}
status: {phase: Running, podIP: 10.4.0.7, conditions: [{type: Ready, status: "True"}]}
---
apiVersion: v1
kind: Service
metadata: {name: cart, namespace: shop}
spec: {clusterIP: 10.96.4.4, selector: {app: cart}, ports: [{name: http, port: 80, targetPort: web}]}
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata: {name: cart-x1, namespace: shop, labels: {kubernetes.io/service-name: cart}}
addressType: IPv4
ports: [{name: http, port: 8080, protocol: TCP}]
endpoints:
- addresses: [10.4.0.7]
  conditions: {ready: true}
  targetRef: {kind: Pod, name: cart-5d9c8b7f4-abcde, namespace: shop}
---
apiVersion: v1
kind: Pod
metadata: {name: old-1, namespace: legacy, labels: {app: old}}
spec: {containers: [{name: c}]}
status: {podIP: 10.4.0.9}
""")
    assert [(w.kind, w.name) for w in m.workloads] == [("Pod", "old-1"), ("Pod", "cart-5d9c8b7f4-abcde")]
    cart = m.service("cart.shop.svc.cluster.local")
    [ep] = m.endpoints(cart)
    assert (ep.address, ep.port, ep.tls_mode, ep.locality, ep.service_account) == (
        "10.4.0.7",
        8080,
        "istio",
        "eu/eu-1a",
        "cart",
    )
    assert [p.workload.name for p in m.proxies()] == [
        "cart-5d9c8b7f4-abcde"
    ]  # legacy namespace is not injected
    assert m.proxy("deploy/cart").workload.name == "cart-5d9c8b7f4-abcde"
    from meshctl.translate.endpoint import workload_name

    assert workload_name(ep) == "cart"
