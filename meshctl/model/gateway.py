"""Gateway selection and server merge for a gateway (router) proxy.

``pilot/pkg/model/gateway.go`` (``MergeGateways``, ``resolvePorts``, ``gatewayRDSRouteName``):
* every Gateway whose ``selector`` labels the proxy carries applies (any namespace), in creation order;
* each server port is translated to the gateway Service's targetPort (first Service selecting the proxy
  with that port); if none, the port is used as is;
* per listener (bind, target port): plaintext HTTP servers share one route config ``http.<targetPort>``;
  TLS servers become separate filter chains (``https.<port>.<portName>.<gw>.<ns>`` when terminated);
  a server whose kind conflicts with the first one on that port (HTTP vs TCP/TLS, a second plain TCP
  server, a duplicate SNI host) is rejected and reported.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from meshctl.model.api import Gateway, Server
from meshctl.model.config import Config
from meshctl.model.hosts import labels_match
from meshctl.model.protocol import parse_protocol
from meshctl.model.types import Protocol, Service, Workload

PASSTHROUGH_MODES = ("PASSTHROUGH", "AUTO_PASSTHROUGH")


@dataclass(eq=False)
class GatewayServer:
    gateway: Config[Gateway]
    server: Server
    index: int  # position in gateway.spec.servers (for blame: spec.servers[i])
    target_port: int  # listener port on the gateway pod

    @property
    def port(self) -> int:
        return self.server.port.number

    @property
    def protocol(self) -> Protocol:
        return parse_protocol(self.server.port.protocol)

    @property
    def tls_mode(self) -> str | None:
        return self.server.tls.mode if self.server.tls is not None else None

    @property
    def is_passthrough(self) -> bool:
        return self.tls_mode in PASSTHROUGH_MODES

    @property
    def bind(self) -> str:
        return self.server.bind or ""

    @property
    def kind(self) -> str:
        """``http`` (plaintext HCM), ``https`` (TLS-terminated HCM), ``tls`` (TLS passthrough/terminated TCP), ``tcp``."""
        p = self.protocol
        if p.is_http:
            return "http"
        if p is Protocol.HTTPS and not self.is_passthrough and self.server.tls is not None:
            return "https"
        if p.is_tls:
            return "tls"
        return "tcp"

    @property
    def route_name(self) -> str | None:
        """RDS name (``gatewayRDSRouteName``), None for TCP/passthrough servers."""
        bind = f".{self.server.bind}" if self.server.bind else ""
        if self.kind == "http":
            return f"http.{self.target_port}{bind}"
        if self.kind == "https":
            return f"https.{self.port}.{self.server.port.name or ''}.{self.gateway.name}.{self.gateway.namespace}{bind}"
        return None

    @property
    def hosts(self) -> list[tuple[str, str]]:
        """Server hosts as (namespace or ``*``, host)."""
        out = []
        for h in self.server.hosts:
            ns, sep, name = h.partition("/")
            if not sep:
                ns, name = "*", h
            elif ns == ".":
                ns = self.gateway.namespace
            out.append((ns, name))
        return out

    @property
    def path(self) -> str:
        return f"spec.servers[{self.index}]"


@dataclass(eq=False)
class MergedGateway:
    gateways: list[Config[Gateway]] = field(default_factory=list)
    servers: list[GatewayServer] = field(default_factory=list)
    rejected: list[tuple[GatewayServer, str]] = field(default_factory=list)

    @property
    def names(self) -> set[str]:
        """``ns/name`` of every gateway bound to the proxy (what VS ``gateways`` entries refer to)."""
        return {g.key for g in self.gateways}

    def listeners(self) -> dict[tuple[str, int], list[GatewayServer]]:
        """Accepted servers grouped by listener (bind, target port), in order."""
        out: dict[tuple[str, int], list[GatewayServer]] = {}
        for s in self.servers:
            out.setdefault((s.bind, s.target_port), []).append(s)
        return out


def gateways_for(workload: Workload, gateways: list[Config[Gateway]]) -> list[Config[Gateway]]:
    return [g for g in gateways if g.spec.selector and labels_match(g.spec.selector, workload.labels)]


def resolve_target_ports(number: int, workload: Workload, services: list[Service]) -> list[int]:
    out: list[int] = []
    for s in services:
        if s.registry != "Kubernetes" or s.namespace != workload.namespace or not s.selector:
            continue
        if not labels_match(s.selector, workload.labels):
            continue
        for p in s.ports:
            if p.port != number:
                continue
            tp = p.target_port
            if isinstance(tp, str):
                tp = workload.ports.get(tp)
            if isinstance(tp, int) and tp not in out:
                out.append(tp)
        if out:
            return out[:1]
    return out or [number]


def merge_gateways(workload: Workload, gateways: list[Config[Gateway]], services: list[Service]) -> MergedGateway:
    mg = MergedGateway(gateways=gateways_for(workload, gateways))
    sni_by_listener: dict[tuple[str, int], set[str]] = {}
    for g in mg.gateways:
        for i, server in enumerate(g.spec.servers):
            for tp in resolve_target_ports(server.port.number, workload, services):
                gs = GatewayServer(gateway=g, server=server, index=i, target_port=tp)
                key = (gs.bind, tp)
                existing = [s for s in mg.servers if (s.bind, s.target_port) == key]
                reason = None
                if existing:
                    first = existing[0].kind
                    if (first == "http") != (gs.kind == "http"):
                        reason = f"conflicts with {first} server on port {tp} ({existing[0].gateway.key})"
                    elif gs.kind == "tcp" or first == "tcp":
                        reason = f"a TCP server already listens on port {tp} ({existing[0].gateway.key})"
                if reason is None and gs.kind in ("https", "tls"):
                    seen = sni_by_listener.setdefault(key, set())
                    dup = [h for _, h in gs.hosts if h in seen]
                    if dup:
                        reason = f"duplicate host {dup[0]} on port {tp}"
                    else:
                        seen.update(h for _, h in gs.hosts)
                if reason:
                    mg.rejected.append((gs, reason))
                else:
                    mg.servers.append(gs)
    return mg
