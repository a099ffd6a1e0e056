"""``proxy-config listener``: one row per filter chain with its match and destination, like istioctl."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from envoy.extensions.filters.network.http_connection_manager.v3 import http_connection_manager_pb2 as hcm_pb2
from envoy.extensions.filters.network.tcp_proxy.v3 import tcp_proxy_pb2
from google.protobuf.message import DecodeError

from meshctl.envoy.dump import ConfigDump
from meshctl.envoy.views.common import Table
from meshctl.envoy.views.route import describe_match

HCM = "envoy.filters.network.http_connection_manager"
TCP_PROXY = "envoy.filters.network.tcp_proxy"

_PROTOCOL_NAMES = [
    ("App: HTTP TLS", ["http/1.0", "http/1.1", "h2c", "istio-http/1.0", "istio-http/1.1", "istio-h2"]),
    ("App: Istio HTTP Plain", ["istio", "istio-http/1.0", "istio-http/1.1", "istio-h2"]),
    ("App: TCP TLS", ["istio-peer-exchange", "istio"]),
    ("App: HTTP", ["http/1.0", "http/1.1", "h2c"]),
]


@dataclass
class ListenerFilter:
    address: str = ""
    port: int = 0
    type: str = ""

    def verify(self, lis: Any) -> bool:
        if self.address and not any(a.lower() == self.address.lower() for a in listener_addresses(lis)):
            return False
        if self.port and listener_port(lis) != self.port:
            return False
        if self.type and listener_type(lis).lower() != self.type.lower():
            return False
        return True


def _address_text(addr: Any) -> str:
    which = addr.WhichOneof("address")
    if which == "socket_address":
        return str(addr.socket_address.address)
    if which == "pipe":
        return str(addr.pipe.path)
    if which == "envoy_internal_address":
        return str(addr.envoy_internal_address.server_listener_name)
    return ""


def listener_addresses(lis: Any) -> list[str]:
    """The listener's address then its additional addresses."""
    return [_address_text(lis.address)] + [_address_text(a.address) for a in lis.additional_addresses]


def listener_port(lis: Any) -> int:
    return (
        int(lis.address.socket_address.port_value)
        if lis.address.WhichOneof("address") == "socket_address"
        else 0
    )


def filter_chains(lis: Any) -> list[Any]:
    chains = list(lis.filter_chains)
    if lis.HasField("default_filter_chain"):
        chains.append(lis.default_filter_chain)
    return chains


def _is_blackhole_tcp(f: Any) -> bool:
    return b"BlackHoleCluster" in f.typed_config.value


def listener_type(lis: Any) -> str:
    """HTTP | TCP | HTTP+TCP | UNKNOWN, counting HTTP connection managers and non-blackhole TCP proxies."""
    n_http = n_tcp = 0
    for fc in filter_chains(lis):
        for f in fc.filters:
            if f.name == HCM:
                n_http += 1
            elif f.name == TCP_PROXY and not _is_blackhole_tcp(f):
                n_tcp += 1
    if n_http:
        return "HTTP" if n_tcp == 0 else "HTTP+TCP"
    return "TCP" if n_tcp else "UNKNOWN"


def describe_chain_match(fc: Any) -> str:
    """The MATCH column for one filter chain."""
    m = fc.filter_chain_match
    descrs = []
    if m.server_names:
        descrs.append("SNI: " + ",".join(m.server_names))
    if m.transport_protocol:
        descrs.append(f"Trans: {m.transport_protocol}")
    if m.application_protocols:
        protos = list(m.application_protocols)
        descrs.append(
            next((label for label, known in _PROTOCOL_NAMES if known == protos), "App: " + ",".join(protos))
        )
    port = f":{m.destination_port.value}" if m.HasField("destination_port") else ""
    if m.prefix_ranges:
        descrs.append(
            "Addr: " + ",".join(f"{p.address_prefix}/{p.prefix_len.value}" for p in m.prefix_ranges) + port
        )
    elif port:
        descrs.append(f"Addr: *{port}")
    return "; ".join(descrs) or "ALL"


