"""CDS builder against Istio's tables (istio-translation.md §1.1, §2, §4): names, defaults, DR policy mapping,
TLS / auto-mTLS, ServiceEntry resolutions, scoping, inbound clusters; and a real Envoy accepting the result."""

from __future__ import annotations

from dataclasses import replace

import pytest
from envoy.config.cluster.v3 import cluster_pb2
from envoy.extensions.transport_sockets.tls.v3 import tls_pb2
from envoy.extensions.upstreams.http.v3 import http_protocol_options_pb2 as hpo_pb2
from google.protobuf import json_format

from meshctl.model import MeshConfig, build_mesh
from meshctl.sources import load_paths, load_text
from meshctl.translate.cluster import build_clusters
from tests.conftest import BOOKINFO
from tests.test_model_mesh import deploy, dr, svc

C = cluster_pb2.Cluster
HPO = "envoy.extensions.upstreams.http.v3.HttpProtocolOptions"


def clusters_of(
    text: str, target: str, ns: str | None = None, mc: MeshConfig | None = None, **proxy_kw: object
) -> dict[str, cluster_pb2.Cluster]:
    m = build_mesh(load_text(text, "c.yaml"), mc)
    p = m.proxy(target, ns)
    if proxy_kw:
        p = replace(p, **proxy_kw)
    return {c.name: c for c in build_clusters(m, p)}


def hpo(c: cluster_pb2.Cluster) -> hpo_pb2.HttpProtocolOptions:
    o = hpo_pb2.HttpProtocolOptions()
    c.typed_extension_protocol_options[HPO].Unpack(o)
    return o


def tls_ctx(socket) -> tls_pb2.UpstreamTlsContext:  # noqa: ANN001
    ctx = tls_pb2.UpstreamTlsContext()
    socket.typed_config.Unpack(ctx)
    return ctx


def istio(c: cluster_pb2.Cluster) -> dict:
    return json_format.MessageToDict(c.metadata.filter_metadata["istio"])


@pytest.fixture(scope="module")
def bookinfo_clusters() -> dict[str, cluster_pb2.Cluster]:
    m = build_mesh(load_paths([str(BOOKINFO)]))
    return {c.name: c for c in build_clusters(m, m.proxy("deploy/productpage-v1"))}


def test_sidecar_cluster_set_and_names(bookinfo_clusters) -> None:  # noqa: ANN001
    names = list(bookinfo_clusters)
    assert names[-4:] == [
        "BlackHoleCluster",
        "PassthroughCluster",
        "inbound|9080||",
        "InboundPassthroughCluster",
    ]
    for expected in (
        "outbound|9080||reviews.default.svc.cluster.local",
        "outbound|9080|v1|reviews.default.svc.cluster.local",
        "outbound|9080|v3|reviews.default.svc.cluster.local",
        "outbound|443||books.example.com",
        "outbound|80||istio-ingressgateway.istio-system.svc.cluster.local",
    ):
        assert expected in names


def test_default_outbound_cluster_shape(bookinfo_clusters) -> None:  # noqa: ANN001
    c = bookinfo_clusters["outbound|9080||details.default.svc.cluster.local"]
    assert c.type == C.EDS and c.lb_policy == C.LEAST_REQUEST  # Istio's default, not Envoy's ROUND_ROBIN
    assert c.alt_stat_name == c.name + ";"
    assert c.eds_cluster_config.service_name == c.name and c.eds_cluster_config.eds_config.HasField("ads")
    assert c.eds_cluster_config.eds_config.initial_fetch_timeout.seconds == 0
    assert c.connect_timeout.seconds == 10
    [th] = c.circuit_breakers.thresholds
    assert (
        th.max_connections.value,
        th.max_pending_requests.value,
        th.max_requests.value,
        th.max_retries.value,
    ) == (4294967295,) * 4
    assert not th.track_remaining
    md = istio(c)
    assert md["services"] == [
        {"host": "details.default.svc.cluster.local", "name": "details", "namespace": "default"}
    ]
    assert md["config"] == "/apis/networking.istio.io/v1/namespaces/default/destination-rule/details"


