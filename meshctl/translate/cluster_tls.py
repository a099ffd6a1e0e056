"""Upstream TLS for outbound clusters (``cluster_tls.go``): ISTIO_MUTUAL, SIMPLE/MUTUAL origination, auto mTLS
(``transport_socket_matches`` keyed on endpoint ``tlsMode`` metadata) and the PROXY-protocol wrapper.

Secrets are referenced by Istio's SDS names: ``default``/``ROOTCA`` (workload identity, from the agent's
``sds-grpc`` cluster), ``file-cert:<cert>~<key>``/``file-root:<ca>`` for DR file paths, and
``kubernetes://<credentialName>`` (+``-cacert``) over ADS for gateways or selector-scoped DRs.
"""

from __future__ import annotations

import functools

from envoy.config.cluster.v3 import cluster_pb2
from envoy.config.core.v3 import base_pb2, config_source_pb2, grpc_service_pb2, proxy_protocol_pb2
from envoy.extensions.transport_sockets.proxy_protocol.v3 import upstream_proxy_protocol_pb2
from envoy.extensions.transport_sockets.raw_buffer.v3 import raw_buffer_pb2
from envoy.extensions.transport_sockets.tls.v3 import common_pb2, secret_pb2, tls_pb2
from envoy.type.matcher.v3 import string_pb2
from google.protobuf import duration_pb2

from meshctl.model.api import ClientTLSSettings, ProxyProtocol
from meshctl.translate.cluster_policy import ClusterOptions

TLS_SOCKET = "envoy.transport_sockets.tls"
RAW_BUFFER_SOCKET = "envoy.transport_sockets.raw_buffer"
PROXY_PROTOCOL_SOCKET = "envoy.transport_sockets.upstream_proxy_protocol"
SDS_CLUSTER = "sds-grpc"
ALPN_IN_MESH = ["istio-peer-exchange", "istio"]
ALPN_IN_MESH_H2 = ["istio-peer-exchange", "istio", "h2"]
_ISTIO_MUTUAL = ClientTLSSettings(mode="ISTIO_MUTUAL")


_SDS_CACHE: dict[tuple[str, bool], secret_pb2.SdsSecretConfig] = {}


def sds_config(name: str, *, ads: bool = False) -> secret_pb2.SdsSecretConfig:
    """An SdsSecretConfig for ``name``: via ADS (credentialName secrets) or the agent's ``sds-grpc`` cluster.

    Built once per name and copied out, so callers may modify what they get."""
    key = (name, ads)
    cached = _SDS_CACHE.get(key)
    if cached is None:
        cached = _SDS_CACHE[key] = _build_sds_config(name, ads)
    out = secret_pb2.SdsSecretConfig()
    out.CopyFrom(cached)
    return out


def _build_sds_config(name: str, ads: bool) -> secret_pb2.SdsSecretConfig:
    if ads:
        # No initial_fetch_timeout here, as Istio's SDSAdsConfig (pilot/pkg/model/authentication.go): a
        # credentialName may name a secret that does not exist, and Envoy's default 15s timeout keeps that from
        # blocking the whole listener/cluster forever. Only the agent's sds-grpc source uses 0s (wait).
        cs = config_source_pb2.ConfigSource(
            ads=config_source_pb2.AggregatedConfigSource(), resource_api_version=config_source_pb2.V3
        )
    else:
        cs = config_source_pb2.ConfigSource(
            api_config_source=config_source_pb2.ApiConfigSource(
                api_type=config_source_pb2.ApiConfigSource.GRPC,
                set_node_on_first_message_only=True,
                transport_api_version=config_source_pb2.V3,
                grpc_services=[
                    grpc_service_pb2.GrpcService(
                        envoy_grpc=grpc_service_pb2.GrpcService.EnvoyGrpc(cluster_name=SDS_CLUSTER)
                    )
                ],
            ),
            initial_fetch_timeout=duration_pb2.Duration(),
            resource_api_version=config_source_pb2.V3,
        )
    return secret_pb2.SdsSecretConfig(name=name, sds_config=cs)