def hcm_of(f: Any) -> Any:
    """The HttpConnectionManager inside a filter (whatever its type URL version), or None."""
    try:
        return hcm_pb2.HttpConnectionManager.FromString(f.typed_config.value)
    except DecodeError:
        return None


def tcp_proxy_of(f: Any) -> Any:
    try:
        return tcp_proxy_pb2.TcpProxy.FromString(f.typed_config.value)
    except DecodeError:
        return None


def _match_all_cluster(rc: Any) -> str:
    if len(rc.virtual_hosts) != 1:
        return ""
    vh = rc.virtual_hosts[0]
    if list(vh.domains) != ["*"] or len(vh.routes) != 1:
        return ""
    r = vh.routes[0]
    if r.match.WhichOneof("path_specifier") != "prefix" or r.match.prefix != "/":
        return ""
    if r.WhichOneof("action") != "route" or r.route.WhichOneof("cluster_specifier") != "cluster":
        return ""
    c = r.route.cluster
    return c if "Cluster" in c else f"Cluster: {c}"


def describe_route_config(rc: Any) -> str:
    """An inline route configuration, in one cell."""
    c = _match_all_cluster(rc)
    if c:
        return c
    vhosts = []
    for vh in rc.virtual_hosts:
        routes = ", ".join(describe_match(r.match) for r in vh.routes)
        domains = "" if list(vh.domains) == ["*"] else "/".join(vh.domains)
        vhosts.append(routes if not domains else f"{domains} {routes}")
    return "Inline Route: " + "; ".join(vhosts)


def describe_destination(filters: Any) -> str:
    """The DESTINATION column: the route/cluster the chain's terminal filter sends traffic to."""
    for f in filters:
        if f.name == HCM:
            hcm = hcm_of(f)
            if hcm is None:
                return "unparsable HttpConnectionManager"
            if hcm.HasField("route_config"):
                return describe_route_config(hcm.route_config)
            if hcm.HasField("rds") and hcm.rds.route_config_name:
                return f"Route: {hcm.rds.route_config_name}"
            return "HTTP"
        if f.name == TCP_PROXY and not _is_blackhole_tcp(f):
            tp = tcp_proxy_of(f)
            if tp is None:
                return "unparsable TcpProxy"
            c = tp.cluster if tp.WhichOneof("cluster_specifier") == "cluster" else ""
            return c if "Cluster" in c else f"Cluster: {c}"
    return "Non-HTTP/Non-TCP"


def listeners(dump: ConfigDump, flt: ListenerFilter | None = None) -> list[Any]:
    """Active dynamic then static listeners, filtered, ordered by (port, address, type)."""
    dump.require("listener")
    flt = flt or ListenerFilter()
    msgs = [m for _, m in dump.messages("listener", ("active",))] + [
        m for _, m in dump.messages("listener", ("static",))
    ]
    msgs = [m for m in msgs if flt.verify(m)]
    return sorted(msgs, key=lambda m: (listener_port(m), listener_addresses(m)[0], listener_type(m)))


def table(
    dump: ConfigDump, flt: ListenerFilter | None = None, *, verbose: bool = True, with_name: bool = False
) -> Table:
    rows: list[list[Any]] = []
    for lis in listeners(dump, flt):
        addr = ",".join(listener_addresses(lis))
        port = listener_port(lis)
        name = [f"listener/{lis.name}"] if with_name else []
        if verbose:
            chains = [
                (describe_chain_match(fc), describe_destination(fc.filters)) for fc in filter_chains(lis)
            ]
            chains.sort(key=lambda c: c[1], reverse=True)
            for match, dest in chains:
                rows.append([*name, addr, port, match, dest])
        else:
            rows.append([*name, addr, port, listener_type(lis)])
    headers = ["ADDRESSES", "PORT", "MATCH", "DESTINATION"] if verbose else ["ADDRESSES", "PORT", "TYPE"]
    if with_name:
        headers = ["NAME", *headers]
    return Table(headers, rows, 0, 8, 1)
