# ruff: noqa: F401  (re-exports; __all__ is computed below)
"""Typed Istio API models (pydantic v2), named as Istio's proto messages.

* networking.istio.io: :class:`VirtualService`, :class:`DestinationRule`, :class:`Gateway`,
  :class:`ServiceEntry`, :class:`Sidecar`, :class:`WorkloadEntry`, :class:`WorkloadGroup` and their parts.
* security.istio.io: :class:`PeerAuthentication`, :class:`AuthorizationPolicy`, :class:`RequestAuthentication`.
* :class:`MeshConfig`.

Attributes are the proto field names in snake_case (``port_level_settings``); input may use either that or
the JSON camelCase name. Unknown fields are rejected. Durations stay strings; :func:`parse_duration` gives
seconds. :func:`validate` turns a ``Resource`` into its typed spec or an InputError naming file:line:field.
"""

from meshctl.model.api.base import Duration, IstioModel, parse_duration
from meshctl.model.api.mesh import (
    MeshConfig,
    MeshInboundTrafficPolicy,
    MeshOutboundTrafficPolicy,
    ProxyConfig,
)
from meshctl.model.api.networking import (
    Abort,
    ClientTLSSettings,
    ConnectionPoolSettings,
    ConsistentHashLB,
    CorsPolicy,
    Delay,
    Delegate,
    Destination,
    DestinationRule,
    Distribute,
    Failover,
    Gateway,
    HeaderOperations,
    Headers,
    HTTPBody,
    HTTPCookie,
    HTTPDirectResponse,
    HTTPFaultInjection,
    HTTPMatchRequest,
    HTTPMirrorPolicy,
    HTTPRedirect,
    HTTPRetry,
    HTTPRewrite,
    HTTPRoute,
    HTTPRouteDestination,
    HTTPSettings,
    IstioEgressListener,
    IstioIngressListener,
    L4MatchAttributes,
    LoadBalancerSettings,
    LocalityLoadBalancerSetting,
    MagLev,
    OutboundTrafficPolicy,
    OutlierDetection,
    Percent,
    Port,
    PortSelector,
    PortTrafficPolicy,
    ProxyProtocol,
    RegexRewrite,
    RingHash,
    RouteDestination,
    Server,
    ServerTLSSettings,
    ServiceEntry,
    ServicePort,
    Sidecar,
    SidecarPort,
    StringMatch,
    Subset,
    TcpKeepalive,
    TCPRoute,
    TCPSettings,
    TLSMatchAttributes,
    TLSRoute,
    TrafficPolicy,
    TunnelSettings,
    TypeWorkloadSelector,
    VirtualService,
    WarmupConfiguration,
    WorkloadEntry,
    WorkloadGroup,
    WorkloadSelector,
)
from meshctl.model.api.security import (
    AuthorizationPolicy,
    MutualTLS,
    PeerAuthentication,
    RequestAuthentication,
)
from meshctl.model.api.validate import KINDS, is_istio_config, spec_model, validate

__all__ = [name for name in dir() if not name.startswith("_")]
