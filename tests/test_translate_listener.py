"""Unit tests of the sidecar LDS/RDS builders against the spec tables (istio-translation.md §1.2-§1.4, §7)."""

from __future__ import annotations

from typing import Any

import pytest
from conftest import BOOKINFO, FIXTURES
from envoy.config.core.v3 import base_pb2
from envoy.config.listener.v3 import listener_pb2
from envoy.extensions.filters.network.http_connection_manager.v3 import http_connection_manager_pb2 as hcm_pb2
from envoy.extensions.filters.network.tcp_proxy.v3 import tcp_proxy_pb2
from envoy.extensions.transport_sockets.tls.v3 import tls_pb2

from meshctl.model import build_mesh
from meshctl.sources import load_paths
from meshctl.translate import ProxyConfig, translate

TT = FIXTURES / "translate"


def _translate(paths: list[Any], target: str, loopback: bool = False) -> ProxyConfig:
    mesh = build_mesh(load_paths([str(p) for p in paths]))
    proxy = mesh.proxy(target)
    proxy.loopback = loopback
    return translate(mesh, proxy)


@pytest.fixture(scope="module")
def productpage() -> ProxyConfig:
    return _translate([BOOKINFO], "deploy/productpage-v1")


@pytest.fixture(scope="module")
def data_app() -> ProxyConfig:
    return _translate([TT / "tcp-tls.yaml"], "pod/app")


def listener(pc: ProxyConfig, name: str) -> listener_pb2.Listener:
    return next(lis for lis in pc.listeners if lis.name == name)


def hcm_of(chain: Any) -> hcm_pb2.HttpConnectionManager:
    m = hcm_pb2.HttpConnectionManager()
    chain.filters[0].typed_config.Unpack(m)
    return m


def tcp_of(chain: Any) -> tcp_proxy_pb2.TcpProxy:
    t = tcp_proxy_pb2.TcpProxy()
    chain.filters[0].typed_config.Unpack(t)
    return t


def test_sidecar_listener_names(productpage: ProxyConfig) -> None:
    names = {lis.name for lis in productpage.listeners}
    vip = next(
        s for s in build_mesh(load_paths([str(BOOKINFO)])).services if s.name == "istio-ingressgateway"
    ).vip
    assert names == {
        "0.0.0.0_9080",
        "0.0.0.0_80",
        "0.0.0.0_443",
        f"{vip}_443",
        f"{vip}_15021",
        "virtualOutbound",
        "virtualInbound",
    }


def test_http_outbound_listener(productpage: ProxyConfig) -> None:
    lis = listener(productpage, "0.0.0.0_9080")
    assert lis.bind_to_port.value is False and lis.HasField("bind_to_port")
    assert lis.traffic_direction == base_pb2.OUTBOUND and lis.continue_on_listener_filters_timeout
    assert [f.name for f in lis.listener_filters] == [
        "envoy.filters.listener.tls_inspector",
        "envoy.filters.listener.http_inspector",
    ]
    (chain,) = lis.filter_chains
    assert chain.filter_chain_match.transport_protocol == "raw_buffer"
    assert list(chain.filter_chain_match.application_protocols) == [
        "http/1.1",
        "h2c",
    ]  # HTTP/1.0 passes as TCP
    assert lis.HasField("listener_filters_timeout") and lis.listener_filters_timeout.seconds == 0
    m = hcm_of(chain)
    assert m.stat_prefix == "outbound_0.0.0.0_9080;" and m.rds.route_config_name == "9080"
    assert m.rds.config_source.HasField("ads")
    assert [f.name for f in m.http_filters] == [
        "envoy.filters.http.grpc_stats",
        "envoy.filters.http.fault",
        "envoy.filters.http.cors",
        "envoy.filters.http.router",
    ]
    assert (
        m.use_remote_address.value is False and m.normalize_path.value and m.stream_idle_timeout.seconds == 0
    )
    assert [u.upgrade_type for u in m.upgrade_configs] == ["websocket"]
    assert lis.default_filter_chain.name == "PassthroughFilterChain"
    assert tcp_of(lis.default_filter_chain).cluster == "PassthroughCluster"


