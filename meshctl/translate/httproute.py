"""Sidecar RDS (Istio ``httproute.go``): route configurations ``"<port>"`` shared by all HTTP services on a
wildcard listener port, ``"<fqdn>:<port>"`` for sniffed ports on a VIP listener, and the inbound route.

Per listener port: one vhost per (VS host | service) named ``<host>:<port>``; the first VS (creation order)
claiming a host wins; services without a VS get the ``default`` route; vhosts are sorted by name and the
catch-all ``allow_any`` / ``block_all`` vhost goes last. Spec: istio-translation.md §1.3-§1.5, §3.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from envoy.config.route.v3 import route_components_pb2 as rc
from envoy.config.route.v3 import route_pb2

from meshctl.model.hosts import host_matches, is_wildcard
from meshctl.model.types import Proxy, Resolution, Service
from meshctl.translate.filters import INBOUND_PASSTHROUGH, PASSTHROUGH
from meshctl.translate.protoutil import seconds, u32
from meshctl.translate.route import (
    RouteContext,
    VSInfo,
    default_route,
    set_timeout,
    translate_virtual_service,
)
from meshctl.translate.util import inbound_cluster_name, outbound_cluster_name

MAX_DIRECT_RESPONSE_BODY = 1048576


@dataclass
class SidecarView:
    """What the sidecar route/listener builders need from the model for one proxy.

    ``services`` are the services visible to the proxy (SidecarScope); ``virtual_services`` the visible VSs
    bound to ``mesh`` in Istio precedence order; ``hash_policy(host, port)`` is the DR consistent-hash route
    policy; ``registry_only`` the effective outbound traffic policy.
    """

    proxy: Proxy
    services: list[Service]
    virtual_services: list[VSInfo]
    hash_policy: Callable[[str, int], rc.RouteAction.HashPolicy | None] = lambda h, p: None
    #: DR ``connectionPool.tcp`` (TCPSettings) for a destination, for tcp_proxy idle/max-duration
    tcp_settings: Callable[[str, int], Any] = lambda h, p: None
    registry_only: bool = False
    #: endpoint IPs of a (headless) service port: Istio gives those one outbound listener each
    instances: Callable[[Service, int], list[str]] = lambda s, p: []
    #: Sidecar ``outboundTrafficPolicy.egressProxy`` as a cluster name (unknown traffic goes there)
    egress_cluster: str | None = None
    mesh_default_retry: Any = None
    domain_suffix: str = "cluster.local"
    extra: dict[str, Any] = field(default_factory=dict)

    def service_ports(self, host: str) -> list[int] | None:
        svc = self._by_host().get(host)
        return [p.port for p in svc.ports] if svc else None

    def _by_host(self) -> dict[str, Service]:
        cache = self.extra.get("_by_host")
        if cache is None:
            cache = {}
            for s in self.services:
                cache.setdefault(s.hostname, s)
            self.extra["_by_host"] = cache
        return cache

    def aliases(self) -> tuple[dict[str, str], dict[str, list[str]]]:
        """(alias hostname -> target, target -> alias hostnames) for ExternalName services (Istio aliases)."""
        cache = self.extra.get("_aliases")
        if cache is None:
            of: dict[str, str] = {}
            by_target: dict[str, list[str]] = {}
            for s in self.services:
                if s.resolution is Resolution.ALIAS and s.external_name:
                    of[s.hostname] = s.external_name
                    by_target.setdefault(s.external_name, []).append(s.hostname)
            cache = (of, by_target)
            self.extra["_aliases"] = cache
        return cache

    def route_context(self, port: int) -> RouteContext:
        alias_map = self.aliases()[0]
        return RouteContext(
            alias_of=alias_map.get,
            listener_port=port,
            service_ports=self.service_ports,
            hash_policy=self.hash_policy,
            proxy_labels=self.proxy.labels,
            proxy_namespace=self.proxy.namespace,
            gateways=frozenset({"mesh"}),
            domain_suffix=self.domain_suffix,
            mesh_default_retry=self.mesh_default_retry,
        )


def new_route_configuration(name: str) -> route_pb2.RouteConfiguration:
    """A route configuration with the fields Istio always sets (§1.3)."""
    r = route_pb2.RouteConfiguration(name=name)
    r.validate_clusters.value = False
    r.max_direct_response_body_size_bytes.CopyFrom(u32(MAX_DIRECT_RESPONSE_BODY))
    r.ignore_port_in_host_matching = True
    return r


def alt_hosts(hostname: str, proxy_domain: str) -> list[str]:
    """Istio ``GenerateAltVirtualHosts`` for Kubernetes names: short forms relative to the proxy's namespace."""
    ih = hostname.find(".svc.")
    id_ = proxy_domain.find(".svc.")
    if ih <= 0 or id_ <= 0 or not hostname.endswith(proxy_domain[id_:]):
        return []
    ns_dot = hostname.find(".")
    if ns_dot + 1 > ih:
        return []
    if hostname[ns_dot + 1 : ih] == proxy_domain[:id_]:
        return [hostname[:ns_dot], hostname[:ih] + ".svc", hostname[:ih]]
    return [hostname[:ih] + ".svc", hostname[:ih]]


