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
_ALPN_HTTP = ("h2", "http/1.1")
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


#: Istio ``SupportedCiphers`` for sidecar inbound mTLS
INBOUND_CIPHERS = (
    "ECDHE-ECDSA-AES256-GCM-SHA384",
    "ECDHE-RSA-AES256-GCM-SHA384",
    "ECDHE-ECDSA-AES128-GCM-SHA256",
    "ECDHE-RSA-AES128-GCM-SHA256",
    "AES256-GCM-SHA384",
    "AES128-GCM-SHA256",
)


def istio_mutual_context(
    trust_domain: str = "cluster.local",
    alpn: tuple[str, ...] = ("h2", "http/1.1"),
    *,
    inbound: bool = True,
    sans: list[str] | None = None,
) -> tls_pb2.DownstreamTlsContext:
    """Istio mTLS termination: workload cert ``default``, CA ``ROOTCA``, client certificate required.

    Sidecar inbound (``inbound``): peers must present a SPIFFE identity of the trust domain, TLS 1.2-1.3 with
    Istio's strong cipher suites. ISTIO_MUTUAL gateway servers: the server's ``subjectAltNames`` if any, no
    TLS parameters unless the server sets them."""
    ctx = tls_pb2.DownstreamTlsContext(require_client_certificate=boolv(True))
    c = ctx.common_tls_context
    if inbound:
        c.tls_params.CopyFrom(_tls_params(ciphers=list(INBOUND_CIPHERS)))
    c.alpn_protocols.extend(alpn)
    c.tls_certificate_sds_secret_configs.append(_sds("default", ads=False))
    dvc = c.combined_validation_context.default_validation_context
    dvc.SetInParent()
    if inbound:
        san = dvc.match_typed_subject_alt_names.add()
        san.san_type = common_pb2.SubjectAltNameMatcher.URI
        san.matcher.CopyFrom(string_pb2.StringMatcher(prefix=f"spiffe://{trust_domain}/"))
    for value in sans or []:
        san = dvc.match_typed_subject_alt_names.add()
        san.san_type = common_pb2.SubjectAltNameMatcher.URI
        san.matcher.exact = value
    c.combined_validation_context.validation_context_sds_secret_config.CopyFrom(_sds("ROOTCA", ads=False))
    return ctx


