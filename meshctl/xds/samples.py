"""Hand-built xDS resources (protobuf) for tests, the benchmark and smoke checks without the translator.

Small builders for the shapes a control plane serves: an EDS (or static) cluster, its ClusterLoadAssignment,
an HTTP listener whose HCM loads routes over ADS/RDS, and a route configuration.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from envoy.config.cluster.v3 import cluster_pb2
from envoy.config.endpoint.v3 import endpoint_pb2
from envoy.config.listener.v3 import listener_pb2
from envoy.config.route.v3 import route_pb2

# Make sure the HCM and router types are registered for Any packing in ParseDict.
from envoy.extensions.filters.http.router.v3 import router_pb2  # noqa: F401
from envoy.extensions.filters.network.http_connection_manager.v3 import http_connection_manager_pb2  # noqa: F401
from google.protobuf.json_format import ParseDict

ADS = {"ads": {}, "resource_api_version": "V3"}


def cluster(
    name: str, *, eds: bool = True, endpoints: Sequence[tuple[str, int]] = (), connect_timeout: str = "1s"
) -> cluster_pb2.Cluster:
    """An EDS cluster over ADS, or a STATIC one with ``endpoints`` inline."""
    d: dict[str, Any] = {"name": name, "connect_timeout": connect_timeout}
    if eds:
        d.update(type="EDS", eds_cluster_config={"eds_config": ADS})
    else:
        d.update(type="STATIC", load_assignment=_cla_dict(name, endpoints))
    return ParseDict(d, cluster_pb2.Cluster())


def _cla_dict(name: str, endpoints: Sequence[tuple[str, int]]) -> dict[str, Any]:
    return {
        "cluster_name": name,
        "endpoints": [
            {
                "lb_endpoints": [
                    {"endpoint": {"address": {"socket_address": {"address": h, "port_value": p}}}}
                    for h, p in endpoints
                ]
            }
        ],
    }


def load_assignment(name: str, endpoints: Sequence[tuple[str, int]]) -> endpoint_pb2.ClusterLoadAssignment:
    return ParseDict(_cla_dict(name, endpoints), endpoint_pb2.ClusterLoadAssignment())


def http_listener(name: str, port: int, route_name: str, address: str = "127.0.0.1") -> listener_pb2.Listener:
    """A listener on ``address:port`` whose HTTP connection manager gets ``route_name`` over RDS (ADS)."""
    d = {
        "name": name,
        "address": {"socket_address": {"address": address, "port_value": port}},
        "filter_chains": [
            {
                "filters": [
                    {
                        "name": "envoy.filters.network.http_connection_manager",
                        "typed_config": {
                            "@type": "type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager",
                            "stat_prefix": name,
                            "rds": {"route_config_name": route_name, "config_source": ADS},
                            "http_filters": [
                                {
                                    "name": "envoy.filters.http.router",
                                    "typed_config": {
                                        "@type": "type.googleapis.com/envoy.extensions.filters.http.router.v3.Router"
                                    },
                                }
                            ],
                        },
                    }
                ]
            }
        ],
    }
    return ParseDict(d, listener_pb2.Listener())


def route_config(
    name: str, routes: Sequence[tuple[str, str]], *, header: tuple[str, str] | None = None
) -> route_pb2.RouteConfiguration:
    """One ``*`` virtual host routing path prefixes to clusters: ``routes=[("/", "svc-a")]``.

    Each route also adds a response header ``x-meshctl-cluster: <cluster>`` so tests can see where a request went.
    """
    rs = []
    for prefix, target in routes:
        r: dict[str, Any] = {
            "match": {"prefix": prefix},
            "route": {"cluster": target},
            "response_headers_to_add": [{"header": {"key": "x-meshctl-cluster", "value": target}}],
        }
        if header:
            r["match"]["headers"] = [{"name": header[0], "string_match": {"exact": header[1]}}]
        rs.append(r)
    d = {"name": name, "virtual_hosts": [{"name": "all", "domains": ["*"], "routes": rs}]}
    return ParseDict(d, route_pb2.RouteConfiguration())