def _common() -> common_pb2.CommonTlsContext:
    ctx = tls_pb2.CommonTlsContext()
    ctx.tls_params.tls_minimum_protocol_version = common_pb2.TlsParameters.TLSv1_2
    ctx.tls_params.tls_maximum_protocol_version = common_pb2.TlsParameters.TLSv1_3
    return ctx


def _exact(names: list[str]) -> list[string_pb2.StringMatcher]:
    return [string_pb2.StringMatcher(exact=n) for n in names]


def istio_mutual_context(sni: str, sans: list[str], h2: bool) -> tls_pb2.UpstreamTlsContext:
    ctx = tls_pb2.UpstreamTlsContext(common_tls_context=_common(), sni=sni)
    ctx.common_tls_context.tls_certificate_sds_secret_configs.append(sds_config("default"))
    cv = ctx.common_tls_context.combined_validation_context
    cv.default_validation_context.match_subject_alt_names.extend(_exact(sans))
    cv.validation_context_sds_secret_config.CopyFrom(sds_config("ROOTCA"))
    ctx.common_tls_context.alpn_protocols.extend(ALPN_IN_MESH_H2 if h2 else ALPN_IN_MESH)
    return ctx


@functools.lru_cache(maxsize=1024)
def _istio_mutual_template(sans: tuple[str, ...], h2: bool) -> bytes:
    return istio_mutual_context("", list(sans), h2).SerializeToString()


def istio_mutual_socket(sni: str, sans: tuple[str, ...], h2: bool) -> base_pb2.TransportSocket:
    """The ISTIO_MUTUAL transport socket. Built from a cached serialized context plus the SNI field: protobuf
    merges concatenated encodings, so this equals serializing the full message (and is much cheaper per cluster)."""
    ts = base_pb2.TransportSocket(name=TLS_SOCKET)
    ts.typed_config.type_url = _TLS_TYPE_URL
    ts.typed_config.value = (
        _istio_mutual_template(sans, h2) + tls_pb2.UpstreamTlsContext(sni=sni).SerializeToString()
    )
    return ts


def _originate_context(
    tls: ClientTLSSettings,
    opts: ClusterOptions,
    mutual: bool,
    sans: list[str],
    external: bool,
    use_credential: bool,
) -> tls_pb2.UpstreamTlsContext:
    ctx = tls_pb2.UpstreamTlsContext(common_tls_context=_common(), sni=tls.sni or "")
    auto_sni = not tls.sni
    auto_san = auto_sni and not tls.subject_alt_names and not tls.insecure_skip_verify
    if auto_sni or auto_san:
        up = opts.options().upstream_http_protocol_options
        if auto_sni:
            up.auto_sni = True
        if auto_san:
            up.auto_san_validation = True
    san_list = list(tls.subject_alt_names) or (sans if external else [])
    common = ctx.common_tls_context
    if tls.credential_name and use_credential:
        if mutual:
            common.tls_certificate_sds_secret_configs.append(
                sds_config(f"kubernetes://{tls.credential_name}", ads=True)
            )
        cv = common.combined_validation_context
        cv.default_validation_context.match_subject_alt_names.extend(_exact(san_list))
        cv.validation_context_sds_secret_config.CopyFrom(
            sds_config(f"kubernetes://{tls.credential_name}-cacert", ads=True)
        )
    else:
        if mutual and tls.client_certificate and tls.private_key:
            common.tls_certificate_sds_secret_configs.append(
                sds_config(f"file-cert:{tls.client_certificate}~{tls.private_key}")
            )
        if tls.insecure_skip_verify:
            common.validation_context.SetInParent()
        else:
            cv = common.combined_validation_context
            cv.default_validation_context.match_subject_alt_names.extend(_exact(san_list))
            if tls.ca_crl:
                cv.default_validation_context.crl.filename = tls.ca_crl
            cv.validation_context_sds_secret_config.CopyFrom(
                sds_config(f"file-root:{tls.ca_certificates or 'system'}")
            )
    if opts.is_h2:
        common.alpn_protocols.append("h2")
    return ctx