def test_virtual_outbound(productpage: ProxyConfig) -> None:
    lis = listener(productpage, "virtualOutbound")
    assert lis.address.socket_address.port_value == 15001 and lis.use_original_dst.value
    assert [c.name for c in lis.filter_chains] == [
        "virtualOutbound-blackhole",
        "virtualOutbound-catchall-tcp",
    ]
    assert lis.filter_chains[0].filter_chain_match.destination_port.value == 15001
    assert tcp_of(lis.filter_chains[0]).cluster == "BlackHoleCluster"
    assert tcp_of(lis.filter_chains[1]).cluster == "PassthroughCluster"


def test_virtual_inbound_permissive(productpage: ProxyConfig) -> None:
    lis = listener(productpage, "virtualInbound")
    assert lis.address.socket_address.port_value == 15006 and lis.traffic_direction == base_pb2.INBOUND
    assert [f.name for f in lis.listener_filters] == [
        "envoy.filters.listener.original_dst",
        "envoy.filters.listener.tls_inspector",
        "envoy.filters.listener.http_inspector",
    ]
    chains = [c for c in lis.filter_chains if c.name == "0.0.0.0_9080"]
    assert [c.filter_chain_match.transport_protocol for c in chains] == ["tls", "raw_buffer"]
    assert all(c.filter_chain_match.destination_port.value == 9080 for c in chains)
    ctx = tls_pb2.DownstreamTlsContext()
    chains[0].transport_socket.typed_config.Unpack(ctx)
    assert ctx.require_client_certificate.value
    assert ctx.common_tls_context.tls_certificate_sds_secret_configs[0].name == "default"
    assert (
        ctx.common_tls_context.combined_validation_context.validation_context_sds_secret_config.name
        == "ROOTCA"
    )
    m = hcm_of(chains[1])
    assert m.stat_prefix == "inbound_0.0.0.0_9080;" and m.route_config.name == "inbound|9080||"
    (vh,) = m.route_config.virtual_hosts
    assert vh.name == "inbound|http|9080" and list(vh.domains) == ["*"]
    r = vh.routes[0]
    assert r.name == "default" and r.route.cluster == "inbound|9080||" and r.route.timeout.seconds == 0
    assert (
        r.route.retry_policy.retry_on == "reset-before-request"
        and r.route.retry_policy.num_retries.value == 2
    )
    assert r.route.max_stream_duration.HasField("grpc_timeout_header_max")
    names = [c.name for c in lis.filter_chains]
    assert (
        names[0] == "virtualInbound-blackhole"
        and "virtualInbound-catchall-http" in names
        and "virtualInbound" in names
    )


def test_strict_mtls_inbound_is_tls_only() -> None:
    pc = _translate([TT / "tcp-tls.yaml"], "pod/mongo-v1")
    chains = [c for c in listener(pc, "virtualInbound").filter_chains if c.name == "0.0.0.0_27017"]
    assert [c.filter_chain_match.transport_protocol for c in chains] == ["tls"]
    assert tcp_of(chains[0]).cluster == "inbound|27017||"


def test_tcp_vip_listener_with_cidr_and_weighted_routes(data_app: ProxyConfig) -> None:
    lis = listener(data_app, "10.0.5.5_27017")
    (cidr,) = lis.filter_chains
    weighted = lis.default_filter_chain  # several chains: the match-all one becomes the default chain
    assert [(p.address_prefix, p.prefix_len.value) for p in cidr.filter_chain_match.prefix_ranges] == [
        ("10.9.0.0", 16)
    ]
    assert tcp_of(cidr).cluster == "outbound|27017|v2|mongo.data.svc.cluster.local"
    t = tcp_of(weighted)
    assert t.stat_prefix == "mongo.data"
    assert [(c.name, c.weight) for c in t.weighted_clusters.clusters] == [
        ("outbound|27017|v1|mongo.data.svc.cluster.local", 80),
        ("outbound|27017|v2|mongo.data.svc.cluster.local", 20),
    ]
    assert not lis.listener_filters and lis.listener_filters_timeout.seconds == 0  # no inspector needed
    assert cidr.transport_socket_connect_timeout.seconds == 15