def test_auto_mtls_transport_socket_matches(bookinfo_clusters) -> None:  # noqa: ANN001
    c = bookinfo_clusters["outbound|9080|v2|reviews.default.svc.cluster.local"]
    assert not c.HasField("transport_socket")
    m1, m2 = c.transport_socket_matches
    assert m1.name == "tlsMode-istio" and dict(m1.match) == {"tlsMode": "istio"}
    assert m2.name == "tlsMode-disabled" and not m2.match.fields
    assert m2.transport_socket.name == "envoy.transport_sockets.raw_buffer"
    ctx = tls_ctx(m1.transport_socket)
    assert ctx.sni == "outbound_.9080_.v2_.reviews.default.svc.cluster.local"
    assert list(ctx.common_tls_context.alpn_protocols) == ["istio-peer-exchange", "istio"]
    assert ctx.common_tls_context.tls_certificate_sds_secret_configs[0].name == "default"
    cv = ctx.common_tls_context.combined_validation_context
    assert cv.validation_context_sds_secret_config.name == "ROOTCA"
    assert [s.exact for s in cv.default_validation_context.match_subject_alt_names] == [
        "spiffe://cluster.local/ns/default/sa/bookinfo-reviews"
    ]
    assert istio(c)["subset"] == "v2"
    # MESH_EXTERNAL: never auto mTLS
    books = bookinfo_clusters["outbound|443||books.example.com"]
    assert not books.transport_socket_matches and not books.HasField("transport_socket")


def test_bookinfo_dr_policies(bookinfo_clusters) -> None:  # noqa: ANN001
    reviews = bookinfo_clusters["outbound|9080|v1|reviews.default.svc.cluster.local"]
    assert reviews.lb_policy == C.ROUND_ROBIN
    ratings = bookinfo_clusters["outbound|9080||ratings.default.svc.cluster.local"]
    od = ratings.outlier_detection
    assert (
        od.consecutive_5xx.value > 0
        and od.enforcing_consecutive_5xx.value == 100
        and od.enforcing_success_rate.value == 0
    )
    assert ratings.common_lb_config.HasField("healthy_panic_threshold")
    assert ratings.circuit_breakers.thresholds[0].max_pending_requests.value != 4294967295


def test_dns_service_entry_is_strict_dns_with_inline_host(bookinfo_clusters) -> None:  # noqa: ANN001
    c = bookinfo_clusters["outbound|443||books.example.com"]
    assert c.type == C.STRICT_DNS and c.dns_lookup_family == C.V4_ONLY and c.respect_dns_ttl
    assert c.dns_refresh_rate.seconds == 60
    [ep] = [e for g in c.load_assignment.endpoints for e in g.lb_endpoints]
    assert (ep.endpoint.address.socket_address.address, ep.endpoint.address.socket_address.port_value) == (
        "books.example.com",
        443,
    )
    assert istio(c)["external"] is True
    assert not c.HasField("eds_cluster_config")


def test_inbound_and_passthrough_clusters(bookinfo_clusters) -> None:  # noqa: ANN001
    ib = bookinfo_clusters["inbound|9080||"]
    assert ib.type == C.ORIGINAL_DST and ib.lb_policy == C.CLUSTER_PROVIDED
    assert ib.upstream_bind_config.source_address.address == "127.0.0.6"
    assert ib.cleanup_interval.seconds == 9223372035
    assert istio(ib)["services"][0]["host"] == "productpage.default.svc.cluster.local"
    pt = bookinfo_clusters["PassthroughCluster"]
    assert pt.type == C.ORIGINAL_DST and pt.lb_policy == C.CLUSTER_PROVIDED
    assert (
        hpo(pt).HasField("use_downstream_protocol_config")
        and hpo(pt).common_http_protocol_options.idle_timeout.seconds == 300
    )
    bh = bookinfo_clusters["BlackHoleCluster"]
    assert bh.type == C.STATIC and not bh.load_assignment.endpoints
    ipt = bookinfo_clusters["InboundPassthroughCluster"]
    assert ipt.upstream_bind_config.source_address.address == "127.0.0.6"


