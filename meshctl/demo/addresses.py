"""Where the demo's apps must listen and dial, read from the translated config rather than assumed.

In loopback bind mode the translator decides the addresses: the inbound cluster (``inbound|<port>||``, STATIC)
says where the sidecar forwards to the app, the bound OUTBOUND listeners say where the app reaches the mesh,
and the gateway's bound listeners say where the ingress is. Reading them here keeps the demo in step with the
translator instead of duplicating its rules.
"""

from __future__ import annotations

from typing import Any

from envoy.config.core.v3 import base_pb2

OUTBOUND = base_pb2.TrafficDirection.OUTBOUND


def _sock(addr: Any) -> tuple[str, int] | None:
    if addr is None or not addr.HasField("socket_address"):
        return None
    sa = addr.socket_address
    return str(sa.address), int(sa.port_value)


def inbound_app_address(proxy_config: Any, target_port: int) -> tuple[str, int] | None:
    """The address the sidecar forwards inbound ``target_port`` traffic to (the app), if the config says."""
    name = f"inbound|{target_port}||"
    for c in proxy_config.clusters:
        if c.name != name or not c.HasField("load_assignment"):
            continue
        for lle in c.load_assignment.endpoints:
            for lb in lle.lb_endpoints:
                found = _sock(lb.endpoint.address)
                if found:
                    return found
    return None


def outbound_listener_address(proxy_config: Any, ip: str, port: int) -> tuple[str, int] | None:
    """The bound outbound listener an app on ``ip`` dials for service port ``port`` (own IP first, then wildcard)."""
    candidates: list[tuple[str, int]] = []
    for lst in proxy_config.listeners:
        if lst.traffic_direction != OUTBOUND:
            continue
        found = _sock(lst.address)
        if found and found[1] == port:
            candidates.append(found)
    for want in (ip, "0.0.0.0"):
        for found in candidates:
            if found[0] == want:
                return (ip, port) if want == "0.0.0.0" else found
    return None


def gateway_http_address(proxy_config: Any, ip: str, port: int | None = None) -> tuple[str, int] | None:
    """The gateway's plaintext HTTP listener (``port`` if given, else the lowest bound port with an RDS route)."""
    found: list[tuple[str, int]] = []
    for lst in proxy_config.listeners:
        addr = _sock(lst.address)
        if not addr or (port is not None and addr[1] != port):
            continue
        uses_tls = any(fc.HasField("transport_socket") for fc in lst.filter_chains)
        if not uses_tls:
            found.append(addr)
    if not found:
        return None
    host, p = sorted(found, key=lambda a: a[1])[0]
    return (ip if host in ("0.0.0.0", "::") else host), p


def bound_ports(proxy_config: Any, ip: str) -> set[int]:
    """Ports the proxy's listeners bind on ``ip`` (main and additional addresses; ``bind_to_port: false`` skipped)."""
    out: set[int] = set()
    for lst in proxy_config.listeners:
        if lst.HasField("bind_to_port") and not lst.bind_to_port.value:
            continue
        for addr in [lst.address, *(a.address for a in lst.additional_addresses)]:
            found = _sock(addr)
            if found and found[0] in (ip, "0.0.0.0"):
                out.add(found[1])
    return out
