"""Unit tests of the gateway LDS/RDS builder (istio-translation.md §1.3, §1.4, §6)."""

from __future__ import annotations

from typing import Any

import pytest
from conftest import BOOKINFO, FIXTURES
from envoy.config.route.v3 import route_components_pb2 as rc
from envoy.extensions.filters.network.http_connection_manager.v3 import http_connection_manager_pb2 as hcm_pb2
from envoy.extensions.filters.network.tcp_proxy.v3 import tcp_proxy_pb2
from envoy.extensions.transport_sockets.tls.v3 import tls_pb2

from meshctl.model import build_mesh
from meshctl.sources import load_paths
from meshctl.translate import ProxyConfig, translate


def _translate(path: Any, target: str, loopback: bool = False) -> ProxyConfig:
    mesh = build_mesh(load_paths([str(path)]))
    proxy = mesh.proxy(target)
    proxy.loopback = loopback
    return translate(mesh, proxy)


@pytest.fixture(scope="module")
def edge() -> ProxyConfig:
    return _translate(FIXTURES / "translate" / "gateway-tls.yaml", "pod/edge-0")


def _hcm(chain: Any) -> hcm_pb2.HttpConnectionManager:
    m = hcm_pb2.HttpConnectionManager()
    chain.filters[0].typed_config.Unpack(m)
    return m


def _tcp(chain: Any) -> tcp_proxy_pb2.TcpProxy:
    t = tcp_proxy_pb2.TcpProxy()
    chain.filters[0].typed_config.Unpack(t)
    return t


def _tls(chain: Any) -> tls_pb2.DownstreamTlsContext:
    ctx = tls_pb2.DownstreamTlsContext()
    chain.transport_socket.typed_config.Unpack(ctx)
    return ctx


def _lis(pc: ProxyConfig, name: str) -> Any:
    return next(lis for lis in pc.listeners if lis.name == name)


def _rc(pc: ProxyConfig, name: str) -> Any:
    return next(r for r in pc.routes if r.name == name)


def test_bookinfo_gateway_uses_target_port_and_server_port_vhosts() -> None:
    pc = _translate(BOOKINFO, "deploy/istio-ingressgateway")
    assert [lis.name for lis in pc.listeners] == ["0.0.0.0_8080"]
    lis = pc.listeners[0]
    assert not lis.HasField("bind_to_port")  # gateway listeners bind
    m = _hcm(lis.filter_chains[0])
    assert m.rds.route_config_name == "http.8080" and m.stat_prefix == "outbound_0.0.0.0_8080;"
    assert m.use_remote_address.value is True
    assert m.forward_client_cert_details == hcm_pb2.HttpConnectionManager.SANITIZE_SET
    (route_cfg,) = pc.routes
    assert route_cfg.name == "http.8080"
    (vh,) = route_cfg.virtual_hosts
    assert vh.name == "*:80" and list(vh.domains) == ["*"]
    assert [r.match.path or r.match.prefix for r in vh.routes] == [
        "/productpage",
        "/static",
        "/login",
        "/logout",
        "/api/v1/products",
    ]
    assert vh.routes[0].route.cluster == "outbound|9080||productpage.default.svc.cluster.local"
    assert (
        vh.routes[0]
        .metadata.filter_metadata["istio"]
        .fields["config"]
        .string_value.endswith("/virtual-service/bookinfo")
    )


def test_https_redirect_and_vs_concatenation(edge: ProxyConfig) -> None:
    route_cfg = _rc(edge, "http.8080")
    # the redirecting server's own host gets a route-less vhost too (Istio), all three require TLS
    assert [v.name for v in route_cfg.virtual_hosts] == [
        "*.example.com:80",
        "shop.example.com:80",
        "www.example.com:80",
    ]
    wild, shop, www = route_cfg.virtual_hosts
    assert not wild.routes and list(wild.domains) == ["*.example.com"]
    assert {v.require_tls for v in route_cfg.virtual_hosts} == {rc.VirtualHost.ALL}
    # routes of both VSs for shop.example.com, in creation order, catch-all moved last
    assert [r.match.path or r.match.prefix for r in shop.routes] == ["/api", "/extra", "/"]
    cfgs = [
        r.metadata.filter_metadata["istio"].fields["config"].string_value.rsplit("/", 1)[1]
        for r in shop.routes
    ]
    assert cfgs == ["shop", "shop-extra", "shop"]


