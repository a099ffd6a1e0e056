"""The embedded translator: Istio's model -> the Envoy xDS config Pilot would send one proxy.

``translate(mesh, proxy)`` is a pure function of the model and the proxy; it returns a :class:`ProxyConfig`
with the four xDS resource lists as xds-protos messages. :mod:`meshctl.translate.dump` turns it into
Envoy's ``/config_dump?include_eds`` JSON and :mod:`meshctl.translate.bootstrap` into a static bootstrap.
Spec: ``../shared/research/istio-translation.md``; user docs: ``docs/translate.md``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from envoy.config.cluster.v3.cluster_pb2 import Cluster
    from envoy.config.endpoint.v3.endpoint_pb2 import ClusterLoadAssignment
    from envoy.config.listener.v3.listener_pb2 import Listener
    from envoy.config.route.v3.route_pb2 import RouteConfiguration

    from meshctl.model.types import Proxy


@dataclass
class ProxyConfig:
    """The xDS resources of one proxy plus its node identity."""

    node_id: str
    node_cluster: str
    clusters: list[Cluster] = field(default_factory=list)
    endpoints: list[ClusterLoadAssignment] = field(default_factory=list)
    listeners: list[Listener] = field(default_factory=list)
    routes: list[RouteConfiguration] = field(default_factory=list)
    node_metadata: dict[str, Any] = field(default_factory=dict)
    proxy: Proxy | None = None


def translate(mesh: Any, proxy: Proxy) -> ProxyConfig:
    """CDS/EDS/LDS/RDS for ``proxy`` as Istio would generate them from ``mesh``."""
    from meshctl.translate.assemble import translate_proxy

    return translate_proxy(mesh, proxy)


__all__ = ["ProxyConfig", "translate"]