def test_tls_sni_chains_on_wildcard_and_registry_only(data_app: ProxyConfig) -> None:
    lis = listener(data_app, "0.0.0.0_443")
    by_sni = {tuple(c.filter_chain_match.server_names): tcp_of(c).cluster for c in lis.filter_chains}
    assert by_sni == {
        ("api.example.com",): "outbound|443||api.example.com",
        ("pay.example.com",): "outbound|443||api.example.com",
    }
    assert "envoy.filters.listener.tls_inspector" in [f.name for f in lis.listener_filters]
    assert tcp_of(lis.default_filter_chain).cluster == "BlackHoleCluster"  # REGISTRY_ONLY Sidecar
    assert tcp_of(listener(data_app, "virtualOutbound").filter_chains[1]).cluster == "BlackHoleCluster"


def test_sniffed_port_on_vip(data_app: ProxyConfig) -> None:
    lis = listener(data_app, "10.0.5.6_7070")
    (chain,) = lis.filter_chains
    assert hcm_of(chain).rds.route_config_name == "sniffed.data.svc.cluster.local:7070"
    assert tcp_of(lis.default_filter_chain).cluster == "outbound|7070||sniffed.data.svc.cluster.local"
    rc = next(r for r in data_app.routes if r.name == "sniffed.data.svc.cluster.local:7070")
    (vh,) = rc.virtual_hosts  # only the service's vhost, domains "*", no catch-all vhost
    assert vh.name == "sniffed.data.svc.cluster.local:7070" and list(vh.domains) == ["*"]


def test_sidecar_route_config_9080(productpage: ProxyConfig) -> None:
    rc = next(r for r in productpage.routes if r.name == "9080")
    assert rc.validate_clusters.value is False and rc.ignore_port_in_host_matching
    assert rc.max_direct_response_body_size_bytes.value == 1048576
    names = [v.name for v in rc.virtual_hosts]
    assert names == sorted(names[:-1]) + ["allow_any"]
    reviews = next(v for v in rc.virtual_hosts if v.name == "reviews.default.svc.cluster.local:9080")
    assert list(reviews.domains)[:5] == [
        "reviews.default.svc.cluster.local",
        "reviews.default.svc.cluster.local.",
        "reviews",
        "reviews.default.svc",
        "reviews.default",
    ]
    assert reviews.include_request_attempt_count
    assert [r.name for r in reviews.routes] == ["jason", "split"]
    details = next(v for v in rc.virtual_hosts if v.name.startswith("details."))
    assert [r.name for r in details.routes] == ["default"]
    allow = rc.virtual_hosts[-1]
    assert list(allow.domains) == ["*"] and allow.routes[0].route.cluster == "PassthroughCluster"


def test_cross_namespace_domains() -> None:
    pc = _translate([BOOKINFO], "deploy/productpage-v1")
    rc = next(r for r in pc.routes if r.name == "80")
    gw = next(v for v in rc.virtual_hosts if v.name.startswith("istio-ingressgateway."))
    assert "istio-ingressgateway.istio-system" in gw.domains and "istio-ingressgateway" not in gw.domains


def test_registry_only_block_all(data_app: ProxyConfig) -> None:
    names = {r.name for r in data_app.routes}
    for rc in data_app.routes:
        if rc.name.isdigit():
            assert rc.virtual_hosts[-1].name == "block_all"
            assert rc.virtual_hosts[-1].routes[0].direct_response.status == 502
    assert names


