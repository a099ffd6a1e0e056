"""Downstream (server-side) TLS contexts: inbound mTLS on sidecars and Gateway server TLS modes.

Secret names follow Istio (istio-translation.md §1.6, §6): workload cert ``default`` and root ``ROOTCA``
from the ``sds-grpc`` cluster (pilot-agent), gateway ``credentialName: foo`` -> ``kubernetes://foo`` and
``kubernetes://foo-cacert`` over ADS, file certificates -> ``file-cert:<cert>~<key>`` / ``file-root:<ca>``.
"""

from __future__ import annotations

from typing import Any

from envoy.config.core.v3 import base_pb2
from envoy.extensions.transport_sockets.tls.v3 import common_pb2, secret_pb2, tls_pb2
from envoy.type.matcher.v3 import string_pb2

from meshctl.translate.cluster_tls import sds_config
from meshctl.translate.protoutil import boolv, pack

TLS_SOCKET = "envoy.transport_sockets.tls"
_TLS_VERSIONS = {
    "TLS_AUTO": common_pb2.TlsParameters.TLS_AUTO,
    "TLSV1_0": common_pb2.TlsParameters.TLSv1_0,
    "TLSV1_1": common_pb2.TlsParameters.TLSv1_1,
    "TLSV1_2": common_pb2.TlsParameters.TLSv1_2,
    "TLSV1_3": common_pb2.TlsParameters.TLSv1_3,
}


def _sds(name: str, ads: bool) -> secret_pb2.SdsSecretConfig:
    return sds_config(name, ads=ads)


def _tls_params(
    min_v: str | None = None, max_v: str | None = None, ciphers: list[str] | None = None
) -> common_pb2.TlsParameters:
    p = common_pb2.TlsParameters(
        tls_minimum_protocol_version=_TLS_VERSIONS.get(
            (min_v or "TLSV1_2").upper(), common_pb2.TlsParameters.TLSv1_2
        ),
        tls_maximum_protocol_version=_TLS_VERSIONS.get(
            (max_v or "TLSV1_3").upper(), common_pb2.TlsParameters.TLSv1_3
        ),
    )
    if ciphers:
        p.cipher_suites.extend(ciphers)
    return p


def transport_socket(ctx: tls_pb2.DownstreamTlsContext) -> base_pb2.TransportSocket:
    return base_pb2.TransportSocket(name=TLS_SOCKET, typed_config=pack(ctx))


def istio_mutual_context(
    trust_domain: str = "cluster.local", alpn: tuple[str, ...] = ("h2", "http/1.1")
) -> tls_pb2.DownstreamTlsContext:
    """Inbound mTLS (sidecar inbound chains, ISTIO_MUTUAL gateway servers): workload cert, ROOTCA, client cert required."""
    ctx = tls_pb2.DownstreamTlsContext(require_client_certificate=boolv(True))
    c = ctx.common_tls_context
    c.tls_params.CopyFrom(_tls_params())
    c.alpn_protocols.extend(alpn)
    c.tls_certificate_sds_secret_configs.append(_sds("default", ads=False))
    san = c.combined_validation_context.default_validation_context.match_typed_subject_alt_names.add()
    san.san_type = common_pb2.SubjectAltNameMatcher.URI
    san.matcher.CopyFrom(string_pb2.StringMatcher(prefix=f"spiffe://{trust_domain}/"))
    c.combined_validation_context.validation_context_sds_secret_config.CopyFrom(_sds("ROOTCA", ads=False))
    return ctx


def gateway_server_context(tls: Any, http: bool) -> tls_pb2.DownstreamTlsContext | None:
    """Gateway ``ServerTLSSettings`` -> DownstreamTlsContext (SIMPLE/MUTUAL/OPTIONAL_MUTUAL/ISTIO_MUTUAL);
    None for PASSTHROUGH/AUTO_PASSTHROUGH (no termination)."""
    mode = (getattr(tls, "mode", None) or "SIMPLE").upper()
    if mode in ("PASSTHROUGH", "AUTO_PASSTHROUGH"):
        return None
    alpn = ("h2", "http/1.1") if http else ()
    if mode == "ISTIO_MUTUAL":
        return istio_mutual_context(alpn=alpn or ("istio-peer-exchange", "istio"))
    ctx = tls_pb2.DownstreamTlsContext()
    c = ctx.common_tls_context
    c.tls_params.CopyFrom(
        _tls_params(
            getattr(tls, "min_protocol_version", None),
            getattr(tls, "max_protocol_version", None),
            list(getattr(tls, "cipher_suites", None) or []),
        )
    )
    c.alpn_protocols.extend(alpn)
    cred = getattr(tls, "credential_name", None)
    mutual = mode in ("MUTUAL", "OPTIONAL_MUTUAL")
    if cred:
        c.tls_certificate_sds_secret_configs.append(_sds(f"kubernetes://{cred}", ads=True))
        if mutual:
            c.combined_validation_context.default_validation_context.SetInParent()
            c.combined_validation_context.validation_context_sds_secret_config.CopyFrom(
                _sds(f"kubernetes://{cred}-cacert", ads=True)
            )
    else:
        cert = getattr(tls, "server_certificate", None) or ""
        key = getattr(tls, "private_key", None) or ""
        c.tls_certificate_sds_secret_configs.append(_sds(f"file-cert:{cert}~{key}", ads=False))
        ca = getattr(tls, "ca_certificates", None)
        if mutual and ca:
            c.combined_validation_context.default_validation_context.SetInParent()
            c.combined_validation_context.validation_context_sds_secret_config.CopyFrom(
                _sds(f"file-root:{ca}", ads=False)
            )
    for san_value in getattr(tls, "subject_alt_names", None) or []:
        san = c.combined_validation_context.default_validation_context.match_typed_subject_alt_names.add()
        san.san_type = common_pb2.SubjectAltNameMatcher.DNS
        san.matcher.exact = san_value
    if mode == "MUTUAL":
        ctx.require_client_certificate.value = True
    elif mode == "OPTIONAL_MUTUAL":
        ctx.require_client_certificate.value = False
    else:
        ctx.require_client_certificate.value = False
    return ctx