def test_gateway_has_no_passthrough_or_inbound() -> None:
    m = build_mesh(load_paths([str(BOOKINFO)]))
    names = [c.name for c in build_clusters(m, m.proxy("deploy/istio-ingressgateway", "istio-system"))]
    assert "BlackHoleCluster" in names and "outbound|9080||productpage.default.svc.cluster.local" in names
    assert not any(n.startswith("inbound") or "Passthrough" in n for n in names)


BASE = (
    svc(
        "web",
        ports="[{name: http, port: 80, targetPort: 8080}, {name: grpc-api, port: 90}, {name: tcp-db, port: 5432}, {name: other, port: 7000}]",
    )
    + deploy("web-v1", labels="{app: web, version: v1}", ports="[{containerPort: 8080}]")
    + deploy("client", labels="{app: client}")
)


def test_port_level_settings_replace_the_whole_policy() -> None:
    cs = clusters_of(
        BASE
        + dr(
            "web",
            "default",
            "web",
            """  trafficPolicy:
    loadBalancer: {simple: RANDOM}
    connectionPool: {tcp: {maxConnections: 7}}
    tls: {mode: DISABLE}
    portLevelSettings:
    - port: {number: 90}
      connectionPool: {http: {http2MaxRequests: 11}}
""",
        ),
        "deploy/client",
    )
    top = cs["outbound|80||web.default.svc.cluster.local"]
    assert top.lb_policy == C.RANDOM and top.circuit_breakers.thresholds[0].max_connections.value == 7
    assert not top.transport_socket_matches  # DISABLE: no auto mTLS
    port90 = cs["outbound|90||web.default.svc.cluster.local"]
    assert port90.lb_policy == C.LEAST_REQUEST  # nothing inherited from the top level
    assert port90.circuit_breakers.thresholds[0].max_connections.value == 4294967295
    assert port90.circuit_breakers.thresholds[0].max_requests.value == 11
    assert len(port90.transport_socket_matches) == 2  # tls not inherited: back to auto mTLS


def test_subset_policy_merges_over_dr_policy() -> None:
    cs = clusters_of(
        BASE
        + dr(
            "web",
            "default",
            "web",
            """  trafficPolicy:
    loadBalancer: {simple: ROUND_ROBIN}
    outlierDetection: {consecutive5xxErrors: 3, interval: 5s}
  subsets:
  - name: v1
    labels: {version: v1}
    trafficPolicy:
      loadBalancer: {consistentHash: {httpHeaderName: x-user}}
  - name: v2
    labels: {version: v2}
    trafficPolicy:
      portLevelSettings: [{port: {number: 80}, loadBalancer: {simple: RANDOM}}]
""",
        ),
        "deploy/client",
    )
    v1 = cs["outbound|80|v1|web.default.svc.cluster.local"]
    assert v1.lb_policy == C.RING_HASH and v1.ring_hash_lb_config.minimum_ring_size.value == 1024
    assert v1.outlier_detection.consecutive_5xx.value == 3  # inherited field by field
    v2 = cs["outbound|80|v2|web.default.svc.cluster.local"]
    assert v2.lb_policy == C.RANDOM and not v2.HasField(
        "outlier_detection"
    )  # subset port-level replaces all four
    assert (
        tls_ctx(v1.transport_socket_matches[0].transport_socket).sni
        == "outbound_.80_.v1_.web.default.svc.cluster.local"
    )


