"""Istio's abstract model, as Pilot builds it from platform adapters (Kubernetes, ServiceEntry, files).

These are the types every later stage consumes: the translator (one builder per Envoy resource type), the
analyzer, the graph. They carry no Envoy types. Spec: ``../shared/research/istio-translation.md`` §2.
"""

from __future__ import annotations

import enum
import functools
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from meshctl.sources.resource import Resource


class Protocol(str, enum.Enum):  # noqa: UP042 (str() stays "Protocol.X"; callers use .value)
    """Port protocol as Istio derives it (``pkg/config/protocol``). UNSUPPORTED means "sniff" (auto)."""

    HTTP = "HTTP"
    HTTP2 = "HTTP2"
    HTTP_PROXY = "HTTP_PROXY"
    GRPC = "GRPC"
    GRPC_WEB = "GRPC-Web"
    HTTPS = "HTTPS"
    TLS = "TLS"
    TCP = "TCP"
    UDP = "UDP"
    MONGO = "Mongo"
    REDIS = "Redis"
    MYSQL = "MySQL"
    UNSUPPORTED = "UnsupportedProtocol"

    @property
    def is_http(self) -> bool:
        return self in (Protocol.HTTP, Protocol.HTTP2, Protocol.GRPC, Protocol.GRPC_WEB, Protocol.HTTP_PROXY)

    @property
    def is_http2(self) -> bool:
        return self in (Protocol.HTTP2, Protocol.GRPC, Protocol.GRPC_WEB)

    @property
    def is_tcp(self) -> bool:
        return self in (
            Protocol.TCP,
            Protocol.HTTPS,
            Protocol.TLS,
            Protocol.MONGO,
            Protocol.REDIS,
            Protocol.MYSQL,
        )

    @property
    def is_tls(self) -> bool:
        return self in (Protocol.HTTPS, Protocol.TLS)

    @property
    def is_unsupported(self) -> bool:
        return self is Protocol.UNSUPPORTED


class Resolution(str, enum.Enum):  # noqa: UP042
    """How the proxy finds endpoints of a service (``model.Resolution``)."""

    CLIENT_SIDE_LB = "ClientSideLB"  # EDS
    PASSTHROUGH = "Passthrough"  # ORIGINAL_DST on sidecars (headless, SE resolution NONE)
    DNS_LB = "DNSLB"  # STRICT_DNS
    DNS_ROUND_ROBIN_LB = "DNSRoundRobinLB"  # LOGICAL_DNS
    ALIAS = "Alias"  # k8s ExternalName
    DYNAMIC_DNS = "DynamicDNS"  # dynamic forward proxy


class ProxyType(str, enum.Enum):  # noqa: UP042
    SIDECAR = "sidecar"
    ROUTER = "router"  # gateways

    @property
    def node_prefix(self) -> str:
        return "sidecar" if self is ProxyType.SIDECAR else "router"


@dataclass
class ServicePort:
    """A service port: ``port`` is the service port, ``target_port`` the workload port (int, name or None)."""

    name: str
    port: int
    protocol: Protocol
    target_port: int | str | None = None
    app_protocol: str | None = None


@dataclass
class Service:
    """``model.Service``: one hostname in one namespace (a k8s Service, or one host of a ServiceEntry)."""

    hostname: str  # FQDN: reviews.default.svc.cluster.local, or the ServiceEntry host
    namespace: str
    name: str  # k8s Service name / ServiceEntry name
    ports: list[ServicePort]
    addresses: list[str] = field(default_factory=list)  # VIPs (clusterIP, SE addresses); may be CIDRs
    resolution: Resolution = Resolution.CLIENT_SIDE_LB
    mesh_external: bool = False
    export_to: frozenset[str] = frozenset({"*"})  # "*", "." (own namespace) or namespace names; "~" = none
    labels: dict[str, str] = field(default_factory=dict)
    selector: dict[str, str] | None = None  # workload selector (k8s selector, SE workloadSelector)
    registry: str = "Kubernetes"  # "Kubernetes" | "External" (ServiceEntry)
    external_name: str | None = None  # k8s ExternalName target (Resolution.ALIAS)
    headless: bool = False
    subject_alt_names: list[str] = field(default_factory=list)
    source: Resource | None = None
    #: For ServiceEntry-backed services: inline endpoints and WorkloadEntry-selected endpoints are resolved by the model.
    extra: dict[str, Any] = field(default_factory=dict)

    def port_by_number(self, number: int) -> ServicePort | None:
        return next((p for p in self.ports if p.port == number), None)

    def port_by_name(self, name: str) -> ServicePort | None:
        return next((p for p in self.ports if p.name == name), None)

    @property
    def vip(self) -> str | None:
        """The first non-CIDR address (the listener VIP), if any."""
        return next((a for a in self.addresses if "/" not in a and a not in ("None", "0.0.0.0")), None)