def test_simple_and_mutual_servers_are_sni_chains_with_sds(edge: ProxyConfig) -> None:
    lis = _lis(edge, "0.0.0.0_8443")
    assert [f.name for f in lis.listener_filters] == ["envoy.filters.listener.tls_inspector"]
    shop, admin = lis.filter_chains
    assert list(shop.filter_chain_match.server_names) == ["shop.example.com"]
    assert _hcm(shop).rds.route_config_name == "https.443.https-shop.public.edge"
    ctx = _tls(shop)
    assert ctx.common_tls_context.tls_certificate_sds_secret_configs[0].name == "kubernetes://shop-cert"
    assert ctx.common_tls_context.tls_certificate_sds_secret_configs[0].sds_config.HasField("ads")
    assert list(ctx.common_tls_context.alpn_protocols) == ["h2", "http/1.1"]
    assert ctx.require_client_certificate.value is False
    assert ctx.common_tls_context.tls_params.tls_minimum_protocol_version == 3  # TLSv1_2 (set by the server)
    actx = _tls(admin)
    assert actx.require_client_certificate.value is True
    # Istio filters invalid cipher suites out (Envoy would NACK) and sets tls_params only when asked
    assert list(actx.common_tls_context.tls_params.cipher_suites) == ["ECDHE-RSA-AES256-GCM-SHA384"]
    dvc = actx.common_tls_context.combined_validation_context.default_validation_context
    assert [m.matcher.exact for m in dvc.match_typed_subject_alt_names] == ["client.example.com"]
    assert (
        actx.common_tls_context.combined_validation_context.validation_context_sds_secret_config.name
        == "kubernetes://admin-cert-cacert"
    )
    assert [v.name for v in _rc(edge, "https.443.https-admin.public.edge").virtual_hosts] == ["blackhole:443"]


def test_istio_mutual_server(edge: ProxyConfig) -> None:
    lis = _lis(edge, "0.0.0.0_8444")
    ctx = _tls(lis.filter_chains[0])
    assert ctx.common_tls_context.tls_certificate_sds_secret_configs[0].name == "default"
    assert ctx.require_client_certificate.value is True


def test_passthrough_auto_passthrough_and_tcp(edge: ProxyConfig) -> None:
    (pas,) = _lis(edge, "0.0.0.0_15443").filter_chains
    assert list(pas.filter_chain_match.server_names) == ["legacy.example.com"]
    assert _tcp(pas).cluster == "outbound|8000||shop.apps.svc.cluster.local" and not pas.HasField(
        "transport_socket"
    )
    ew = _lis(edge, "0.0.0.0_15444")
    snis = {c.filter_chain_match.server_names[0]: _tcp(c).cluster for c in ew.filter_chains}
    assert (
        snis["outbound_.8000_._.shop.apps.svc.cluster.local"]
        == "outbound_.8000_._.shop.apps.svc.cluster.local"
    )
    (tcp,) = _lis(edge, "0.0.0.0_9000").filter_chains
    assert _tcp(tcp).cluster == "outbound|5432||db.apps.svc.cluster.local"


def test_route_collapse_merges_identical_vhosts() -> None:
    text = """
apiVersion: v1
kind: Service
metadata: {name: gw, namespace: g}
spec: {selector: {istio: gw}, ports: [{name: http, port: 80}]}
---
apiVersion: v1
kind: Pod
metadata: {name: gw-0, namespace: g, labels: {istio: gw}}
spec: {containers: [{name: p, image: p}]}
status: {podIP: 10.9.0.1, phase: Running}
---
apiVersion: networking.istio.io/v1
kind: Gateway
metadata: {name: gw, namespace: g}
spec:
  selector: {istio: gw}
  servers: [{port: {number: 80, name: http, protocol: HTTP}, hosts: [b.example.com, a.example.com]}]
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: vs, namespace: g}
spec:
  hosts: [b.example.com, a.example.com]
  gateways: [gw]
  http: [{route: [{destination: {host: gw}}]}]
"""
    from meshctl.sources import load_text

    mesh = build_mesh(load_text(text, "collapse.yaml"))
    pc = translate(mesh, mesh.proxy("pod/gw-0"))
    (vh,) = pc.routes[0].virtual_hosts
    assert vh.name == "a.example.com:80" and sorted(vh.domains) == ["a.example.com", "b.example.com"]


def test_gateway_loopback_binds_own_ip() -> None:
    pc = _translate(FIXTURES / "translate" / "gateway-tls.yaml", "pod/edge-0", loopback=True)
    lis = _lis(pc, "0.0.0.0_8080")
    assert lis.address.socket_address.address == "10.3.0.2"
