"""networking.istio.io messages (v1, v1beta1 and v1alpha3 share one schema).

Field names are the proto field names in snake_case (``match``, ``route``, ``port_level_settings``); the
camelCase JSON names are aliases. Oneofs are plain optional fields; their exclusivity is checked where
Istio checks it. Docs: https://istio.io/latest/docs/reference/config/networking/
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from meshctl.model.api.base import (
    Bool,
    Duration,
    Float,
    HTTPStatus,
    Int,
    IstioModel,
    NonNegInt,
    Percentage,
    PortNumber,
    Str,
    UInt,
    UInt64,
    Weight,
)


# ================================================================ common
class PortSelector(IstioModel):
    number: PortNumber | None = None


class Destination(IstioModel):
    host: Str
    subset: Str | None = None
    port: PortSelector | None = None


class StringMatch(IstioModel):
    """Exactly one of exact/prefix/regex (an empty StringMatch means "present" in header matches)."""

    exact: Str | None = None
    prefix: Str | None = None
    regex: Str | None = None

    @model_validator(mode="after")
    def _one_of(self) -> StringMatch:
        if sum(v is not None for v in (self.exact, self.prefix, self.regex)) > 1:
            raise ValueError("only one of exact, prefix, regex may be set")
        return self


class Percent(IstioModel):
    value: Percentage = 0.0


class WorkloadSelector(IstioModel):
    """networking.v1alpha3.WorkloadSelector (Sidecar, ServiceEntry): ``labels``."""

    labels: dict[str, Str] = Field(default_factory=dict)


class TypeWorkloadSelector(IstioModel):
    """istio.type.v1beta1.WorkloadSelector (DestinationRule, security policies): ``matchLabels``."""

    match_labels: dict[str, Str] = Field(default_factory=dict)


# ================================================================ VirtualService
class Delegate(IstioModel):
    name: Str
    namespace: Str | None = None


class HTTPMatchRequest(IstioModel):
    name: Str | None = None
    uri: StringMatch | None = None
    scheme: StringMatch | None = None
    method: StringMatch | None = None
    authority: StringMatch | None = None
    headers: dict[str, StringMatch] = Field(default_factory=dict)
    port: PortNumber | None = None
    source_labels: dict[str, Str] = Field(default_factory=dict)
    gateways: list[Str] = Field(default_factory=list)
    query_params: dict[str, StringMatch] = Field(default_factory=dict)
    ignore_uri_case: Bool = False
    without_headers: dict[str, StringMatch] = Field(default_factory=dict)
    source_namespace: Str | None = None
    stat_prefix: Str | None = None


class HeaderOperations(IstioModel):
    set: dict[str, Str] = Field(default_factory=dict)
    add: dict[str, Str] = Field(default_factory=dict)
    remove: list[Str] = Field(default_factory=list)


class Headers(IstioModel):
    request: HeaderOperations | None = None
    response: HeaderOperations | None = None


class HTTPRouteDestination(IstioModel):
    destination: Destination
    weight: Weight | None = None
    headers: Headers | None = None


class RouteDestination(IstioModel):
    destination: Destination
    weight: Weight | None = None


class HTTPRedirect(IstioModel):
    """``uri`` replaces the whole path, ``prefix_rewrite`` only the matched prefix (Istio's ``redirect_type`` oneof)."""

    uri: Str | None = None
    prefix_rewrite: Str | None = None
    authority: Str | None = None
    port: PortNumber | None = None
    derive_port: Literal["FROM_PROTOCOL_DEFAULT", "FROM_REQUEST_PORT"] | None = None
    scheme: Str | None = None
    redirect_code: UInt | None = None

    @model_validator(mode="after")
    def _one_redirect_type(self) -> HTTPRedirect:
        if self.uri is not None and self.prefix_rewrite is not None:
            raise ValueError("only one of uri, prefixRewrite may be set")
        return self


class RegexRewrite(IstioModel):
    match: Str | None = None
    rewrite: Str | None = None


class HTTPRewrite(IstioModel):
    uri: Str | None = None
    authority: Str | None = None
    uri_regex_rewrite: RegexRewrite | None = None


class HTTPBody(IstioModel):
    string: Str | None = None
    bytes: Str | None = None  # base64


class HTTPDirectResponse(IstioModel):
    status: HTTPStatus
    body: HTTPBody | None = None


class HTTPRetry(IstioModel):
    attempts: NonNegInt | None = None
    per_try_timeout: Duration | None = None
    retry_on: Str | None = None
    retry_remote_localities: Bool | None = None
    retry_ignore_previous_hosts: Bool | None = None
    backoff: Duration | None = None


class Delay(IstioModel):
    fixed_delay: Duration | None = None
    exponential_delay: Duration | None = None
    percentage: Percent | None = None
    percent: NonNegInt | None = None  # deprecated


class Abort(IstioModel):
    http_status: HTTPStatus | None = None
    grpc_status: Str | None = None
    http2_error: Str | None = None
    percentage: Percent | None = None


class HTTPFaultInjection(IstioModel):
    delay: Delay | None = None
    abort: Abort | None = None


class CorsPolicy(IstioModel):
    allow_origins: list[StringMatch] = Field(default_factory=list)
    allow_origin: list[Str] = Field(default_factory=list)  # deprecated
    allow_methods: list[Str] = Field(default_factory=list)
    allow_headers: list[Str] = Field(default_factory=list)
    expose_headers: list[Str] = Field(default_factory=list)
    max_age: Duration | None = None
    allow_credentials: Bool | None = None
    unmatched_preflights: Literal["UNSPECIFIED", "FORWARD", "IGNORE"] | None = None


class HTTPMirrorPolicy(IstioModel):
    destination: Destination
    percentage: Percent | None = None


class HTTPRoute(IstioModel):
    name: Str | None = None
    match: list[HTTPMatchRequest] = Field(default_factory=list)
    route: list[HTTPRouteDestination] = Field(default_factory=list)
    redirect: HTTPRedirect | None = None
    direct_response: HTTPDirectResponse | None = None
    delegate: Delegate | None = None
    rewrite: HTTPRewrite | None = None
    timeout: Duration | None = None
    retries: HTTPRetry | None = None
    fault: HTTPFaultInjection | None = None
    mirror: Destination | None = None
    mirrors: list[HTTPMirrorPolicy] = Field(default_factory=list)
    mirror_percent: UInt | None = None  # deprecated
    mirror_percentage: Percent | None = None
    cors_policy: CorsPolicy | None = None
    headers: Headers | None = None


class L4MatchAttributes(IstioModel):
    destination_subnets: list[Str] = Field(default_factory=list)
    port: PortNumber | None = None
    source_subnet: Str | None = None
    source_labels: dict[str, Str] = Field(default_factory=dict)
    gateways: list[Str] = Field(default_factory=list)
    source_namespace: Str | None = None


class TLSMatchAttributes(IstioModel):
    sni_hosts: list[Str] = Field(default_factory=list)
    destination_subnets: list[Str] = Field(default_factory=list)
    port: PortNumber | None = None
    source_labels: dict[str, Str] = Field(default_factory=dict)
    gateways: list[Str] = Field(default_factory=list)
    source_namespace: Str | None = None


class TCPRoute(IstioModel):
    match: list[L4MatchAttributes] = Field(default_factory=list)
    route: list[RouteDestination] = Field(default_factory=list)


class TLSRoute(IstioModel):
    match: list[TLSMatchAttributes] = Field(default_factory=list)
    route: list[RouteDestination] = Field(default_factory=list)


class VirtualService(IstioModel):
    hosts: list[Str] = Field(default_factory=list)
    gateways: list[Str] = Field(default_factory=list)
    http: list[HTTPRoute] = Field(default_factory=list)
    tls: list[TLSRoute] = Field(default_factory=list)
    tcp: list[TCPRoute] = Field(default_factory=list)
    export_to: list[Str] = Field(default_factory=list)


# ================================================================ DestinationRule
class HTTPCookie(IstioModel):
    class Attribute(IstioModel):
        name: Str
        value: Str | None = None

    name: Str
    path: Str | None = None
    ttl: Duration | None = None
    attributes: list[Attribute] = Field(default_factory=list)


class RingHash(IstioModel):
    minimum_ring_size: UInt64 | None = None


class MagLev(IstioModel):
    table_size: UInt64 | None = None


class ConsistentHashLB(IstioModel):
    http_header_name: Str | None = None
    http_cookie: HTTPCookie | None = None
    use_source_ip: Bool | None = None
    http_query_parameter_name: Str | None = None
    ring_hash: RingHash | None = None
    maglev: MagLev | None = None
    minimum_ring_size: UInt64 | None = None  # deprecated


class Distribute(IstioModel):
    from_: Str | None = Field(default=None, alias="from")
    to: dict[str, UInt] = Field(default_factory=dict)


class Failover(IstioModel):
    from_: Str | None = Field(default=None, alias="from")
    to: Str | None = None


class LocalityLoadBalancerSetting(IstioModel):
    distribute: list[Distribute] = Field(default_factory=list)
    failover: list[Failover] = Field(default_factory=list)
    failover_priority: list[Str] = Field(default_factory=list)
    enabled: Bool | None = None


class WarmupConfiguration(IstioModel):
    duration: Duration | None = None
    minimum_percent: Float | None = None
    aggression: Float | None = None


SimpleLB = Literal["UNSPECIFIED", "LEAST_CONN", "RANDOM", "PASSTHROUGH", "ROUND_ROBIN", "LEAST_REQUEST"]


class LoadBalancerSettings(IstioModel):
    simple: SimpleLB | None = None
    consistent_hash: ConsistentHashLB | None = None
    locality_lb_setting: LocalityLoadBalancerSetting | None = None
    warmup_duration_secs: Duration | None = None
    warmup: WarmupConfiguration | None = None


class TcpKeepalive(IstioModel):
    probes: UInt | None = None
    time: Duration | None = None
    interval: Duration | None = None


class TCPSettings(IstioModel):
    max_connections: Int | None = None
    connect_timeout: Duration | None = None
    tcp_keepalive: TcpKeepalive | None = None
    max_connection_duration: Duration | None = None
    idle_timeout: Duration | None = None


class HTTPSettings(IstioModel):
    http1_max_pending_requests: Int | None = None
    http2_max_requests: Int | None = None
    max_requests_per_connection: Int | None = None
    max_retries: Int | None = None
    idle_timeout: Duration | None = None
    h2_upgrade_policy: Literal["DEFAULT", "DO_NOT_UPGRADE", "UPGRADE"] | None = None
    use_client_protocol: Bool | None = None
    max_concurrent_streams: Int | None = None


class ConnectionPoolSettings(IstioModel):
    tcp: TCPSettings | None = None
    http: HTTPSettings | None = None


class OutlierDetection(IstioModel):
    split_external_local_origin_errors: Bool | None = None
    consecutive_local_origin_failures: UInt | None = None
    consecutive_gateway_errors: UInt | None = None
    consecutive_5xx_errors: UInt | None = None
    consecutive_errors: Int | None = None  # deprecated, no longer mapped
    interval: Duration | None = None
    base_ejection_time: Duration | None = None
    max_ejection_percent: Int | None = None
    min_health_percent: Int | None = None


class ClientTLSSettings(IstioModel):
    mode: Literal["DISABLE", "SIMPLE", "MUTUAL", "ISTIO_MUTUAL"] = "DISABLE"
    client_certificate: Str | None = None
    private_key: Str | None = None
    ca_certificates: Str | None = None
    credential_name: Str | None = None
    subject_alt_names: list[Str] = Field(default_factory=list)
    sni: Str | None = None
    insecure_skip_verify: Bool | None = None
    ca_crl: Str | None = None


class ProxyProtocol(IstioModel):
    version: Literal["V1", "V2"] = "V1"


class TunnelSettings(IstioModel):
    protocol: Literal["CONNECT", "POST"] | None = None
    target_host: Str
    target_port: PortNumber


class PortTrafficPolicy(IstioModel):
    port: PortSelector | None = None
    load_balancer: LoadBalancerSettings | None = None
    connection_pool: ConnectionPoolSettings | None = None
    outlier_detection: OutlierDetection | None = None
    tls: ClientTLSSettings | None = None


class TrafficPolicy(IstioModel):
    load_balancer: LoadBalancerSettings | None = None
    connection_pool: ConnectionPoolSettings | None = None
    outlier_detection: OutlierDetection | None = None
    tls: ClientTLSSettings | None = None
    port_level_settings: list[PortTrafficPolicy] = Field(default_factory=list)
    tunnel: TunnelSettings | None = None
    proxy_protocol: ProxyProtocol | None = None


class Subset(IstioModel):
    name: Str
    labels: dict[str, Str] = Field(default_factory=dict)
    traffic_policy: TrafficPolicy | None = None


class DestinationRule(IstioModel):
    host: Str
    traffic_policy: TrafficPolicy | None = None
    subsets: list[Subset] = Field(default_factory=list)
    export_to: list[Str] = Field(default_factory=list)
    workload_selector: TypeWorkloadSelector | None = None


# ================================================================ Gateway
class Port(IstioModel):
    number: PortNumber
    protocol: Str
    name: Str | None = None
    target_port: PortNumber | None = None


class ServerTLSSettings(IstioModel):
    class TLSCertificate(IstioModel):
        server_certificate: Str | None = None
        private_key: Str | None = None
        ca_certificates: Str | None = None

    https_redirect: Bool = False
    mode: (
        Literal["PASSTHROUGH", "SIMPLE", "MUTUAL", "AUTO_PASSTHROUGH", "ISTIO_MUTUAL", "OPTIONAL_MUTUAL"]
        | None
    ) = None
    server_certificate: Str | None = None
    private_key: Str | None = None
    ca_certificates: Str | None = None
    ca_crl: Str | None = None
    credential_name: Str | None = None
    credential_names: list[Str] = Field(default_factory=list)
    tls_certificates: list[TLSCertificate] = Field(default_factory=list)
    subject_alt_names: list[Str] = Field(default_factory=list)
    verify_certificate_spki: list[Str] = Field(default_factory=list)
    verify_certificate_hash: list[Str] = Field(default_factory=list)
    min_protocol_version: Literal["TLS_AUTO", "TLSV1_0", "TLSV1_1", "TLSV1_2", "TLSV1_3"] | None = None
    max_protocol_version: Literal["TLS_AUTO", "TLSV1_0", "TLSV1_1", "TLSV1_2", "TLSV1_3"] | None = None
    cipher_suites: list[Str] = Field(default_factory=list)


class Server(IstioModel):
    port: Port
    bind: Str | None = None
    hosts: list[Str] = Field(default_factory=list)
    tls: ServerTLSSettings | None = None
    default_endpoint: Str | None = None
    name: Str | None = None


class Gateway(IstioModel):
    servers: list[Server] = Field(default_factory=list)
    selector: dict[str, Str] = Field(default_factory=dict)


# ================================================================ ServiceEntry / WorkloadEntry / WorkloadGroup
class ServicePort(IstioModel):
    number: PortNumber
    protocol: Str | None = None
    name: Str | None = None
    target_port: PortNumber | None = None


class WorkloadEntry(IstioModel):
    address: Str | None = None
    ports: dict[str, PortNumber] = Field(default_factory=dict)
    labels: dict[str, Str] = Field(default_factory=dict)
    network: Str | None = None
    locality: Str | None = None
    weight: UInt | None = None
    service_account: Str | None = None


class ServiceEntry(IstioModel):
    hosts: list[Str] = Field(default_factory=list)
    addresses: list[Str] = Field(default_factory=list)
    ports: list[ServicePort] = Field(default_factory=list)
    location: Literal["MESH_EXTERNAL", "MESH_INTERNAL"] | None = None
    resolution: Literal["NONE", "STATIC", "DNS", "DNS_ROUND_ROBIN", "DYNAMIC_DNS"] = "NONE"
    endpoints: list[WorkloadEntry] = Field(default_factory=list)
    workload_selector: WorkloadSelector | None = None
    export_to: list[Str] = Field(default_factory=list)
    subject_alt_names: list[Str] = Field(default_factory=list)


class WorkloadGroupObjectMeta(IstioModel):
    labels: dict[str, Str] = Field(default_factory=dict)
    annotations: dict[str, Str] = Field(default_factory=dict)


class WorkloadGroup(IstioModel):
    metadata: WorkloadGroupObjectMeta | None = None
    template: WorkloadEntry | None = None
    probe: dict[str, object] | None = None  # readiness probe: carried, not interpreted


# ================================================================ Sidecar
class SidecarPort(IstioModel):
    number: PortNumber
    protocol: Str | None = None
    name: Str | None = None
    target_port: PortNumber | None = None


CaptureMode = Literal["DEFAULT", "IPTABLES", "NONE"]


class IstioIngressListener(IstioModel):
    port: SidecarPort
    bind: Str | None = None
    capture_mode: CaptureMode | None = None
    default_endpoint: Str | None = None
    tls: ServerTLSSettings | None = None
    connection_pool: ConnectionPoolSettings | None = None


class IstioEgressListener(IstioModel):
    port: SidecarPort | None = None
    bind: Str | None = None
    capture_mode: CaptureMode | None = None
    hosts: list[Str] = Field(default_factory=list)


class OutboundTrafficPolicy(IstioModel):
    mode: Literal["REGISTRY_ONLY", "ALLOW_ANY", "ALLOW_ANY_DYNAMIC_DNS"] = "ALLOW_ANY"
    egress_proxy: Destination | None = None


class Sidecar(IstioModel):
    workload_selector: WorkloadSelector | None = None
    ingress: list[IstioIngressListener] = Field(default_factory=list)
    egress: list[IstioEgressListener] = Field(default_factory=list)
    inbound_connection_pool: ConnectionPoolSettings | None = None
    outbound_traffic_policy: OutboundTrafficPolicy | None = None