def test_loopback_bind_mode() -> None:
    pc = _translate([BOOKINFO, TT / "e2e-pods.yaml"], "pod/productpage-v1-0", loopback=True)
    lis = listener(pc, "0.0.0.0_9080")  # the name is Istio's
    assert (lis.address.socket_address.address, lis.address.socket_address.port_value) == (
        "127.0.213.10",
        9080,
    )
    assert not lis.HasField("bind_to_port")
    assert listener(pc, "0.0.0.0_80").bind_to_port.value is False  # privileged: left as Istio emits it
    vin = listener(pc, "virtualInbound")
    assert (vin.address.socket_address.address, vin.address.socket_address.port_value) == (
        "127.0.213.10",
        15006,
    )
    chain = next(c for c in vin.filter_chains if c.name == "0.0.0.0_9080")
    assert chain.filter_chain_match.destination_port.value == 15006
    inbound = next(c for c in pc.clusters if c.name == "inbound|9080||")
    sa = inbound.load_assignment.endpoints[0].lb_endpoints[0].endpoint.address.socket_address
    assert (sa.address, sa.port_value) == ("127.0.213.10", 19080)
    # everything else is identical to the non-loopback translation
    plain = _translate([BOOKINFO, TT / "e2e-pods.yaml"], "pod/productpage-v1-0")
    assert [r.SerializeToString(deterministic=True) for r in pc.routes] == [
        r.SerializeToString(deterministic=True) for r in plain.routes
    ]
    assert [lis.name for lis in pc.listeners] == [lis.name for lis in plain.listeners]


def test_hash_policy_from_destination_rule_on_sidecar_routes() -> None:
    pc = _translate([TT / "http-features.yaml"], "pod/client")
    rc = next(r for r in pc.routes if r.name == "8000")
    web = next(v for v in rc.virtual_hosts if v.name == "web.shop.svc.cluster.local:8000")
    hashed = [r for r in web.routes if r.WhichOneof("action") == "route"]
    assert hashed and all(r.route.hash_policy[0].header.header_name == "x-user" for r in hashed)
    single = [r for r in hashed if r.route.cluster and r.route.HasField("retry_policy")]
    assert single and all(not r.route.retry_policy.retry_host_predicate for r in single)
    weighted = next(r for r in hashed if r.route.HasField("weighted_clusters"))
    assert len(weighted.route.hash_policy) == 2  # one per destination (Istio), predicate kept
    assert weighted.route.retry_policy.retry_host_predicate
    # the features VS: redirect / direct response / catch-all stop
    names = [r.name for r in web.routes]
    assert names[-1] == "catch-all" and "never-reached" not in names
    assert next(r for r in web.routes if r.name == "derive").redirect.port_redirect == 8000


def test_sidecar_egress_listener_with_port_and_bind() -> None:
    pc = _translate([TT / "sidecar-egress.yaml"], "pod/web")
    names = [lis.name for lis in pc.listeners]
    assert "127.0.0.5_9080" in names and "0.0.0.0_9080" not in names  # the port is locked by the first egress
    assert "10.0.7.7_6379" in names  # the catch-all egress listener still builds the other ports
    lis = listener(pc, "127.0.0.5_9080")
    assert not lis.HasField("bind_to_port")  # captureMode NONE: a real bind
    rc = next(r for r in pc.routes if r.name == "9080")
    assert [v.name for v in rc.virtual_hosts] == ["reviews.shop.svc.cluster.local:9080", "allow_any"]


def test_virtual_inbound_chain_order_and_inspectors(productpage: ProxyConfig) -> None:
    lis = listener(productpage, "virtualInbound")
    names = [c.name for c in lis.filter_chains]
    # blackhole, then the passthrough chains (PERMISSIVE auto options), then the service port's chains
    assert names == [
        "virtualInbound-blackhole",
        "virtualInbound-catchall-http",
        "virtualInbound-catchall-http",
        "virtualInbound",
        "virtualInbound",
        "virtualInbound",
        "0.0.0.0_9080",
        "0.0.0.0_9080",
    ]
    mtls_http = lis.filter_chains[6]
    assert list(mtls_http.filter_chain_match.application_protocols) == [
        "istio",
        "istio-peer-exchange",
        "istio-http/1.0",
        "istio-http/1.1",
        "istio-h2",
    ]
    assert hcm_of(lis.filter_chains[1]).stat_prefix == "InboundPassthroughCluster;"
    tls_insp, http_insp = lis.listener_filters[1], lis.listener_filters[2]
    # Istio's per-port inspectors: 15006 (the blackhole chain) needs neither; 9080 (explicit HTTP) needs no
    # HTTP inspector
    r = tls_insp.filter_disabled.destination_port_range
    assert (r.start, r.end) == (15006, 15007)
    ranges = [
        (x.destination_port_range.start, x.destination_port_range.end)
        for x in http_insp.filter_disabled.or_match.rules
    ]
    assert ranges == [(9080, 9081), (15006, 15007)]