def service_domains(svc: Service, proxy: Proxy, aliases: list[str] = ()) -> tuple[list[str], list[str]]:  # type: ignore[assignment]
    """(domains, expanded short forms) of a service vhost (Istio ``generateVirtualHostDomains``): FQDN,
    ``FQDN.``, the short forms relative to the proxy's namespace, ``*.``-variants for headless Kubernetes
    services, then the VIPs. No port variants: the route configuration ignores ports in host matching."""
    domain = proxy.dns_domain or f"{proxy.namespace}.svc.cluster.local"
    out: list[str] = []
    alts: list[str] = []
    for name in [svc.hostname, *aliases]:  # ExternalName aliases share the target's vhost
        a = alt_hosts(name, domain)
        out.append(name)
        if not is_wildcard(name):
            out.append(name + ".")
        out.extend(a)
        alts.extend(a)
    if svc.headless and svc.registry == "Kubernetes":
        out.extend(["*." + d for d in out])
    for vip in svc.addresses:
        if "/" not in vip and vip not in ("0.0.0.0", "None"):
            out.append(vip)
    return out, alts


def _http_like(svc: Service, port: int) -> bool:
    sp = svc.port_by_number(port)
    return sp is not None and (sp.protocol.is_http or sp.protocol.is_unsupported)


@dataclass
class VHost:
    """A virtual host before it is written into its route configuration (built in place, once, in sorted
    order: copying thousands of vhost messages is what would dominate RDS generation)."""

    name: str
    domains: list[str]
    routes: list[rc.Route]

    def into(self, rcfg: route_pb2.RouteConfiguration) -> rc.VirtualHost:
        vh = rcfg.virtual_hosts.add(name=self.name, domains=self.domains, include_request_attempt_count=True)
        vh.routes.extend(self.routes)
        return vh


def _vhost(
    name: str,
    domains: list[str],
    routes: list[rc.Route],
    seen: set[str],
    expanded: list[str] = (),  # type: ignore[assignment]
    known_fqdns: set[str] = frozenset(),  # type: ignore[assignment]
) -> VHost | None:
    """A vhost with Istio's ``dedupeDomains``: domains already used (case-insensitively) are dropped, and so
    is a short form that is itself the FQDN of a known service (``foo.com`` vs ``foo.com.<ns>...``)."""
    doms = []
    for d in domains:
        low = d.lower()
        if low in seen or (d in expanded and d in known_fqdns):
            continue
        seen.add(low)
        doms.append(d)
    if not doms:
        return None
    return VHost(name, doms, routes)


def most_specific_wildcard_vs(vss: list[VSInfo], registry: dict[str, Service]) -> dict[str, int]:
    """Istio ``MostSpecificWildcardVirtualServiceIndex``: per service, the VS whose wildcard host covering
    it is the most specific (longest; the older VS on a tie). Only such a VS attaches to the service."""
    best: dict[str, tuple[int, int]] = {}  # hostname -> (specificity, -index)
    out: dict[str, int] = {}
    for i, vs in enumerate(vss):
        for h in vs.spec.hosts:
            if not is_wildcard(h):
                continue
            for name in registry:
                if host_matches(name, h):
                    key = (len(h), -i)
                    if name not in best or key > best[name]:
                        best[name] = key
                        out[name] = i
    return out