def test_connection_pool_and_protocol_options() -> None:
    cs = clusters_of(
        BASE
        + dr(
            "web",
            "default",
            "web",
            """  trafficPolicy:
    loadBalancer: {simple: LEAST_CONN, warmupDurationSecs: 30s}
    connectionPool:
      tcp: {connectTimeout: 250ms, maxConnectionDuration: 1h, tcpKeepalive: {time: 60s, probes: 3}}
      http: {http1MaxPendingRequests: 5, maxRetries: 2, idleTimeout: 30s, maxRequestsPerConnection: 1, maxConcurrentStreams: 9}
""",
        ),
        "deploy/client",
    )
    http = cs["outbound|80||web.default.svc.cluster.local"]
    assert http.connect_timeout.nanos == 250_000_000 and http.connect_timeout.seconds == 0
    th = http.circuit_breakers.thresholds[0]
    assert (th.max_pending_requests.value, th.max_retries.value) == (5, 2)
    o = hpo(http)
    assert o.common_http_protocol_options.idle_timeout.seconds == 30
    assert o.common_http_protocol_options.max_requests_per_connection.value == 1
    assert o.common_http_protocol_options.max_connection_duration.seconds == 3600
    assert o.explicit_http_config.HasField("http_protocol_options")  # HTTP/1 default when nothing else chose
    assert http.upstream_connection_options.tcp_keepalive.keepalive_time.value == 60
    assert (
        http.lb_policy == C.LEAST_REQUEST
        and http.least_request_lb_config.slow_start_config.slow_start_window.seconds == 30
    )
    grpc = cs["outbound|90||web.default.svc.cluster.local"]
    assert hpo(grpc).explicit_http_config.http2_protocol_options.max_concurrent_streams.value == 9
    assert list(
        tls_ctx(grpc.transport_socket_matches[0].transport_socket).common_tls_context.alpn_protocols
    ) == ["istio-peer-exchange", "istio", "h2"]
    sniffed = cs["outbound|7000||web.default.svc.cluster.local"]
    assert hpo(sniffed).HasField("use_downstream_protocol_config")  # unnamed port on a sidecar


def test_h2_upgrade_policy() -> None:
    mc = MeshConfig(h2_upgrade_policy="UPGRADE")
    cs = clusters_of(BASE, "deploy/client", mc=mc)
    assert hpo(cs["outbound|80||web.default.svc.cluster.local"]).explicit_http_config.HasField(
        "http2_protocol_options"
    )
    assert HPO not in cs["outbound|5432||web.default.svc.cluster.local"].typed_extension_protocol_options
    cs = clusters_of(
        BASE
        + dr(
            "web",
            "default",
            "web",
            "  trafficPolicy: {connectionPool: {http: {h2UpgradePolicy: DO_NOT_UPGRADE}}}\n",
        ),
        "deploy/client",
        mc=mc,
    )
    assert not hpo(cs["outbound|80||web.default.svc.cluster.local"]).explicit_http_config.HasField(
        "http2_protocol_options"
    )


def test_consistent_hash_variants() -> None:
    for lb, policy, field in (
        ("{consistentHash: {useSourceIp: true, maglev: {tableSize: 65537}}}", C.MAGLEV, "maglev_lb_config"),
        (
            "{consistentHash: {httpCookie: {name: c, ttl: 0s}, ringHash: {minimumRingSize: 64}}}",
            C.RING_HASH,
            "ring_hash_lb_config",
        ),
    ):
        c = clusters_of(
            BASE + dr("web", "default", "web", f"  trafficPolicy: {{loadBalancer: {lb}}}\n"), "deploy/client"
        )["outbound|80||web.default.svc.cluster.local"]
        assert c.lb_policy == policy and c.HasField(field)


def test_explicit_tls_modes() -> None:
    cs = clusters_of(
        BASE
        + dr(
            "web",
            "default",
            "web",
            """  trafficPolicy:
    tls: {mode: ISTIO_MUTUAL, sni: custom.sni}
    portLevelSettings:
    - port: {number: 5432}
      tls: {mode: SIMPLE, caCertificates: /etc/ca.pem, subjectAltNames: [db.example.com]}
    - port: {number: 7000}
      tls: {mode: MUTUAL, clientCertificate: /c.pem, privateKey: /k.pem, sni: x.example.com}
""",
        ),
        "deploy/client",
    )
    im = cs["outbound|80||web.default.svc.cluster.local"]
    assert tls_ctx(im.transport_socket).sni == "custom.sni" and not im.transport_socket_matches
    simple = cs["outbound|5432||web.default.svc.cluster.local"]
    ctx = tls_ctx(simple.transport_socket)
    assert (
        ctx.common_tls_context.combined_validation_context.validation_context_sds_secret_config.name
        == "file-root:/etc/ca.pem"
    )
    assert [
        s.exact
        for s in ctx.common_tls_context.combined_validation_context.default_validation_context.match_subject_alt_names
    ] == ["db.example.com"]
    assert (
        hpo(simple).upstream_http_protocol_options.auto_sni
        and not hpo(simple).upstream_http_protocol_options.auto_san_validation
    )
    assert istio(simple)["alpn_override"] == "false"
    mutual = tls_ctx(cs["outbound|7000||web.default.svc.cluster.local"].transport_socket)
    assert mutual.sni == "x.example.com"
    assert mutual.common_tls_context.tls_certificate_sds_secret_configs[0].name == "file-cert:/c.pem~/k.pem"
    assert (
        mutual.common_tls_context.combined_validation_context.validation_context_sds_secret_config.name
        == "file-root:system"
    )


