"""``-o bootstrap``: a static Envoy bootstrap that ``envoy -c`` runs as is, with no control plane.

Everything Istio would send over xDS is inlined: clusters in ``static_resources.clusters`` (EDS clusters
become STATIC with their ClusterLoadAssignment as ``load_assignment``), listeners in
``static_resources.listeners`` with each HCM's RDS reference replaced by the route configuration itself.

What differs from what Istio sends, and why (also in docs/translate.md):

* There is no SDS server, so TLS that needs Istio/Kubernetes secrets cannot work: transport sockets
  whose TLS context fetches secrets over SDS are removed (upstream clusters then speak plaintext; the
  ``tlsMode-istio`` socket match of auto-mTLS is dropped), and downstream filter chains that terminate TLS
  with SDS secrets (inbound mTLS chains, gateway ``credentialName`` servers) are dropped. Listeners left
  with no chain are dropped. Callers that have certificates pass ``secrets`` (SDS name -> static Secret,
  names from :func:`referenced_secrets`): TLS is then kept, referring to those static secrets.
* The admin interface listens on ``admin_address:admin_port`` (default 127.0.0.1:15000).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from envoy.config.bootstrap.v3 import bootstrap_pb2
from envoy.config.cluster.v3 import cluster_pb2
from envoy.config.core.v3 import base_pb2
from envoy.config.listener.v3 import listener_components_pb2, listener_pb2
from envoy.config.route.v3 import route_pb2
from envoy.extensions.filters.network.http_connection_manager.v3 import http_connection_manager_pb2 as hcm_pb2
from envoy.extensions.transport_sockets.tls.v3 import secret_pb2, tls_pb2
from google.protobuf import json_format

import meshctl.translate.known_types  # noqa: F401
from meshctl.translate.dump import node_of

if TYPE_CHECKING:
    from meshctl.translate import ProxyConfig

HCM_FILTER = "envoy.filters.network.http_connection_manager"
HCM_TYPE = (
    "type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager"
)
_UPSTREAM_TLS = "type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.UpstreamTlsContext"
_DOWNSTREAM_TLS = "type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.DownstreamTlsContext"


def _sds_configs(common: Any) -> list[Any]:
    """Every SdsSecretConfig of a CommonTlsContext."""
    out = list(common.tls_certificate_sds_secret_configs)
    if common.HasField("validation_context_sds_secret_config"):
        out.append(common.validation_context_sds_secret_config)
    if common.combined_validation_context.HasField("validation_context_sds_secret_config"):
        out.append(common.combined_validation_context.validation_context_sds_secret_config)
    return out


def _tls_context(ts: base_pb2.TransportSocket) -> Any | None:
    if not ts.HasField("typed_config"):
        return None
    url = ts.typed_config.type_url
    if url == _UPSTREAM_TLS:
        ctx: Any = tls_pb2.UpstreamTlsContext()
    elif url == _DOWNSTREAM_TLS:
        ctx = tls_pb2.DownstreamTlsContext()
    else:
        return None
    ts.typed_config.Unpack(ctx)
    return ctx


class _Secrets:
    """Static secrets the bootstrap may use instead of SDS (``name -> Secret``), and those actually used."""

    def __init__(self, available: Mapping[str, secret_pb2.Secret] | None) -> None:
        self.available = dict(available or {})
        self.used: dict[str, secret_pb2.Secret] = {}

    def resolve(self, ts: base_pb2.TransportSocket) -> bool:
        """Make ``ts`` need no SDS server; False when it cannot (an SDS secret with no static stand-in)."""
        ctx = _tls_context(ts)
        if ctx is None:
            return True
        refs = _sds_configs(ctx.common_tls_context)
        if not refs:
            return True
        if any(r.name not in self.available for r in refs):
            return False
        for r in refs:
            self.used[r.name] = self.available[r.name]
            r.ClearField("sds_config")  # a name-only SdsSecretConfig refers to a static secret
        ts.typed_config.Pack(ctx)
        return True


def referenced_secrets(pc: ProxyConfig) -> dict[str, str]:
    """SDS secret names the config references -> ``"certificate"`` or ``"validation"`` (for callers that
    want to supply static stand-ins to :func:`bootstrap`)."""
    out: dict[str, str] = {}

    def scan(ts: base_pb2.TransportSocket) -> None:
        ctx = _tls_context(ts)
        if ctx is None:
            return
        common = ctx.common_tls_context
        for r in common.tls_certificate_sds_secret_configs:
            out.setdefault(r.name, "certificate")
        for r in _sds_configs(common)[len(common.tls_certificate_sds_secret_configs) :]:
            out.setdefault(r.name, "validation")

    for c in pc.clusters:
        if c.HasField("transport_socket"):
            scan(c.transport_socket)
        for m in c.transport_socket_matches:
            scan(m.transport_socket)
    for lis in pc.listeners:
        for ch in [*lis.filter_chains, lis.default_filter_chain]:
            if ch.HasField("transport_socket"):
                scan(ch.transport_socket)
    return out


def static_cluster(
    cl: cluster_pb2.Cluster, cla: Any | None, secrets: _Secrets | None = None
) -> cluster_pb2.Cluster:
    """A copy of ``cl`` that needs no xDS: EDS -> STATIC with inline endpoints; SDS TLS made static or removed."""
    secrets = secrets or _Secrets(None)
    out = cluster_pb2.Cluster()
    out.CopyFrom(cl)
    if out.type == cluster_pb2.Cluster.EDS and out.WhichOneof("cluster_discovery_type") == "type":
        out.type = cluster_pb2.Cluster.STATIC
        out.ClearField("eds_cluster_config")
        if cla is not None:
            out.load_assignment.CopyFrom(cla)
        out.load_assignment.cluster_name = out.name
    if out.HasField("transport_socket") and not secrets.resolve(out.transport_socket):
        out.ClearField("transport_socket")
    kept = [m for m in out.transport_socket_matches if secrets.resolve(m.transport_socket)]
    if len(kept) != len(out.transport_socket_matches):
        del out.transport_socket_matches[:]
        out.transport_socket_matches.extend(kept)
    return out


def _inline_chain(
    chain: listener_components_pb2.FilterChain,
    routes: dict[str, route_pb2.RouteConfiguration],
    secrets: _Secrets,
) -> bool:
    """Inline RDS into the chain's HCM; False when the chain must be dropped (SDS TLS without stand-in)."""
    if chain.HasField("transport_socket") and not secrets.resolve(chain.transport_socket):
        return False
    for f in chain.filters:
        if f.name != HCM_FILTER or f.typed_config.type_url != HCM_TYPE:
            continue
        hcm = hcm_pb2.HttpConnectionManager()
        f.typed_config.Unpack(hcm)
        if hcm.WhichOneof("route_specifier") == "rds":
            name = hcm.rds.route_config_name
            rc = routes.get(name) or route_pb2.RouteConfiguration(name=name)
            hcm.route_config.CopyFrom(rc)
            f.typed_config.Pack(hcm)
    return True