def _separate(
    vs: VSInfo, registry: dict[str, Service], index: int = 0, wildcard_owner: dict[str, int] | None = None
) -> tuple[list[str], list[Service]]:
    """Istio ``separateVSHostsAndServices``: VS hosts that are registry services vs plain hosts; a wildcard
    host only takes the services for which this VS is the most specific wildcard match."""
    hosts: list[str] = []
    svcs: list[Service] = []
    for h in vs.spec.hosts:
        if not is_wildcard(h):
            if h in registry:
                svcs.append(registry[h])
            else:
                hosts.append(h)
            continue
        matched = [s for name, s in registry.items() if host_matches(name, h)]
        if matched:
            svcs.extend(
                s for s in matched if wildcard_owner is None or wildcard_owner.get(s.hostname, index) == index
            )
        else:
            hosts.append(h)
    return hosts, svcs


def outbound_virtual_hosts(view: SidecarView, port: int, services: list[Service]) -> list[VHost]:
    """The vhosts (unsorted, deduplicated) for listener ``port``; ``services`` are the visible services that
    have ``port`` (any protocol), Istio's port-filtered ``servicesByName``."""
    # ExternalName (alias) services have no vhost of their own: their names are domains of the target's
    alias_targets = view.aliases()[1]
    services = [s for s in services if s.resolution is not Resolution.ALIAS]
    registry = {s.hostname: s for s in services}
    ctx = view.route_context(port)
    # On a sidecar a destination without a port always lands on the listener port (the registry seen by
    # the route builder only holds the services' ``port`` entry).
    ctx.service_ports = lambda host: [port] if host in registry else None
    vss = view.virtual_services
    if port != 80:  # Istio's "port 80 hack": otherwise only VSs that match a service on this port
        wild_services = [h for h in registry if is_wildcard(h)]

        def selects(vs: VSInfo) -> bool:
            for h in vs.spec.hosts:
                if h in registry or any(host_matches(h, w) for w in wild_services):
                    return True
                if is_wildcard(h) and any(host_matches(h, s) for s in registry):
                    return True
            return False

        vss = [vs for vs in vss if selects(vs)]
    vs_index = {id(vs): i for i, vs in enumerate(vss)}
    wildcard_owner = (
        most_specific_wildcard_vs(vss, registry)
        if any(is_wildcard(h) for vs in vss for h in vs.spec.hosts)
        else {}
    )
    claimed: set[str] = set()
    names: set[str] = set()
    seen_domains: set[str] = set()
    known_fqdns = {h for h in registry} | {f"{h}:{port}" for h in registry}
    out: list[VHost] = []
    for vs in vss:
        hosts, in_vs = _separate(vs, registry, vs_index[id(vs)], wildcard_owner)
        http_svcs = [s for s in in_vs if _http_like(s, port)]
        if not http_svcs and not (port == 80 and not in_vs):
            continue
        routes = translate_virtual_service(vs, ctx)
        if not routes:
            continue
        for h in hosts:
            name = f"{h}:{port}"
            if name in names:
                continue
            vh = _vhost(name, [h], routes, seen_domains)
            if vh is not None:
                names.add(name)
                out.append(vh)
        for s in http_svcs:
            name = f"{s.hostname}:{port}"
            claimed.add(s.hostname)
            if name in names:
                continue
            domains, alts = service_domains(s, view.proxy, alias_targets.get(s.hostname, []))
            vh = _vhost(name, domains, routes, seen_domains, alts, known_fqdns)
            if vh is not None:
                names.add(name)
                out.append(vh)
    for s in services:
        if s.hostname in claimed or not _http_like(s, port):
            continue
        name = f"{s.hostname}:{port}"
        if name in names:
            continue
        cluster = outbound_cluster_name(port, None, s.hostname)
        r = default_route(
            cluster, f"{s.hostname}:{port}", view.hash_policy(s.hostname, port), view.mesh_default_retry
        )
        domains, alts = service_domains(s, view.proxy, alias_targets.get(s.hostname, []))
        vh = _vhost(name, domains, [r], seen_domains, alts, known_fqdns)
        if vh is not None:
            names.add(name)
            out.append(vh)
    return out


