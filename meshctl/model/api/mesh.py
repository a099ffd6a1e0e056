"""MeshConfig (``istio`` ConfigMap ``data.mesh``): the fields the model and translator use are typed; the
other documented top-level fields are accepted and carried (``Any``) so real mesh configs load, while a
misspelt field is still rejected.

Defaults are Istio's (``pkg/config/mesh/mesh.go:DefaultMeshConfig``), exposed by the helper properties.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from meshctl.model.api.base import Bool, Duration, IstioModel, LooseModel, Str
from meshctl.model.api.networking import (
    HTTPRetry,
    LocalityLoadBalancerSetting,
    TcpKeepalive,
    TrafficPolicy,
)


class MeshOutboundTrafficPolicy(IstioModel):
    mode: Literal["REGISTRY_ONLY", "ALLOW_ANY", "ALLOW_ANY_DYNAMIC_DNS"] = "ALLOW_ANY"


class MeshInboundTrafficPolicy(IstioModel):
    mode: Literal["PASSTHROUGH", "LOCALHOST"] = "PASSTHROUGH"


class ProxyConfig(LooseModel):
    """``defaultConfig``: carried loosely (proxy bootstrap knobs)."""


class MeshConfig(IstioModel):
    root_namespace: Str = "istio-system"
    connect_timeout: Duration = "10s"
    outbound_traffic_policy: MeshOutboundTrafficPolicy = Field(default_factory=MeshOutboundTrafficPolicy)
    inbound_traffic_policy: MeshInboundTrafficPolicy = Field(default_factory=MeshInboundTrafficPolicy)
    enable_auto_mtls: Bool = True
    default_http_retry_policy: HTTPRetry | None = None
    dns_refresh_rate: Duration = "60s"
    trust_domain: Str = "cluster.local"
    trust_domain_aliases: list[Str] = Field(default_factory=list)
    locality_lb_setting: LocalityLoadBalancerSetting | None = None
    h2_upgrade_policy: Literal["DO_NOT_UPGRADE", "UPGRADE"] = "DO_NOT_UPGRADE"
    default_destination_rule: TrafficPolicy | None = None
    default_traffic_policy: TrafficPolicy | None = None
    tcp_keepalive: TcpKeepalive | None = None
    ingress_service: Str = "istio-ingressgateway"
    ingress_selector: Str = "ingressgateway"
    ingress_class: Str | None = None
    ingress_controller_mode: Str | None = None
    default_config: ProxyConfig = Field(default_factory=ProxyConfig)
    access_log_file: Str = ""
    access_log_encoding: Str | None = None
    access_log_format: Str | None = None
    extension_providers: list[dict[str, Any]] = Field(default_factory=list)
    default_providers: dict[str, Any] | None = None
    inbound_cluster_stat_name: Str | None = None
    outbound_cluster_stat_name: Str | None = None
    protocol_detection_timeout: Duration | None = None
    path_normalization: dict[str, Any] | None = None
    default_service_export_to: list[Str] = Field(default_factory=lambda: ["*"])
    default_virtual_service_export_to: list[Str] = Field(default_factory=lambda: ["*"])
    default_destination_rule_export_to: list[Str] = Field(default_factory=lambda: ["*"])
    # carried, not interpreted
    enable_tracing: Bool | None = None
    enable_prometheus_merge: Bool | None = None
    enable_envoy_access_log_service: Bool | None = None
    disable_envoy_listener_log: Bool | None = None
    proxy_listen_port: int | None = None
    proxy_inbound_listen_port: int | None = None
    proxy_http_port: int | None = None
    service_settings: list[dict[str, Any]] = Field(default_factory=list)
    mesh_mtls: dict[str, Any] | None = Field(default=None, alias="meshMTLS")
    tls_defaults: dict[str, Any] | None = None
    discovery_selectors: list[dict[str, Any]] = Field(default_factory=list)
    ca_certificates: list[dict[str, Any]] = Field(default_factory=list)
    certificates: list[dict[str, Any]] = Field(default_factory=list)
    config_sources: list[dict[str, Any]] = Field(default_factory=list)
    verify_certificate_at_client: Bool | None = None
    thrift_config: dict[str, Any] | None = None
    service_scope_configs: list[dict[str, Any]] = Field(default_factory=list)
    local_rate_limit_config: dict[str, Any] | None = None
    enable_sds_token_mount: Bool | None = None
    sds_uds_path: Str | None = None
    auth_policy: Str | None = None
    dns_refresh_rate_secs: Any = None
    mixer_address: Any = None
    zone_aware_lb_setting: dict[str, Any] | None = None
    ca_certificates_pem: Any = None
