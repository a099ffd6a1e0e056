"""Envoy bootstrap for a proxy that gets all its config from ``meshctl xds serve`` over ADS.

Used by tests, the benchmark and the demo mesh. The node id is Istio's (``sidecar~<ip>~<pod>.<ns>~<ns>.svc.cluster.local``)
so the server can map the Envoy to a workload of the model; CDS and LDS come over ADS (SotW ``GRPC`` or incremental
``DELTA_GRPC``), EDS and RDS follow from the clusters' and listeners' own ``ads`` config sources.
"""

from __future__ import annotations

import ipaddress
import json
from dataclasses import dataclass
from typing import Any

XDS_CLUSTER = "xds-grpc"
SDS_CLUSTER = "sds-grpc"


@dataclass
class ClientTls:
    """TLS to the xDS server: the CA that signed its certificate, and a client certificate for mTLS."""

    ca: str
    cert: str | None = None
    key: str | None = None
    sni: str | None = None


def istio_node_id(pod: str, namespace: str, ip: str = "127.0.0.1", proxy_type: str = "sidecar") -> str:
    """``<type>~<ip>~<pod>.<ns>~<ns>.svc.cluster.local`` as pilot-agent builds it."""
    return f"{proxy_type}~{ip}~{pod}.{namespace}~{namespace}.svc.cluster.local"


def _address(host: str, port: int) -> dict[str, Any]:
    return {"socket_address": {"address": host, "port_value": port}}


def xds_bootstrap(
    node_id: str,
    *,
    xds_host: str = "127.0.0.1",
    xds_port: int = 15010,
    delta: bool = False,
    admin_port: int | None = None,
    cluster_id: str = "Kubernetes",
    metadata: dict[str, Any] | None = None,
    tls: ClientTls | None = None,
    reconnect_base: float = 0.25,
    reconnect_max: float = 2.0,
    initial_fetch_timeout: float | None = None,
    sds: bool = True,
) -> dict[str, Any]:
    """A bootstrap dict (JSON-ready) for an Envoy that connects to our ADS server at ``xds_host:xds_port``.

    ``reconnect_base``/``reconnect_max`` bound the stream re-establishment backoff, so a restarted server is
    picked up within seconds rather than Envoy's default of up to 30 s. With ``sds`` the bootstrap also has
    Istio's ``sds-grpc`` cluster (pilot-agent's SDS), pointed at the same server, which serves the workload
    certificate (``default``) and root (``ROOTCA``) that Istio's TLS contexts ask for.
    """
    parts = node_id.split("~")
    ns = parts[2].rsplit(".", 1)[1] if len(parts) == 4 and "." in parts[2] else "default"
    md = {"CLUSTER_ID": cluster_id, "NAMESPACE": ns, **(metadata or {})}
    try:
        ipaddress.ip_address(xds_host)
        discovery = "STATIC"
    except ValueError:
        discovery = "STRICT_DNS"
    xds_cluster: dict[str, Any] = {
        "name": XDS_CLUSTER,
        "type": discovery,
        "connect_timeout": "1s",
        "load_assignment": {
            "cluster_name": XDS_CLUSTER,
            "endpoints": [{"lb_endpoints": [{"endpoint": {"address": _address(xds_host, xds_port)}}]}],
        },
        "typed_extension_protocol_options": {
            "envoy.extensions.upstreams.http.v3.HttpProtocolOptions": {
                "@type": "type.googleapis.com/envoy.extensions.upstreams.http.v3.HttpProtocolOptions",
                "explicit_http_config": {"http2_protocol_options": {}},
            }
        },
    }
    if tls is not None:
        ctx: dict[str, Any] = {
            "common_tls_context": {"validation_context": {"trusted_ca": {"filename": tls.ca}}}
        }
        if tls.cert and tls.key:
            ctx["common_tls_context"]["tls_certificates"] = [
                {"certificate_chain": {"filename": tls.cert}, "private_key": {"filename": tls.key}}
            ]
        if tls.sni:
            ctx["sni"] = tls.sni
        xds_cluster["transport_socket"] = {
            "name": "envoy.transport_sockets.tls",
            "typed_config": {
                "@type": "type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.UpstreamTlsContext",
                **ctx,
            },
        }
    ads_source: dict[str, Any] = {"ads": {}, "resource_api_version": "V3"}
    if initial_fetch_timeout is not None:
        ads_source["initial_fetch_timeout"] = f"{initial_fetch_timeout}s"
    boot: dict[str, Any] = {
        "node": {"id": node_id, "cluster": cluster_id, "metadata": md},
        "dynamic_resources": {
            "ads_config": {
                "api_type": "DELTA_GRPC" if delta else "GRPC",
                "transport_api_version": "V3",
                "set_node_on_first_message_only": True,
                "grpc_services": [
                    {
                        "envoy_grpc": {
                            "cluster_name": XDS_CLUSTER,
                            "retry_policy": {
                                "retry_back_off": {
                                    "base_interval": f"{reconnect_base}s",
                                    "max_interval": f"{reconnect_max}s",
                                }
                            },
                        }
                    }
                ],
            },
            "cds_config": dict(ads_source),
            "lds_config": dict(ads_source),
        },
        "static_resources": {"clusters": [xds_cluster]},
    }
    if sds:
        sds_cluster = json.loads(json.dumps(xds_cluster))
        sds_cluster["name"] = sds_cluster["load_assignment"]["cluster_name"] = SDS_CLUSTER
        boot["static_resources"]["clusters"].append(sds_cluster)
    if admin_port is not None:
        boot["admin"] = {"address": _address("127.0.0.1", admin_port)}
    return boot