def test_credential_name_on_sidecar_dr_without_selector_is_plaintext() -> None:
    text = BASE + dr(
        "web", "default", "web", "  trafficPolicy: {tls: {mode: SIMPLE, credentialName: web-cert}}\n"
    )
    c = clusters_of(text, "deploy/client")["outbound|80||web.default.svc.cluster.local"]
    assert not c.HasField("transport_socket") and not c.transport_socket_matches
    sel = clusters_of(
        BASE
        + dr(
            "web",
            "default",
            "web",
            "  workloadSelector: {matchLabels: {app: client}}\n"
            "  trafficPolicy: {tls: {mode: SIMPLE, credentialName: web-cert}}\n",
        ),
        "deploy/client",
    )
    ctx = tls_ctx(sel["outbound|80||web.default.svc.cluster.local"].transport_socket)
    assert (
        ctx.common_tls_context.combined_validation_context.validation_context_sds_secret_config.name
        == "kubernetes://web-cert-cacert"
    )


def test_peer_authentication_disable_turns_off_auto_mtls() -> None:
    text = (
        BASE
        + """---
apiVersion: security.istio.io/v1
kind: PeerAuthentication
metadata: {name: no-mtls, namespace: default}
spec: {mtls: {mode: DISABLE}}
"""
    )
    c = clusters_of(text, "deploy/client")["outbound|80||web.default.svc.cluster.local"]
    assert not c.transport_socket_matches
    c = clusters_of(BASE, "deploy/client", mc=MeshConfig(enable_auto_mtls=False))[
        "outbound|80||web.default.svc.cluster.local"
    ]
    assert not c.transport_socket_matches


SE = """---
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {{name: {name}, namespace: default}}
spec:
  hosts: [{host}]
  ports: [{{number: 443, name: tls, protocol: TLS{tp}}}]
  resolution: {res}
{extra}"""


def test_service_entry_resolutions() -> None:
    text = (
        deploy("client", labels="{app: client}")
        + SE.format(name="none", host="none.example.com", res="NONE", tp=", targetPort: 8443", extra="")
        + SE.format(
            name="static",
            host="static.example.com",
            res="STATIC",
            tp="",
            extra="  endpoints: [{address: 1.2.3.4}]\n",
        )
        + SE.format(name="static-empty", host="empty.example.com", res="STATIC", tp="", extra="")
        + SE.format(
            name="rr",
            host="rr.example.com",
            res="DNS_ROUND_ROBIN",
            tp="",
            extra="  endpoints: [{address: a.example.com}, {address: b.example.com}]\n",
        )
        + SE.format(
            name="dns-sub",
            host="dns.example.com",
            res="DNS",
            tp="",
            extra="  endpoints: [{address: x.example.com, labels: {v: '1'}}]\n",
        )
        + dr(
            "dns-sub",
            "default",
            "dns.example.com",
            "  subsets: [{name: one, labels: {v: '1'}}, {name: two, labels: {v: '2'}}]\n",
        )
    )
    cs = clusters_of(text, "deploy/client")
    none = cs["outbound|443||none.example.com"]
    assert none.type == C.ORIGINAL_DST and none.lb_policy == C.CLUSTER_PROVIDED
    assert none.original_dst_lb_config.upstream_port_override.value == 8443
    assert cs["outbound|443||static.example.com"].type == C.EDS  # STATIC SE -> EDS
    assert cs["outbound|443||empty.example.com"].type == C.EDS  # EDS clusters are kept without endpoints
    rr = cs["outbound|443||rr.example.com"]
    assert rr.type == C.LOGICAL_DNS and sum(len(g.lb_endpoints) for g in rr.load_assignment.endpoints) == 1
    assert "outbound|443|one|dns.example.com" in cs
    assert "outbound|443|two|dns.example.com" not in cs  # DNS subset without endpoints: dropped
    gw_cs = clusters_of(
        text + deploy("gw", labels="{istio: gw}") + "---\napiVersion: networking.istio.io/v1\nkind: Gateway\n"
        "metadata: {name: g, namespace: default}\nspec: {selector: {istio: gw}, servers: []}\n",
        "deploy/gw",
    )
    assert gw_cs["outbound|443||none.example.com"].type == C.EDS  # gateways never use ORIGINAL_DST


