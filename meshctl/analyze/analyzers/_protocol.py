"""Istio's port protocol rules (``pkg/config/kube.ConvertProtocol``): name prefix or appProtocol -> protocol."""

from __future__ import annotations

from typing import Any

KNOWN = {
    "tcp": "TCP", "udp": "UDP", "grpc": "GRPC", "grpc-web": "GRPC-Web", "http": "HTTP", "http_proxy": "HTTP_PROXY",
    "http2": "HTTP2", "https": "HTTPS", "tls": "TLS", "mongo": "Mongo", "redis": "Redis", "mysql": "MySQL",
}
APP_PROTOCOLS = {"kubernetes.io/h2c": "HTTP2", "kubernetes.io/ws": "HTTP", "kubernetes.io/wss": "HTTPS"}


def parse(name: str) -> str:
    return KNOWN.get(name.lower(), "UnsupportedProtocol")


def convert_protocol(port: Any, name: str | None, protocol: str | None, app_protocol: str | None) -> str:
    """The protocol Istio derives for a Kubernetes Service port ("UnsupportedProtocol" when it sniffs)."""
    proto = str(protocol or "TCP").upper()
    if proto == "UDP":
        return "UDP"
    if proto == "SCTP":
        return "SCTP"
    if app_protocol:
        app_protocol = str(app_protocol)
        p = APP_PROTOCOLS.get(app_protocol) or parse(app_protocol)
        if p != "UnsupportedProtocol":
            return p
    name = str(name or "")
    if name.lower().startswith("grpc-web"):
        return "GRPC-Web"
    prefix = name.split("-", 1)[0]
    return parse(prefix)
