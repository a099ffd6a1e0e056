"""Protobuf helpers for xDS resources: message classes by type URL and the references between resources."""

from __future__ import annotations

from collections.abc import Iterable

from google.protobuf.message import Message

from meshctl.xds import types as T

HCM = "type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager"


def message_class(type_url: str) -> type[Message]:
    """The generated class for an xDS type URL (imports the module on first use)."""
    if type_url == T.CLUSTER:
        from envoy.config.cluster.v3 import cluster_pb2

        return cluster_pb2.Cluster
    if type_url == T.ENDPOINT:
        from envoy.config.endpoint.v3 import endpoint_pb2

        return endpoint_pb2.ClusterLoadAssignment
    if type_url == T.LISTENER:
        from envoy.config.listener.v3 import listener_pb2

        return listener_pb2.Listener
    if type_url == T.ROUTE:
        from envoy.config.route.v3 import route_pb2

        return route_pb2.RouteConfiguration
    if type_url == T.SECRET:
        from envoy.extensions.transport_sockets.tls.v3 import secret_pb2

        return secret_pb2.Secret
    raise KeyError(f"unsupported xDS type {type_url}")


def eds_cluster_names(clusters: Iterable[Message]) -> set[str]:
    """Names under which EDS clusters request their endpoints (``eds_cluster_config.service_name`` or the name)."""
    out = set()
    for c in clusters:
        if c.HasField("type") and c.type == 3 or c.HasField("eds_cluster_config"):  # type: ignore[attr-defined]
            out.add(c.eds_cluster_config.service_name or c.name)  # type: ignore[attr-defined]
    return out


def rds_route_names(listeners: Iterable[Message]) -> set[str]:
    """RouteConfiguration names that HCM filters of the listeners load over RDS."""
    from envoy.extensions.filters.network.http_connection_manager.v3 import (
        http_connection_manager_pb2 as hcm_pb2,
    )

    out = set()
    for lis in listeners:
        chains = list(lis.filter_chains)  # type: ignore[attr-defined]
        if lis.HasField("default_filter_chain"):  # type: ignore[attr-defined]
            chains.append(lis.default_filter_chain)  # type: ignore[attr-defined]
        for chain in chains:
            for f in chain.filters:
                if f.typed_config.type_url == HCM:
                    h = hcm_pb2.HttpConnectionManager()
                    f.typed_config.Unpack(h)
                    if h.HasField("rds"):
                        out.add(h.rds.route_config_name)
    return out