def test_inbound_modes_follow_istio_tables() -> None:
    from meshctl.model.types import Protocol
    from meshctl.translate.inbound import InboundPort, port_chains

    def shape(proto: Protocol, mode: str) -> list[tuple[str, str, bool]]:
        return [
            (
                c.filter_chain_match.transport_protocol,
                c.filters[0].name.rsplit(".", 1)[1],
                c.HasField("transport_socket"),
            )
            for c in port_chains(InboundPort(7000, proto, "x", mode), 7000)
        ]

    assert shape(Protocol.TCP, "STRICT") == [("tls", "tcp_proxy", True)]
    assert shape(Protocol.TCP, "PERMISSIVE") == [
        ("tls", "tcp_proxy", True),
        ("tls", "tcp_proxy", False),
        ("raw_buffer", "tcp_proxy", False),
    ]
    assert shape(Protocol.HTTP, "DISABLE") == [("raw_buffer", "http_connection_manager", False)]
    assert shape(Protocol.UNSUPPORTED, "STRICT") == [
        ("tls", "http_connection_manager", True),
        ("tls", "tcp_proxy", True),
    ]
    assert len(shape(Protocol.UNSUPPORTED, "PERMISSIVE")) == 5


def test_short_name_that_is_another_services_fqdn_is_dropped() -> None:
    """Istio httproute_test: ``test.default`` loses the short form ``test`` when a service is literally ``test``."""
    from meshctl.sources import load_text

    text = """
apiVersion: v1
kind: Service
metadata: {name: test, namespace: default}
spec: {clusterIP: 10.0.0.9, selector: {app: test}, ports: [{name: http, port: 80}]}
---
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: bare, namespace: default}
spec: {hosts: [test], resolution: DNS, ports: [{number: 80, name: http, protocol: HTTP}]}
---
apiVersion: v1
kind: Pod
metadata: {name: c, namespace: default, labels: {app: c}}
spec: {containers: [{name: c, image: c}]}
status: {podIP: 10.1.1.1, phase: Running}
"""
    mesh = build_mesh(load_text(text, "dup.yaml"))
    pc = translate(mesh, mesh.proxy("pod/c"))
    rc = next(r for r in pc.routes if r.name == "80")
    vh = next(v for v in rc.virtual_hosts if v.name == "test.default.svc.cluster.local:80")
    assert list(vh.domains)[:4] == [
        "test.default.svc.cluster.local",
        "test.default.svc.cluster.local.",
        "test.default.svc",
        "test.default",
    ]
    bare = next(v for v in rc.virtual_hosts if v.name == "test:80")
    assert list(bare.domains)[0] == "test"


def test_tcp_destination_rule_settings_and_cidr_services(data_app: ProxyConfig) -> None:
    t = tcp_of(listener(data_app, "10.0.5.7_6380").filter_chains[0])
    assert t.cluster == "outbound|6380||cache.data.svc.cluster.local"
    assert t.idle_timeout.seconds == 30 and t.max_downstream_connection_duration.seconds == 3600
    assert t.hash_policy[0].HasField("source_ip")
    # a CIDR-addressed ServiceEntry: wildcard listener, prefix_ranges chain, passthrough default
    lis = listener(data_app, "0.0.0.0_6380")
    (chain,) = lis.filter_chains
    assert [(p.address_prefix, p.prefix_len.value) for p in chain.filter_chain_match.prefix_ranges] == [
        ("192.168.10.0", 24)
    ]
    assert tcp_of(chain).cluster == "outbound|6380||legacy.internal"
    assert tcp_of(lis.default_filter_chain).cluster == "BlackHoleCluster"