def test_sidecar_scope_limits_clusters_and_alias_has_none() -> None:
    text = (
        svc("a")
        + svc("b")
        + deploy("a")
        + svc("alias", extra="\n  type: ExternalName\n  externalName: a.default.svc.cluster.local")
        + "---\napiVersion: networking.istio.io/v1\nkind: Sidecar\nmetadata: {name: s, namespace: default}\n"
        "spec: {egress: [{hosts: ['./a.default.svc.cluster.local']}]}\n"
    )
    names = set(clusters_of(text, "deploy/a"))
    assert (
        "outbound|80||a.default.svc.cluster.local" in names
        and "outbound|80||b.default.svc.cluster.local" not in names
    )
    names = set(
        clusters_of(text.replace("hosts: ['./a.default.svc.cluster.local']", "hosts: ['*/*']"), "deploy/a")
    )
    assert "outbound|80||b.default.svc.cluster.local" in names and not any("alias" in n for n in names)


def test_inbound_localhost_loopback_and_sidecar_ingress() -> None:
    c = clusters_of(BASE, "deploy/web-v1", mc=MeshConfig(inbound_traffic_policy={"mode": "LOCALHOST"}))[
        "inbound|8080||"
    ]
    assert c.type == C.STATIC and not c.HasField("upstream_bind_config")
    sa = c.load_assignment.endpoints[0].lb_endpoints[0].endpoint.address.socket_address
    assert (sa.address, sa.port_value) == ("127.0.0.1", 8080)
    m = build_mesh(load_text(BASE, "c.yaml"))
    p = replace(m.proxy("deploy/web-v1"), loopback=True)
    lb = {x.name: x for x in build_clusters(m, p)}["inbound|8080||"]
    sa = lb.load_assignment.endpoints[0].lb_endpoints[0].endpoint.address.socket_address
    assert lb.type == C.STATIC and sa.address == p.ip and not lb.HasField("upstream_bind_config")
    ing = clusters_of(
        BASE
        + "---\napiVersion: networking.istio.io/v1\nkind: Sidecar\nmetadata: {name: s, namespace: default}\n"
        "spec:\n  workloadSelector: {labels: {app: web}}\n  ingress:\n"
        "  - {port: {number: 9999, protocol: HTTP, name: h}, defaultEndpoint: '127.0.0.1:7777'}\n"
        "  inboundConnectionPool: {tcp: {maxConnections: 3}}\n",
        "deploy/web-v1",
    )
    assert "inbound|8080||" not in ing
    c = ing["inbound|9999||"]
    sa = c.load_assignment.endpoints[0].lb_endpoints[0].endpoint.address.socket_address
    assert (sa.address, sa.port_value) == ("127.0.0.1", 7777) and c.circuit_breakers.thresholds[
        0
    ].max_connections.value == 3


def test_duplicate_cluster_names_first_wins() -> None:
    text = (
        deploy("client", labels="{app: client}")
        + SE.format(name="a-first", host="dup.example.com", res="DNS", tp="", extra="")
        + SE.format(name="b-second", host="dup.example.com", res="NONE", tp="", extra="").replace(
            "namespace: default", "namespace: other"
        )
    )
    cs = clusters_of(text, "deploy/client")
    assert cs["outbound|443||dup.example.com"].type == C.STRICT_DNS


