"""Port protocol as Istio derives it: explicit protocols, Kubernetes appProtocol, port-name prefixes.

Source: ``pkg/config/protocol/instance.go`` (Parse) and ``pkg/config/kube/conversion.go`` (ConvertProtocol).
"""

from __future__ import annotations

from meshctl.model.types import Protocol

_NAMES: dict[str, Protocol] = {
    "tcp": Protocol.TCP,
    "udp": Protocol.UDP,
    "grpc": Protocol.GRPC,
    "grpc-web": Protocol.GRPC_WEB,
    "http": Protocol.HTTP,
    "http_proxy": Protocol.HTTP_PROXY,
    "http2": Protocol.HTTP2,
    "https": Protocol.HTTPS,
    "tls": Protocol.TLS,
    "mongo": Protocol.MONGO,
    "redis": Protocol.REDIS,
    "mysql": Protocol.MYSQL,
}

#: Ports Istio treats as TCP when their name gives no protocol (SMTP, DNS, MySQL, MongoDB).
WELL_KNOWN_TCP_PORTS = frozenset({25, 53, 3306, 27017})


def parse_protocol(name: str | None) -> Protocol:
    """``protocol.Parse``: case-insensitive protocol name, UNSUPPORTED (sniffed) when unknown or empty."""
    if not name:
        return Protocol.UNSUPPORTED
    return _NAMES.get(name.lower(), Protocol.UNSUPPORTED)


def kube_port_protocol(
    port: int, name: str | None, proto: str | None = "TCP", app_protocol: str | None = None
) -> Protocol:
    """``ConvertProtocol`` for a Kubernetes Service/container port."""
    if (proto or "TCP").upper() == "UDP":
        return Protocol.UDP
    n = name or ""
    if app_protocol:
        n = app_protocol
        special = {
            "kubernetes.io/h2c": Protocol.HTTP2,
            "kubernetes.io/ws": Protocol.HTTP,
            "kubernetes.io/wss": Protocol.HTTPS,
        }
        if n in special:
            return special[n]
    if n[:8].lower() == "grpc-web":
        return Protocol.GRPC_WEB
    prefix = n.split("-", 1)[0]
    p = parse_protocol(prefix)
    if p is Protocol.UNSUPPORTED and port in WELL_KNOWN_TCP_PORTS:
        return Protocol.TCP
    return p