def test_sidecar_egress_proxy_catches_unknown_traffic() -> None:
    from meshctl.sources import load_text

    text = """
apiVersion: v1
kind: Service
metadata: {name: web, namespace: a}
spec: {selector: {app: web}, ports: [{name: http, port: 8080}]}
---
apiVersion: v1
kind: Pod
metadata: {name: c, namespace: a, labels: {app: c}}
spec: {containers: [{name: c, image: c}]}
status: {podIP: 10.1.2.3, phase: Running}
---
apiVersion: networking.istio.io/v1
kind: Sidecar
metadata: {name: default, namespace: a}
spec:
  outboundTrafficPolicy:
    mode: ALLOW_ANY
    egressProxy: {host: egress.istio-system.svc.cluster.local, port: {number: 443}, subset: proxy}
"""
    mesh = build_mesh(load_text(text, "egress.yaml"))
    pc = translate(mesh, mesh.proxy("pod/c"))
    want = "outbound|443|proxy|egress.istio-system.svc.cluster.local"
    rc = next(r for r in pc.routes if r.name == "8080")
    assert rc.virtual_hosts[-1].name == "allow_any" and rc.virtual_hosts[-1].routes[0].route.cluster == want
    assert tcp_of(listener(pc, "0.0.0.0_8080").default_filter_chain).cluster == want
    assert tcp_of(listener(pc, "virtualOutbound").filter_chains[1]).cluster == want


def test_headless_tcp_service_gets_a_listener_per_pod(data_app: ProxyConfig) -> None:
    names = {lis.name for lis in data_app.listeners}
    assert {"10.2.0.31_5432", "10.2.0.32_5432"} <= names and "0.0.0.0_5432" not in names
    assert (
        tcp_of(listener(data_app, "10.2.0.31_5432").filter_chains[0]).cluster
        == "outbound|5432||db.data.svc.cluster.local"
    )
    # the pod's own sidecar does not get a listener for its own IP
    own = _translate([TT / "tcp-tls.yaml"], "pod/db-0")
    assert "10.2.0.31_5432" not in {lis.name for lis in own.listeners} and "10.2.0.32_5432" in {
        lis.name for lis in own.listeners
    }


def test_inbound_names_use_target_port_and_telemetry_uses_service_port() -> None:
    pc = _translate([TT / "http-features.yaml"], "pod/web-1")  # service port 8000 -> targetPort 8080
    chains = [c for c in listener(pc, "virtualInbound").filter_chains if c.name == "0.0.0.0_8080"]
    assert chains and all(c.filter_chain_match.destination_port.value == 8080 for c in chains)
    rc = hcm_of(chains[-1]).route_config
    assert rc.name == "inbound|8080||" and rc.virtual_hosts[0].name == "inbound|http|8000"
    r = rc.virtual_hosts[0].routes[0]
    assert (
        r.route.cluster == "inbound|8080||" and r.decorator.operation == "web.shop.svc.cluster.local:8000/*"
    )


