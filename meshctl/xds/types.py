"""xDS type URLs, their short names and the push order Envoy needs (make-before-break)."""

from __future__ import annotations

CLUSTER = "type.googleapis.com/envoy.config.cluster.v3.Cluster"
ENDPOINT = "type.googleapis.com/envoy.config.endpoint.v3.ClusterLoadAssignment"
LISTENER = "type.googleapis.com/envoy.config.listener.v3.Listener"
ROUTE = "type.googleapis.com/envoy.config.route.v3.RouteConfiguration"
SECRET = "type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.Secret"
#: istiod's debug type: the response lists every connected proxy's sync status as ClientConfig messages.
SYNCZ = "istio.io/debug/syncz"
CLIENT_CONFIG = "type.googleapis.com/envoy.service.status.v3.ClientConfig"

#: Push order from the xDS protocol doc: CDS, then EDS, then LDS, then RDS, so Envoy never warms against
#: a missing resource and routes never point at clusters that do not exist yet.
ORDER: tuple[str, ...] = (CLUSTER, ENDPOINT, LISTENER, ROUTE, SECRET)

SHORT: dict[str, str] = {CLUSTER: "CDS", ENDPOINT: "EDS", LISTENER: "LDS", ROUTE: "RDS", SECRET: "SDS"}
LONG: dict[str, str] = {v: k for k, v in SHORT.items()}

#: Types whose SotW response must carry the complete state (a missing name means "deleted").
WILDCARD_TYPES = frozenset({CLUSTER, LISTENER})


def short_name(type_url: str) -> str:
    return SHORT.get(type_url, type_url.rsplit(".", 1)[-1])


def order_key(type_url: str) -> int:
    return ORDER.index(type_url) if type_url in ORDER else len(ORDER)