def static_listener(
    lis: listener_pb2.Listener,
    routes: dict[str, route_pb2.RouteConfiguration],
    secrets: _Secrets | None = None,
) -> listener_pb2.Listener | None:
    secrets = secrets or _Secrets(None)
    out = listener_pb2.Listener()
    out.CopyFrom(lis)
    kept = [chain for chain in out.filter_chains if _inline_chain(chain, routes, secrets)]
    del out.filter_chains[:]
    out.filter_chains.extend(kept)
    if out.HasField("default_filter_chain") and not _inline_chain(out.default_filter_chain, routes, secrets):
        out.ClearField("default_filter_chain")
    if not out.filter_chains and not out.HasField("default_filter_chain"):
        return None
    return out


def bootstrap_proto(
    pc: ProxyConfig,
    admin_port: int = 15000,
    admin_address: str = "127.0.0.1",
    secrets: Mapping[str, secret_pb2.Secret] | None = None,
) -> bootstrap_pb2.Bootstrap:
    """The static bootstrap; ``secrets`` (SDS name -> Secret) keeps TLS that would otherwise be removed."""
    b = bootstrap_pb2.Bootstrap()
    b.node.CopyFrom(node_of(pc))
    sa = b.admin.address.socket_address
    sa.address = admin_address
    sa.port_value = admin_port
    clas = {c.cluster_name: c for c in pc.endpoints}
    routes = {r.name: r for r in pc.routes}
    static = _Secrets(secrets)
    for cl in pc.clusters:
        b.static_resources.clusters.append(static_cluster(cl, clas.get(cl.name), static))
    for lis in pc.listeners:
        s = static_listener(lis, routes, static)
        if s is not None:
            b.static_resources.listeners.append(s)
    for name in sorted(static.used):
        secret = b.static_resources.secrets.add()
        secret.CopyFrom(static.used[name])
        secret.name = name
    return b


def bootstrap(
    pc: ProxyConfig,
    admin_port: int = 15000,
    admin_address: str = "127.0.0.1",
    secrets: Mapping[str, secret_pb2.Secret] | None = None,
) -> dict[str, Any]:
    """The static bootstrap as a JSON-ready dict (``envoy -c file.json`` runs it). With ``secrets`` (static
    stand-ins for the SDS names, see :func:`referenced_secrets`) TLS is kept instead of removed."""
    return json_format.MessageToDict(
        bootstrap_proto(pc, admin_port, admin_address, secrets), preserving_proto_field_name=True
    )