def test_mesh_access_log_on_every_hcm_and_tcp_proxy(envoy_bin: str) -> None:
    from envoy.extensions.access_loggers.file.v3 import file_pb2

    from meshctl.envoy.runner import validate_config
    from meshctl.model import load_mesh_config
    from meshctl.translate.accesslog import TEXT_FORMAT
    from meshctl.translate.bootstrap import bootstrap

    mc = load_mesh_config(str(TT / "meshconfig-accesslog.yaml"))
    mesh = build_mesh(load_paths([str(BOOKINFO)]), mc)
    pc = translate(mesh, mesh.proxy("deploy/productpage-v1"))
    m = hcm_of(listener(pc, "0.0.0.0_9080").filter_chains[0])
    (log,) = m.access_log
    fal = file_pb2.FileAccessLog()
    log.typed_config.Unpack(fal)
    assert log.name == "envoy.access_loggers.file" and fal.path == "/dev/stdout"
    assert dict(fal.log_format.json_format) == {"code": "%RESPONSE_CODE%", "route": "%ROUTE_NAME%"}
    assert tcp_of(listener(pc, "0.0.0.0_9080").default_filter_chain).access_log
    assert list(listener(pc, "virtualInbound").access_log[0].filter.response_flag_filter.flags) == ["NR"]
    assert validate_config(bootstrap(pc, admin_port=0)).ok
    # without accessLogFile: no access logs (Istio's default)
    plain = translate(build_mesh(load_paths([str(BOOKINFO)])), mesh.proxy("deploy/productpage-v1"))
    assert not hcm_of(listener(plain, "0.0.0.0_9080").filter_chains[0]).access_log
    assert TEXT_FORMAT.endswith("%ROUTE_NAME%\n")


def test_authorization_policies_become_rbac_filters() -> None:
    from envoy.config.rbac.v3 import rbac_pb2
    from envoy.extensions.filters.http.rbac.v3 import rbac_pb2 as http_rbac
    from envoy.extensions.filters.network.rbac.v3 import rbac_pb2 as net_rbac

    pc = _translate([TT / "authz.yaml"], "pod/api-0")
    vin = listener(pc, "virtualInbound")
    http_chain = [c for c in vin.filter_chains if c.name == "0.0.0.0_8080"][-1]
    filters = hcm_of(http_chain).http_filters
    assert [f.name for f in filters][:4] == ["envoy.filters.http.rbac"] * 3 + [
        "envoy.filters.http.grpc_stats"
    ]
    configs = []
    for f in filters[:3]:
        r = http_rbac.RBAC()
        f.typed_config.Unpack(r)
        configs.append(r.rules)
    audit, deny, allow = configs
    assert (audit.action, deny.action, allow.action) == (
        rbac_pb2.RBAC.LOG,
        rbac_pb2.RBAC.DENY,
        rbac_pb2.RBAC.ALLOW,
    )
    assert set(audit.policies) == {"ns[istio-system]-policy[audit-all]-rule[0]"}
    # the JWT rule (requestPrincipals) cannot be expressed without RequestAuthentication: dropped from ALLOW
    assert set(allow.policies) == {
        "ns[shop]-policy[allow-frontend]-rule[0]",
        "ns[shop]-policy[allow-frontend]-rule[1]",
    }
    p0 = allow.policies["ns[shop]-policy[allow-frontend]-rule[0]"]
    ids = p0.principals[0].and_ids.ids
    assert (
        ids[0].or_ids.ids[0].authenticated.principal_name.exact == "spiffe://cluster.local/ns/web/sa/frontend"
    )
    assert ids[1].or_ids.ids[0].authenticated.principal_name.safe_regex.regex == ".*/ns/web/.*"
    assert ids[2].or_ids.ids[0].header.name == "x-tenant"  # the when condition comes last
    perms = p0.permissions[0].and_rules.rules
    assert [r.or_rules.rules[0].WhichOneof("rule") for r in perms] == ["header", "header", "url_path"]
    assert perms[2].or_rules.rules[0].url_path.path.prefix == "/api/"
    p1 = allow.policies["ns[shop]-policy[allow-frontend]-rule[1]"]
    src = p1.principals[0].and_ids.ids[0]
    assert src.or_ids.ids[0].direct_remote_ip.address_prefix == "10.9.0.0"
    assert p1.principals[0].and_ids.ids[1].not_id.or_ids.ids[0].direct_remote_ip.prefix_len.value == 32
    # TCP chains get network RBAC before tcp_proxy; HTTP-only fields make the ALLOW rules drop there
    tcp_chain = [c for c in vin.filter_chains if c.name == "0.0.0.0_9000"][-1]
    assert [f.name for f in tcp_chain.filters][-2:] == [
        "envoy.filters.network.rbac",
        "envoy.filters.network.tcp_proxy",
    ]
    n = net_rbac.RBAC()
    tcp_filters = [f for f in tcp_chain.filters if f.name == "envoy.filters.network.rbac"]
    tcp_filters[-1].typed_config.Unpack(n)
    assert n.stat_prefix == "tcp." and n.rules.action == rbac_pb2.RBAC.ALLOW
    assert set(n.rules.policies) == {"ns[shop]-policy[allow-frontend]-rule[1]"}
    # outbound HCMs carry no authz
    out_hcm = hcm_of(listener(pc, "0.0.0.0_8080").filter_chains[0])
    assert "envoy.filters.http.rbac" not in [f.name for f in out_hcm.http_filters]


