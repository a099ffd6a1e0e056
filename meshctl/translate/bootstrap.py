"""``-o bootstrap``: a static Envoy bootstrap that ``envoy -c`` runs as is, with no control plane.

Everything Istio would send over xDS is inlined: clusters in ``static_resources.clusters`` (EDS clusters
become STATIC with their ClusterLoadAssignment as ``load_assignment``), listeners in
``static_resources.listeners`` with each HCM's RDS reference replaced by the route configuration itself.

What differs from what Istio sends, and why (also in docs/translate.md):

* There is no SDS server, so TLS that needs Istio/Kubernetes secrets cannot work: transport sockets
  whose TLS context fetches secrets over SDS are removed (upstream clusters then speak plaintext; the
  ``tlsMode-istio`` socket match of auto-mTLS is dropped), and downstream filter chains that terminate TLS
  with SDS secrets (inbound mTLS chains, gateway ``credentialName`` servers) are dropped. Listeners left
  with no chain are dropped.
* The admin interface listens on ``admin_address:admin_port`` (default 127.0.0.1:15000).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from envoy.config.bootstrap.v3 import bootstrap_pb2
from envoy.config.cluster.v3 import cluster_pb2
from envoy.config.core.v3 import base_pb2
from envoy.config.listener.v3 import listener_components_pb2, listener_pb2
from envoy.config.route.v3 import route_pb2
from envoy.extensions.filters.network.http_connection_manager.v3 import http_connection_manager_pb2 as hcm_pb2
from envoy.extensions.transport_sockets.tls.v3 import tls_pb2
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


def _uses_sds(ts: base_pb2.TransportSocket) -> bool:
    """True when a TLS transport socket's certificates or CA come from SDS (no SDS server in a static bootstrap)."""
    if not ts.HasField("typed_config"):
        return False
    url = ts.typed_config.type_url
    if url == _UPSTREAM_TLS:
        ctx: Any = tls_pb2.UpstreamTlsContext()
    elif url == _DOWNSTREAM_TLS:
        ctx = tls_pb2.DownstreamTlsContext()
    else:
        return False
    ts.typed_config.Unpack(ctx)
    common = ctx.common_tls_context
    return bool(
        common.tls_certificate_sds_secret_configs
        or common.HasField("validation_context_sds_secret_config")
        or common.combined_validation_context.HasField("validation_context_sds_secret_config")
    )


def static_cluster(cl: cluster_pb2.Cluster, cla: Any | None) -> cluster_pb2.Cluster:
    """A copy of ``cl`` that needs no xDS: EDS -> STATIC with inline endpoints, SDS TLS removed."""
    out = cluster_pb2.Cluster()
    out.CopyFrom(cl)
    if out.type == cluster_pb2.Cluster.EDS and out.WhichOneof("cluster_discovery_type") == "type":
        out.type = cluster_pb2.Cluster.STATIC
        out.ClearField("eds_cluster_config")
        if cla is not None:
            out.load_assignment.CopyFrom(cla)
        out.load_assignment.cluster_name = out.name
    if out.HasField("transport_socket") and _uses_sds(out.transport_socket):
        out.ClearField("transport_socket")
    kept = [m for m in out.transport_socket_matches if not _uses_sds(m.transport_socket)]
    if len(kept) != len(out.transport_socket_matches):
        del out.transport_socket_matches[:]
        out.transport_socket_matches.extend(kept)
    return out


def _inline_chain(
    chain: listener_components_pb2.FilterChain, routes: dict[str, route_pb2.RouteConfiguration]
) -> bool:
    """Inline RDS into the chain's HCM; False when the chain must be dropped (SDS-backed TLS)."""
    if chain.HasField("transport_socket") and _uses_sds(chain.transport_socket):
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
    lis: listener_pb2.Listener, routes: dict[str, route_pb2.RouteConfiguration]
) -> listener_pb2.Listener | None:
    out = listener_pb2.Listener()
    out.CopyFrom(lis)
    kept = []
    for chain in out.filter_chains:
        if _inline_chain(chain, routes):
            kept.append(chain)
    del out.filter_chains[:]
    out.filter_chains.extend(kept)
    if out.HasField("default_filter_chain") and not _inline_chain(out.default_filter_chain, routes):
        out.ClearField("default_filter_chain")
    if not out.filter_chains and not out.HasField("default_filter_chain"):
        return None
    return out


def bootstrap_proto(
    pc: ProxyConfig, admin_port: int = 15000, admin_address: str = "127.0.0.1"
) -> bootstrap_pb2.Bootstrap:
    b = bootstrap_pb2.Bootstrap()
    b.node.CopyFrom(node_of(pc))
    sa = b.admin.address.socket_address
    sa.address = admin_address
    sa.port_value = admin_port
    clas = {c.cluster_name: c for c in pc.endpoints}
    routes = {r.name: r for r in pc.routes}
    for cl in pc.clusters:
        b.static_resources.clusters.append(static_cluster(cl, clas.get(cl.name)))
    for lis in pc.listeners:
        s = static_listener(lis, routes)
        if s is not None:
            b.static_resources.listeners.append(s)
    return b


def bootstrap(pc: ProxyConfig, admin_port: int = 15000, admin_address: str = "127.0.0.1") -> dict[str, Any]:
    """The static bootstrap as a JSON-ready dict (``envoy -c file.json`` runs it)."""
    return json_format.MessageToDict(
        bootstrap_proto(pc, admin_port, admin_address), preserving_proto_field_name=True
    )