def _socket(name: str, msg: object) -> base_pb2.TransportSocket:
    ts = base_pb2.TransportSocket(name=name)
    ts.typed_config.Pack(msg)  # type: ignore[arg-type]
    return ts


def raw_buffer_socket() -> base_pb2.TransportSocket:
    return _socket(RAW_BUFFER_SOCKET, raw_buffer_pb2.RawBuffer())


_TLS_TYPE_URL = "type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.UpstreamTlsContext"
_DISABLED_MATCH = cluster_pb2.Cluster.TransportSocketMatch(
    name="tlsMode-disabled", transport_socket=raw_buffer_socket()
)
_DISABLED_MATCH.match.SetInParent()


def apply_upstream_tls(
    c: cluster_pb2.Cluster,
    opts: ClusterOptions,
    tls: ClientTLSSettings | None,
    *,
    sni: str,
    sans: list[str],
    auto_mtls: bool,
    external_registry: bool,
    use_credential: bool,
) -> str | None:
    """Set ``transport_socket`` / ``transport_socket_matches``. Returns the TLS mode applied (for metadata)."""
    if tls is None:
        if not auto_mtls:
            return None
        mode, auto = "ISTIO_MUTUAL", True
        tls = _ISTIO_MUTUAL
    else:
        mode, auto = tls.mode, False
    if mode == "DISABLE":
        return mode
    if mode == "ISTIO_MUTUAL":
        socket = istio_mutual_socket(tls.sni or sni, tuple(tls.subject_alt_names or sans), opts.is_h2)
    else:
        if tls.credential_name and not use_credential:
            return None  # sidecar DR without workloadSelector: Istio sends plaintext (cluster_tls.go)
        ctx = _originate_context(tls, opts, mode == "MUTUAL", sans, external_registry, use_credential)
        socket = _socket(TLS_SOCKET, ctx)
    if auto and c.type != cluster_pb2.Cluster.ORIGINAL_DST:
        m1 = cluster_pb2.Cluster.TransportSocketMatch(name="tlsMode-istio", transport_socket=socket)
        m1.match.update({"tlsMode": "istio"})
        c.transport_socket_matches.extend([m1, _DISABLED_MATCH])
    else:  # explicit TLS; or auto mTLS on an ORIGINAL_DST cluster (all endpoints have sidecars): plain socket
        c.transport_socket.CopyFrom(socket)
    return mode


def apply_proxy_protocol(c: cluster_pb2.Cluster, pp: ProxyProtocol | None) -> None:
    """Wrap the cluster's transport socket(s) in ``upstream_proxy_protocol`` (DR ``proxyProtocol``)."""
    if pp is None:
        return
    version = (
        proxy_protocol_pb2.ProxyProtocolConfig.V2
        if pp.version == "V2"
        else proxy_protocol_pb2.ProxyProtocolConfig.V1
    )

    def wrap(inner: base_pb2.TransportSocket) -> base_pb2.TransportSocket:
        msg = upstream_proxy_protocol_pb2.ProxyProtocolUpstreamTransport(transport_socket=inner)
        msg.config.version = version
        return _socket(PROXY_PROTOCOL_SOCKET, msg)

    if c.transport_socket_matches:
        for m in c.transport_socket_matches:
            m.transport_socket.CopyFrom(wrap(m.transport_socket))
    elif c.HasField("transport_socket"):
        c.transport_socket.CopyFrom(wrap(c.transport_socket))
    else:
        c.transport_socket.CopyFrom(wrap(raw_buffer_socket()))