def test_grpc_web_ports_get_the_grpc_web_filter() -> None:
    pc = _translate([TT / "http-features.yaml"], "pod/client")
    names = [f.name for f in hcm_of(listener(pc, "0.0.0.0_7777").filter_chains[0]).http_filters]
    assert names[:2] == ["envoy.filters.http.grpc_web", "envoy.filters.http.grpc_stats"]
    assert "envoy.filters.http.grpc_web" not in [
        f.name for f in hcm_of(listener(pc, "0.0.0.0_8000").filter_chains[0]).http_filters
    ]


def test_most_specific_wildcard_virtual_service_wins() -> None:
    from meshctl.sources import load_text

    text = """
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: ext, namespace: a}
spec: {hosts: [api.example.com], resolution: DNS, ports: [{number: 80, name: http, protocol: HTTP}]}
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: broad, namespace: a, creationTimestamp: "2020-01-01T00:00:00Z"}
spec: {hosts: ["*.com"], http: [{route: [{destination: {host: broad.example.com}}]}]}
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: narrow, namespace: a, creationTimestamp: "2021-01-01T00:00:00Z"}
spec: {hosts: ["*.example.com"], http: [{route: [{destination: {host: narrow.example.com}}]}]}
---
apiVersion: v1
kind: Pod
metadata: {name: c, namespace: a, labels: {app: c}}
spec: {containers: [{name: c, image: c}]}
status: {podIP: 10.1.3.3, phase: Running}
"""
    mesh = build_mesh(load_text(text, "wild.yaml"))
    pc = translate(mesh, mesh.proxy("pod/c"))
    rc = next(r for r in pc.routes if r.name == "80")
    vh = next(v for v in rc.virtual_hosts if v.name == "api.example.com:80")
    assert vh.routes[0].route.cluster == "outbound|80||narrow.example.com"  # the older but broader VS loses


def test_external_name_service_is_an_alias_of_its_target() -> None:
    from meshctl.sources import load_text

    text = """
apiVersion: v1
kind: Service
metadata: {name: b, namespace: a}
spec: {selector: {app: b}, ports: [{name: http, port: 80}]}
---
apiVersion: v1
kind: Service
metadata: {name: b-ext, namespace: a}
spec: {type: ExternalName, externalName: b.a.svc.cluster.local, ports: [{name: http, port: 80}]}
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: c, namespace: a}
spec: {hosts: [c.example.com], http: [{route: [{destination: {host: b-ext, port: {number: 80}}}]}]}
---
apiVersion: v1
kind: Pod
metadata: {name: client, namespace: a, labels: {app: client}}
spec: {containers: [{name: c, image: c}]}
status: {podIP: 10.1.4.4, phase: Running}
"""
    mesh = build_mesh(load_text(text, "alias.yaml"))
    pc = translate(mesh, mesh.proxy("pod/client"))
    rc = next(r for r in pc.routes if r.name == "80")
    b = next(v for v in rc.virtual_hosts if v.name == "b.a.svc.cluster.local:80")
    assert "b-ext.a.svc.cluster.local" in b.domains and "b-ext" in b.domains  # the alias rides on b's vhost
    assert not any(v.name.startswith("b-ext.") for v in rc.virtual_hosts)
    c = next(v for v in rc.virtual_hosts if v.name == "c.example.com:80")
    assert c.routes[0].route.cluster == "outbound|80||b.a.svc.cluster.local"  # routed to the alias target