def catch_all_vhost(registry_only: bool, egress_cluster: str | None = None) -> rc.VirtualHost:
    """``allow_any`` (-> PassthroughCluster) or ``block_all`` (502), always the last vhost on sidecars."""
    name = "block_all" if registry_only else "allow_any"
    vh = rc.VirtualHost(name=name, domains=["*"], include_request_attempt_count=True)
    r = vh.routes.add(name=name)
    r.match.prefix = "/"
    if registry_only:
        r.direct_response.status = 502
    else:
        r.route.cluster = egress_cluster or PASSTHROUGH
        set_timeout(r.route, None)
    return vh


def sidecar_route_config(view: SidecarView, port: int) -> route_pb2.RouteConfiguration:
    """Route configuration ``"<port>"``: every visible HTTP/sniffed service on that port."""
    services = [s for s in view.services if s.port_by_number(port) is not None]
    vhosts = outbound_virtual_hosts(view, port, services)
    vhosts.sort(key=lambda v: v.name)
    rcfg = new_route_configuration(str(port))
    for vh in vhosts:
        vh.into(rcfg)
    rcfg.virtual_hosts.append(catch_all_vhost(view.registry_only, view.egress_cluster))
    return rcfg


def sniffed_route_config(view: SidecarView, svc: Service, port: int) -> route_pb2.RouteConfiguration:
    """Route configuration ``"<fqdn>:<port>"`` for a sniffed port on a VIP listener: one vhost, domains ``*``."""
    rcfg = new_route_configuration(f"{svc.hostname}:{port}")
    vhosts = outbound_virtual_hosts(view, port, [svc])
    for vh in vhosts:
        if vh.name == f"{svc.hostname}:{port}":
            vh.domains = ["*"]
            vh.into(rcfg)
            break
    return rcfg


def _inbound_route(
    config_name: str, vhost: str, cluster: str, operation: str
) -> route_pb2.RouteConfiguration:
    """A one-vhost, one-route inline inbound configuration (no timeout, no gRPC timeout cap)."""
    rcfg = route_pb2.RouteConfiguration(name=config_name)
    rcfg.validate_clusters.value = False
    vh = rcfg.virtual_hosts.add(name=vhost, domains=["*"])
    r = vh.routes.add(name="default")
    r.match.prefix = "/"
    r.route.cluster = cluster
    r.route.timeout.CopyFrom(seconds(0))
    r.route.max_stream_duration.max_stream_duration.CopyFrom(seconds(0))
    r.route.max_stream_duration.grpc_timeout_header_max.CopyFrom(seconds(0))
    r.decorator.operation = operation
    return rcfg


def inbound_route_config(
    target_port: int, service_host: str | None, grpc: bool = False, service_port: int | None = None
) -> route_pb2.RouteConfiguration:
    """The inline route of an inbound HCM (Istio ``buildSidecarInboundHTTPRouteConfig``): named after the
    cluster ``inbound|<targetPort>||``, vhost ``inbound|http|<servicePort>``, decorator ``<host>:<servicePort>/*``;
    retries ``reset-before-request`` twice except on gRPC ports."""
    cluster = inbound_cluster_name(target_port)
    port = service_port or target_port
    rcfg = _inbound_route(cluster, f"inbound|http|{port}", cluster, f"{service_host or ''}:{port}/*")
    if not grpc:
        policy = rcfg.virtual_hosts[0].routes[0].route.retry_policy
        policy.retry_on = "reset-before-request"
        policy.num_retries.value = 2
    return rcfg


def inbound_passthrough_route_config() -> route_pb2.RouteConfiguration:
    """Route of the ``virtualInbound-catchall-http`` chain: everything to InboundPassthroughCluster."""
    return _inbound_route(INBOUND_PASSTHROUGH, "inbound|http|0", INBOUND_PASSTHROUGH, ":0/*")