@pytest.mark.envoy
def test_real_envoy_accepts_every_cluster(envoy_bin: str) -> None:  # noqa: ARG001
    """``envoy --mode validate`` over a bootstrap holding every generated cluster (sidecar + gateway + DR features)."""
    from meshctl.envoy.runner import validate_config

    text = BASE + dr(
        "web",
        "default",
        "web",
        """  trafficPolicy:
    connectionPool: {http: {maxConcurrentStreams: 5, idleTimeout: 1s}, tcp: {tcpKeepalive: {time: 10s}}}
    outlierDetection: {consecutive5xxErrors: 2, splitExternalLocalOriginErrors: true, consecutiveLocalOriginFailures: 2}
    loadBalancer: {localityLbSetting: {distribute: [{from: 'us/*', to: {'us/a': 80, 'us/b': 20}}]}}
    proxyProtocol: {version: V2}
    portLevelSettings:
    - port: {number: 5432}
      tls: {mode: SIMPLE, caCertificates: /etc/ca.pem}
  subsets: [{name: v1, labels: {version: v1}, trafficPolicy: {loadBalancer: {consistentHash: {maglev: {tableSize: 65537}}}}}]
""",
    )
    docs = [load_paths([str(BOOKINFO)]), load_text(text, "c.yaml")]
    for resources, targets in (
        (docs[0], [("deploy/productpage-v1", None), ("deploy/istio-ingressgateway", "istio-system")]),
        (docs[1], [("deploy/client", None), ("deploy/web-v1", None)]),
    ):
        m = build_mesh(resources)
        for target, ns in targets:
            proxy = m.proxy(target, ns)
            built = build_clusters(m, proxy)
            cs = [json_format.MessageToDict(c, preserving_proto_field_name=True) for c in built]
            r = validate_config(_bootstrap(cs))
            assert r.ok, f"{target}: {r.output[-2000:]}"
            # EDS as Envoy would receive it: each assignment inlined into a STATIC copy of its cluster
            from meshctl.translate.endpoint import build_endpoints

            static = []
            for cla in build_endpoints(m, proxy, built):
                c = cluster_pb2.Cluster(name="eds-" + cla.cluster_name, type=C.STATIC)
                c.connect_timeout.seconds = 1
                c.load_assignment.CopyFrom(cla)
                c.load_assignment.cluster_name = c.name
                static.append(json_format.MessageToDict(c, preserving_proto_field_name=True))
            r = validate_config(_bootstrap(static))
            assert r.ok, f"{target} EDS: {r.output[-2000:]}"


def _bootstrap(clusters: list[dict]) -> dict:
    def grpc(name: str) -> dict:
        return {
            "name": name,
            "type": "STATIC",
            "connect_timeout": "1s",
            "typed_extension_protocol_options": {
                HPO: {
                    "@type": f"type.googleapis.com/{HPO}",
                    "explicit_http_config": {"http2_protocol_options": {}},
                }
            },
            "load_assignment": {
                "cluster_name": name,
                "endpoints": [
                    {
                        "lb_endpoints": [
                            {
                                "endpoint": {
                                    "address": {"socket_address": {"address": "127.0.0.1", "port_value": 1}}
                                }
                            }
                        ]
                    }
                ],
            },
        }

    return {
        "node": {"id": "sidecar~10.0.0.1~x.default~default.svc.cluster.local", "cluster": "x"},
        "static_resources": {"clusters": [grpc("xds-grpc"), grpc("sds-grpc")] + clusters},
        "dynamic_resources": {
            "ads_config": {
                "api_type": "GRPC",
                "transport_api_version": "V3",
                "grpc_services": [{"envoy_grpc": {"cluster_name": "xds-grpc"}}],
            }
        },
        "admin": {"address": {"socket_address": {"address": "127.0.0.1", "port_value": 0}}},
    }