@dataclass
class Workload:
    """A workload instance: a Pod, a Deployment's pod template (one synthetic instance) or a WorkloadEntry."""

    name: str
    namespace: str
    kind: str  # "Pod" | "Deployment" | "StatefulSet" | "DaemonSet" | "ReplicaSet" | "WorkloadEntry" | ...
    labels: dict[str, str]
    ip: str | None
    service_account: str = "default"
    #: container ports: name -> number (for resolving named targetPorts), and all numbers
    ports: dict[str, int] = field(default_factory=dict)
    port_numbers: list[int] = field(default_factory=list)
    locality: str = ""  # region/zone/subzone
    network: str = ""
    cluster_id: str = "Kubernetes"
    sidecar_injected: bool = True  # tlsMode istio vs disabled
    ready: bool = True
    annotations: dict[str, str] = field(default_factory=dict)
    weight: int = 1
    source: Resource | None = None

    @property
    def tls_mode(self) -> str:
        return "istio" if self.sidecar_injected else "disabled"

    @property
    def app(self) -> str:
        return self.labels.get("app") or self.labels.get("app.kubernetes.io/name") or self.name

    @property
    def version(self) -> str:
        return self.labels.get("version") or self.labels.get("app.kubernetes.io/version") or ""


@dataclass
class Endpoint:
    """An IstioEndpoint: one (workload, service port) pair reachable at ``address:port``."""

    address: str
    port: int  # endpoint (target) port
    service_port_name: str
    service_port: int
    hostname: str  # the service's FQDN
    labels: dict[str, str]
    workload: Workload | None = None
    locality: str = ""
    weight: int = 1
    tls_mode: str = "istio"  # "istio" | "disabled"
    service_account: str = ""
    healthy: bool = True
    network: str = ""


@dataclass
class Proxy:
    """The proxy a translation is for: a sidecar of a workload, or a gateway (router)."""

    type: ProxyType
    workload: Workload
    #: Loopback bind mode (the local demo mesh): listeners really bind their ports on ``ip`` instead of
    #: relying on iptables capture; the diff knows and normalises it.
    loopback: bool = False
    dns_domain: str = ""  # <ns>.svc.cluster.local
    metadata: dict[str, Any] = field(default_factory=dict)

    @property
    def namespace(self) -> str:
        return self.workload.namespace

    @property
    def ip(self) -> str:
        return self.workload.ip or "127.0.0.1"

    @property
    def labels(self) -> dict[str, str]:
        return self.workload.labels

    @property
    def id(self) -> str:
        """``<pod>.<ns>`` as istiod/istioctl name proxies."""
        return f"{self.workload.name}.{self.workload.namespace}"

    @property
    def node_id(self) -> str:
        """Istio's Envoy node id: ``sidecar~<ip>~<pod>.<ns>~<ns>.svc.cluster.local``."""
        return f"{self.type.node_prefix}~{self.ip}~{self.id}~{self.dns_domain or self.namespace + '.svc.cluster.local'}"


@dataclass(frozen=True)
class ConfigRef:
    """A pointer from generated Envoy config back to the Istio config that produced it ("blame")."""

    kind: str  # VirtualService | DestinationRule | Gateway | ServiceEntry | Sidecar ...
    name: str
    namespace: str
    group: str = "networking.istio.io"
    version: str = "v1"
    file: str | None = None
    line: int | None = None

    @property
    def istio_path(self) -> str:
        """``/apis/networking.istio.io/v1/namespaces/<ns>/virtual-service/<name>`` (kind kebab-cased)."""
        return (
            f"/apis/{self.group}/{self.version}/namespaces/{self.namespace}/{_kebab(self.kind)}/{self.name}"
        )

    @property
    def short(self) -> str:
        return f"{self.name}.{self.namespace}"


@functools.lru_cache(maxsize=64)
def _kebab(kind: str) -> str:
    return "".join("-" + c.lower() if c.isupper() else c for c in kind).lstrip("-")