def gateway_server_context(tls: Any, http: bool) -> tls_pb2.DownstreamTlsContext | None:
    """Gateway ``ServerTLSSettings`` -> DownstreamTlsContext (Istio ``BuildListenerTLSContext``); None for
    PASSTHROUGH/AUTO_PASSTHROUGH (no termination).

    ALPN ``h2,http/1.1`` (ISTIO_MUTUAL TCP servers: ``istio-peer-exchange,h2,http/1.1``); client certificate
    required for MUTUAL and ISTIO_MUTUAL; certificates from ``credentialName(s)`` (``kubernetes://<name>``,
    CA ``kubernetes://<name>-cacert``), else file certificates (``file-cert:``/``file-root:``); ``tls_params``
    only when versions or cipher suites are set."""
    mode = (getattr(tls, "mode", None) or "SIMPLE").upper()
    if mode in ("PASSTHROUGH", "AUTO_PASSTHROUGH"):
        return None
    mutual = mode in ("MUTUAL", "OPTIONAL_MUTUAL")
    if mode == "ISTIO_MUTUAL":
        ctx = istio_mutual_context(
            alpn=_ALPN_HTTP if http else ("istio-peer-exchange", *_ALPN_HTTP),
            inbound=False,
            sans=list(getattr(tls, "subject_alt_names", None) or []),
        )
        _server_tls_params(ctx, tls)
        return ctx
    ctx = tls_pb2.DownstreamTlsContext()
    ctx.require_client_certificate.value = mode == "MUTUAL"
    c = ctx.common_tls_context
    c.alpn_protocols.extend(_ALPN_HTTP)
    creds = [
        n
        for n in [getattr(tls, "credential_name", None), *(getattr(tls, "credential_names", None) or [])]
        if n
    ]
    if creds:
        for cred in creds:
            c.tls_certificate_sds_secret_configs.append(_sds(f"kubernetes://{cred}", ads=True))
        if mutual:
            c.combined_validation_context.default_validation_context.SetInParent()
            c.combined_validation_context.validation_context_sds_secret_config.CopyFrom(
                _sds(f"kubernetes://{creds[0]}-cacert", ads=True)
            )
    else:
        pairs = [(getattr(tls, "server_certificate", None), getattr(tls, "private_key", None))]
        pairs += [(t.server_certificate, t.private_key) for t in getattr(tls, "tls_certificates", None) or []]
        for cert, key in pairs:
            if cert or key:
                c.tls_certificate_sds_secret_configs.append(
                    _sds(f"file-cert:{cert or ''}~{key or ''}", ads=False)
                )
        ca = getattr(tls, "ca_certificates", None)
        if mutual and ca:
            c.combined_validation_context.default_validation_context.SetInParent()
            c.combined_validation_context.validation_context_sds_secret_config.CopyFrom(
                _sds(f"file-root:{ca}", ads=False)
            )
    if mutual:
        dvc = c.combined_validation_context.default_validation_context
        for san_value in getattr(tls, "subject_alt_names", None) or []:
            san = dvc.match_typed_subject_alt_names.add()
            san.san_type = common_pb2.SubjectAltNameMatcher.DNS
            san.matcher.exact = san_value
        dvc.verify_certificate_spki.extend(getattr(tls, "verify_certificate_spki", None) or [])
        dvc.verify_certificate_hash.extend(getattr(tls, "verify_certificate_hash", None) or [])
    _server_tls_params(ctx, tls)
    return ctx


def _server_tls_params(ctx: tls_pb2.DownstreamTlsContext, tls: Any) -> None:
    """Istio sets ``tls_params`` on gateway contexts only when the server asks (versions or cipher suites)."""
    min_v, max_v = getattr(tls, "min_protocol_version", None), getattr(tls, "max_protocol_version", None)
    ciphers = list(getattr(tls, "cipher_suites", None) or [])
    if ciphers or (min_v and min_v != "TLS_AUTO") or (max_v and max_v != "TLS_AUTO"):
        ctx.common_tls_context.tls_params.CopyFrom(
            _tls_params(min_v or "TLS_AUTO", max_v or "TLS_AUTO", _valid_ciphers(ciphers))
        )


#: BoringSSL cipher suite names Envoy accepts (Istio filters the rest out: invalid names make Envoy NACK)
_VALID_CIPHERS = frozenset(
    {
        "ECDHE-ECDSA-AES128-GCM-SHA256", "ECDHE-RSA-AES128-GCM-SHA256", "ECDHE-ECDSA-AES256-GCM-SHA384",
        "ECDHE-RSA-AES256-GCM-SHA384", "ECDHE-ECDSA-CHACHA20-POLY1305", "ECDHE-RSA-CHACHA20-POLY1305",
        "ECDHE-ECDSA-AES128-SHA", "ECDHE-RSA-AES128-SHA", "ECDHE-ECDSA-AES256-SHA", "ECDHE-RSA-AES256-SHA",
        "AES128-GCM-SHA256", "AES256-GCM-SHA384", "AES128-SHA", "AES256-SHA", "DES-CBC3-SHA",
        "ECDHE-PSK-AES128-CBC-SHA", "ECDHE-PSK-AES256-CBC-SHA", "ECDHE-PSK-CHACHA20-POLY1305", "PSK-AES128-CBC-SHA",
        "PSK-AES256-CBC-SHA",
    }
)  # fmt: skip


def _valid_ciphers(ciphers: list[str]) -> list[str]:
    """Istio ``FilterCipherSuites``: known suites only, duplicates removed, order kept."""
    return list(dict.fromkeys(c for c in ciphers if c in _VALID_CIPHERS))
