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
        """``IsPassThroughServer``: TLS mode PASSTHROUGH or AUTO_PASSTHROUGH."""
        return self.tls_mode in PASSTHROUGH_MODES

    @property
    def is_http_server(self) -> bool:
        """``IsHTTPServer``: an HTTP protocol, or HTTPS terminated here."""
        p = self.protocol
        return p.is_http or (p is Protocol.HTTPS and self.server.tls is not None and not self.is_passthrough)

    @property
    def is_tls_server(self) -> bool:
        """``IsTLSServer``: TLS settings on a non-HTTP protocol (termination or passthrough)."""
        return self.server.tls is not None and not self.protocol.is_http

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
        p = self.protocol
        if p.is_http:
            return f"http.{self.target_port}{bind}"
        if p is Protocol.HTTPS and not self.is_passthrough:
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
    def sni_hosts(self) -> list[str]:
        """``GetSNIHostsForServer``: hosts without their ``ns/`` part, sorted, unique."""
        return sorted({name for _, name in self.hosts})

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


#: Services with this label keep Gateway server ports as written (no translation to targetPort).
DISABLE_PORT_TRANSLATION_LABEL = "experimental.istio.io/disable-gateway-port-translation"


def resolve_target_ports(number: int, workload: Workload, services: list[Service]) -> list[int]:
    """``resolvePorts`` (legacy selector): the targetPort of the first Service port == ``number`` among the
    Services selecting the gateway workload, else ``number`` as is."""
    for s in services:
        if s.registry != "Kubernetes" or s.namespace != workload.namespace or not s.selector:
            continue
        if DISABLE_PORT_TRANSLATION_LABEL in s.labels or not labels_match(s.selector, workload.labels):
            continue
        for p in s.ports:
            if p.port != number:
                continue
            tp = p.target_port
            if isinstance(tp, str):
                tp = workload.ports.get(tp)
            if isinstance(tp, int):
                return [tp]
    return [number]


def _can_merge(new: Protocol, existing: Protocol) -> bool:
    """``canMergeProtocols``: only HTTP servers merge into an existing HTTP server's port."""
    return (new.is_http or new is existing) and existing.is_http


def merge_gateways(
    workload: Workload, gateways: list[Config[Gateway]], services: list[Service]
) -> MergedGateway:
    """``mergeGateways`` for one gateway workload (servers accepted in creation order, conflicts rejected)."""
    mg = MergedGateway(gateways=gateways_for(workload, gateways))
    gateway_ports: set[int] = set()
    plaintext: dict[int, GatewayServer] = {}
    non_plaintext_binds: dict[int, set[str]] = {}
    tls_hosts: dict[int, dict[str, str]] = {}
    route_names: set[str] = set()
    for g in mg.gateways:
        for i, server in enumerate(g.spec.servers):
            for tp in resolve_target_ports(server.port.number, workload, services):
                gs = GatewayServer(gateway=g, server=server, index=i, target_port=tp)
                reason = _merge_one(
                    gs, tp, gateway_ports, plaintext, non_plaintext_binds, tls_hosts, route_names
                )
                if reason:
                    mg.rejected.append((gs, reason))
                else:
                    mg.servers.append(gs)
    return mg


def _merge_one(
    gs: GatewayServer,
    tp: int,
    gateway_ports: set[int],
    plaintext: dict[int, GatewayServer],
    non_plaintext_binds: dict[int, set[str]],
    tls_hosts: dict[int, dict[str, str]],
    route_names: set[str],
) -> str | None:
    """Accept ``gs`` (None) or say why it is rejected, updating the merge state like Istio does."""
    route = gs.route_name or ""
    if gs.server.tls is not None:
        known = tls_hosts.setdefault(tp, {})
        dup = [h for h in gs.server.hosts if known.get(h) == gs.bind]
        if dup:
            return f"duplicate host {dup[0]} on port {tp}"
        for h in gs.server.hosts:
            known[h] = gs.bind
    if tp in gateway_ports:
        current = plaintext.get(tp)
        if current is not None:
            if not _can_merge(gs.protocol, current.protocol) and current.bind == gs.bind:
                return (
                    f"conflicts with {current.server.port.protocol} server {current.server.port.name or ''} "
                    f"on port {tp} ({current.gateway.key})"
                )
            if not route and current.bind == gs.bind:
                return f"a server already listens on port {tp} ({current.gateway.key}) and this one has no route name"
            if route:
                route_names.add(route)
            return None
        if gs.is_http_server:
            if not route:
                return f"no route name for HTTPS server on port {tp}"
            if route in route_names:
                return f"port name {gs.server.port.name!r} is not unique for HTTPS port {tp}"
            route_names.add(route)
        binds = non_plaintext_binds.get(tp)
        if binds is None:
            non_plaintext_binds[tp] = {gs.bind}
            new_bind = True
        else:
            new_bind = gs.bind not in binds
            binds.add(gs.bind)
        if gs.server.tls is None and not new_bind:
            return f"TLS server without TLS options on port {tp}"
        return None
    gateway_ports.add(tp)
    if not gs.is_tls_server:
        plaintext[tp] = gs
    if gs.is_http_server:
        route_names.add(route)
    return None