def test_auto_passthrough_gateway_gets_sni_dnat_clusters() -> None:
    from meshctl.translate.endpoint import build_endpoints

    text = (
        svc("web")
        + deploy("web", labels="{app: web, version: v1}")
        + deploy("plain", labels="{app: web, version: v0}", annotations='{sidecar.istio.io/inject: "false"}')
        + deploy("ew", ns="istio-system", labels="{istio: eastwestgateway}")
        + dr("web", "default", "web", "  subsets: [{name: v1, labels: {version: v1}}]\n")
        + """---
apiVersion: networking.istio.io/v1
kind: Gateway
metadata: {name: cross-network, namespace: istio-system}
spec:
  selector: {istio: eastwestgateway}
  servers: [{port: {number: 15443, name: tls, protocol: TLS}, tls: {mode: AUTO_PASSTHROUGH}, hosts: ['*.local']}]
"""
    )
    m = build_mesh(load_text(text, "c.yaml"))
    p = m.proxy("deploy/ew", "istio-system")
    cs = {c.name: c for c in build_clusters(m, p)}
    dnat = cs["outbound_.80_._.web.default.svc.cluster.local"]
    assert dnat.type == C.EDS and dnat.eds_cluster_config.service_name == dnat.name
    assert not dnat.HasField("transport_socket") and not dnat.transport_socket_matches  # TLS passes through
    assert (
        "outbound_.80_.v1_.web.default.svc.cluster.local" in cs
        and "outbound|80||web.default.svc.cluster.local" in cs
    )
    eds = {e.cluster_name: e for e in build_endpoints(m, p, list(cs.values()))}
    ips = [
        e.endpoint.address.socket_address.address for g in eds[dnat.name].endpoints for e in g.lb_endpoints
    ]
    web_ip = next(w.ip for w in m.workloads if w.name == "web")
    assert ips == [web_ip]  # the non-injected endpoint is filtered out
    names = [c.name for c in build_clusters(m, m.proxy("deploy/web"))]
    assert not any(n.startswith("outbound_.") for n in names)


def test_headless_service_auto_mtls_follows_its_endpoints() -> None:
    injected = (
        svc("db", extra="\n  clusterIP: None") + deploy("db") + deploy("client", labels="{app: client}")
    )
    c = clusters_of(injected, "deploy/client")["outbound|80||db.default.svc.cluster.local"]
    assert c.type == C.ORIGINAL_DST and not c.transport_socket_matches
    assert (
        c.transport_socket.name == "envoy.transport_sockets.tls"
    )  # every endpoint has a sidecar: plain mTLS socket
    mixed = injected + deploy(
        "db-legacy", labels="{app: db}", annotations='{sidecar.istio.io/inject: "false"}'
    )
    c = clusters_of(mixed, "deploy/client")["outbound|80||db.default.svc.cluster.local"]
    assert not c.HasField("transport_socket") and not c.transport_socket_matches


def test_cluster_stat_names_from_mesh_config() -> None:
    mc = MeshConfig(
        outbound_cluster_stat_name="%SERVICE%_%SERVICE_PORT_NAME%_%SUBSET_NAME%",
        inbound_cluster_stat_name="inbound_%SERVICE_FQDN%_%TARGET_PORT%",
    )
    text = BASE + dr("web", "default", "web", "  subsets: [{name: v1, labels: {version: v1}}]\n")
    cs = clusters_of(text, "deploy/web-v1", mc=mc)
    assert cs["outbound|80||web.default.svc.cluster.local"].alt_stat_name == "web.default_http_;"
    assert cs["outbound|80|v1|web.default.svc.cluster.local"].alt_stat_name == "web.default_http_v1;"
    assert cs["inbound|8080||"].alt_stat_name == "inbound_web.default.svc.cluster.local_8080;"


def test_sds_config_fetch_timeouts_follow_istio() -> None:
    """The agent's sds-grpc source waits for the workload certificate (``initial_fetch_timeout: 0s``); the ADS
    source of credentialName secrets deliberately keeps Envoy's default, as Istio's SDSAdsConfig does, so a
    missing secret cannot block a listener or cluster forever."""
    from meshctl.translate.cluster_tls import sds_config

    agent = sds_config("default")
    assert agent.sds_config.HasField("initial_fetch_timeout")
    assert agent.sds_config.initial_fetch_timeout.ToSeconds() == 0
    assert agent.sds_config.api_config_source.grpc_services[0].envoy_grpc.cluster_name == "sds-grpc"
    ads = sds_config("kubernetes://cred", ads=True)
    assert ads.sds_config.HasField("ads") and not ads.sds_config.HasField("initial_fetch_timeout")
    assert json_format.MessageToDict(ads, preserving_proto_field_name=True) == {
        "name": "kubernetes://cred",
        "sds_config": {"ads": {}, "resource_api_version": "V3"},
    }
