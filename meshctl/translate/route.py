"""VirtualService ``HTTPRoute`` -> Envoy ``Route`` (Istio ``pilot/pkg/networking/core/route/route.go``).

One Envoy route per ``match`` entry in ``http[]`` order; generation stops after the first catch-all route.
The builder is a pure function of the typed VS and a small :class:`RouteContext` (listener port, how to
resolve hosts and hash policies), so sidecar RDS and gateway RDS share it and unit tests can call it with
typed configs built by hand.
"""

from __future__ import annotations

import base64
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from envoy.config.core.v3 import base_pb2
from envoy.config.route.v3 import route_components_pb2 as rc
from envoy.extensions.filters.http.fault.v3.fault_pb2 import HTTPFault

from meshctl.model.hosts import resolve_shortname
from meshctl.translate.fault import CORS_FILTER, FAULT_FILTER, translate_cors, translate_fault
from meshctl.translate.protoutil import (
    boolv,
    duration,
    fractional_hundred,
    fractional_million,
    istio_config_metadata,
    pack,
    percent_value,
)
from meshctl.translate.retry import convert_policy
from meshctl.translate.route_match import is_catch_all_match, translate_route_match
from meshctl.translate.util import outbound_cluster_name as subset_key

DEFAULT_ROUTE_NAME = "default"
_OVERWRITE = base_pb2.HeaderValueOption.OVERWRITE_IF_EXISTS_OR_ADD
_APPEND = base_pb2.HeaderValueOption.APPEND_IF_EXISTS_OR_ADD
_REDIRECT_CODES = {
    0: rc.RedirectAction.MOVED_PERMANENTLY,
    301: rc.RedirectAction.MOVED_PERMANENTLY,
    302: rc.RedirectAction.FOUND,
    303: rc.RedirectAction.SEE_OTHER,
    307: rc.RedirectAction.TEMPORARY_REDIRECT,
    308: rc.RedirectAction.PERMANENT_REDIRECT,
}


@dataclass
class RouteContext:
    """What the route builder needs to know about where the route lands.

    ``service_ports(fqdn)`` returns the service's port numbers (None when the host is not a registry service);
    ``hash_policy(fqdn, port)`` returns the DR consistent-hash route policy for that destination (or None);
    ``proxy_labels``/``proxy_namespace`` evaluate ``sourceLabels``/``sourceNamespace``; ``gateways`` is the set
    of gateway names (``ns/name`` or ``mesh``) the route is generated for.
    """

    listener_port: int
    service_ports: Callable[[str], list[int] | None] = lambda host: None
    hash_policy: Callable[[str, int], rc.RouteAction.HashPolicy | None] = lambda host, port: None
    proxy_labels: dict[str, str] = field(default_factory=dict)
    proxy_namespace: str = "default"
    gateways: frozenset[str] = frozenset({"mesh"})
    domain_suffix: str = "cluster.local"
    mesh_default_retry: Any = None
    is_gateway: bool = False
    is_tls: bool = False  # a gateway server terminating TLS (redirect scheme default)
    #: ExternalName (alias) services: hostname -> the target hostname whose clusters carry the traffic
    alias_of: Callable[[str], str | None] = lambda host: None


@dataclass
class VSInfo:
    """A VirtualService as the builders see it: name, namespace, typed spec, blame path."""

    name: str
    namespace: str
    spec: Any
    config_path: str = ""

    def __post_init__(self) -> None:
        if not self.config_path:
            self.config_path = (
                f"/apis/networking.istio.io/v1/namespaces/{self.namespace}/virtual-service/{self.name}"
            )
        self._metadata: base_pb2.Metadata | None = None

    @property
    def metadata(self) -> base_pb2.Metadata:
        """The ``istio.config`` blame metadata every route of this VS carries (built once)."""
        if self._metadata is None:
            self._metadata = istio_config_metadata(self.config_path)
        return self._metadata


def _gateway_name(name: str, vs_ns: str) -> str:
    if name == "mesh" or "/" in name:
        return name
    return f"{vs_ns}/{name}"


def match_applies(match: Any, vs: VSInfo, ctx: RouteContext) -> bool:
    """Istio's static filters of a match entry (``translateRoute`` + ``sourceMatchHTTP``): ``port`` must be
    the listener port; with ``gateways`` one must be among the proxy's gateways (``mesh`` for sidecars),
    otherwise ``sourceLabels`` must be a subset of the proxy's labels and ``sourceNamespace`` its namespace."""
    port = getattr(match, "port", None)
    if port and port != ctx.listener_port:
        return False
    gws = getattr(match, "gateways", None) or []
    if gws:
        return any(_gateway_name(g, vs.namespace) in ctx.gateways for g in gws)
    labels = getattr(match, "source_labels", None) or {}
    if any(ctx.proxy_labels.get(k) != v for k, v in labels.items()):
        return False
    src_ns = getattr(match, "source_namespace", None)
    return not src_ns or src_ns == ctx.proxy_namespace


def _header_ops(values: dict[str, str], action: int) -> tuple[list[base_pb2.HeaderValueOption], str]:
    out: list[base_pb2.HeaderValueOption] = []
    authority = ""
    for key in sorted(values):
        lk = key.lower()
        if lk in (":authority", "host"):
            authority = values[key]
        if lk.startswith(":") or lk == "host":
            continue
        out.append(
            base_pb2.HeaderValueOption(
                header=base_pb2.HeaderValue(key=key, value=values[key]), append_action=action
            )
        )  # type: ignore[arg-type]
    return out, authority


@dataclass
class HeaderOps:
    req_add: list[base_pb2.HeaderValueOption] = field(default_factory=list)
    req_remove: list[str] = field(default_factory=list)
    resp_add: list[base_pb2.HeaderValueOption] = field(default_factory=list)
    resp_remove: list[str] = field(default_factory=list)
    authority: str = ""


def translate_headers(headers: Any | None) -> HeaderOps:
    """``headers.request/response.set/add/remove``; ``:authority``/``host`` become an authority rewrite."""
    if headers is None:
        return _NO_HEADER_OPS
    ops = HeaderOps()
    req, resp = getattr(headers, "request", None), getattr(headers, "response", None)
    if req is not None:
        set_ops, set_auth = _header_ops(req.set or {}, _OVERWRITE)
        add_ops, add_auth = _header_ops(req.add or {}, _APPEND)
        ops.req_add = set_ops + add_ops
        ops.authority = set_auth or add_auth
        ops.req_remove = [h for h in (req.remove or []) if not (h.startswith(":") or h.lower() == "host")]
    if resp is not None:
        set_ops, _ = _header_ops(resp.set or {}, _OVERWRITE)
        add_ops, _ = _header_ops(resp.add or {}, _APPEND)
        ops.resp_add = set_ops + add_ops
        ops.resp_remove = [h for h in (resp.remove or []) if not h.startswith(":")]
    return ops


def _add_header_ops(out: Any, ops: HeaderOps) -> None:
    """Header operations onto a Route or a ClusterWeight (skipping empty lists: this is a hot path)."""
    if ops.req_add:
        out.request_headers_to_add.extend(ops.req_add)
    if ops.req_remove:
        out.request_headers_to_remove.extend(ops.req_remove)
    if ops.resp_add:
        out.response_headers_to_add.extend(ops.resp_add)
    if ops.resp_remove:
        out.response_headers_to_remove.extend(ops.resp_remove)


_NO_HEADER_OPS = HeaderOps()


def destination_cluster(dest: Any, vs: VSInfo, ctx: RouteContext) -> tuple[str, str, int]:
    """(cluster name, fqdn, port) of a ``Destination``: explicit port, else the service's only port, else the listener port."""
    host = resolve_shortname(dest.host, vs.namespace, ctx.domain_suffix)
    host = (
        ctx.alias_of(host) or host
    )  # Istio GetDestinationCluster: an ExternalName service routes to its target
    port_sel = getattr(dest, "port", None)
    number = getattr(port_sel, "number", None) if port_sel is not None else None
    if not number:
        ports = ctx.service_ports(host)
        number = ports[0] if ports and len(ports) == 1 else ctx.listener_port
    return subset_key(number, getattr(dest, "subset", None), host), host, number


def set_timeout(action: rc.RouteAction, timeout: Any | None) -> None:
    """Unset VS timeout means no timeout (``0s``), not Envoy's 15s; ``max_grpc_timeout`` mirrors it."""
    if timeout is None:
        action.timeout.SetInParent()
        action.max_grpc_timeout.SetInParent()
        return
    d = duration(timeout)
    action.timeout.CopyFrom(d)
    action.max_grpc_timeout.CopyFrom(d)


def _mirror_fraction(pct: Any, legacy: int | None) -> base_pb2.RuntimeFractionalPercent | None:
    """Istio ``MirrorPercent``: ``mirrorPercentage`` (per million), legacy ``mirrorPercent`` (per hundred),
    100% when neither is set; an explicit 0 means no mirror (None)."""
    v = percent_value(pct)
    if v is not None:
        return base_pb2.RuntimeFractionalPercent(default_value=fractional_million(v)) if v > 0 else None
    if legacy is not None:
        return (
            base_pb2.RuntimeFractionalPercent(default_value=fractional_hundred(int(legacy)))
            if legacy > 0
            else None
        )
    return base_pb2.RuntimeFractionalPercent(default_value=fractional_hundred(100))


def _apply_destination(out: rc.Route, http: Any, vs: VSInfo, ctx: RouteContext, ops: HeaderOps) -> None:
    action = out.route
    set_timeout(action, getattr(http, "timeout", None))
    authority = ops.authority
    rewrite = getattr(http, "rewrite", None)
    if rewrite is not None:
        rr = getattr(rewrite, "uri_regex_rewrite", None)
        if rr is not None:
            action.regex_rewrite.pattern.regex = rr.match or ""
            action.regex_rewrite.substitution = rr.rewrite or ""
        elif rewrite.uri:
            action.prefix_rewrite = rewrite.uri
        if rewrite.authority:
            authority = rewrite.authority

    # mirrors
    mirrors: list[tuple[Any, Any, int | None]] = []
    if getattr(http, "mirror", None) is not None:
        mirrors.append((http.mirror, http.mirror_percentage, getattr(http, "mirror_percent", None)))
    for m in getattr(http, "mirrors", None) or []:
        mirrors.append((m.destination, m.percentage, None))
    for dest, pct, legacy in mirrors:
        frac = _mirror_fraction(pct, legacy)
        if frac is None:
            continue
        name, _, _ = destination_cluster(dest, vs, ctx)
        action.request_mirror_policies.add(
            cluster=name,
            runtime_fraction=frac,
            trace_sampled=boolv(False),
            disable_shadow_host_suffix_append=True,
        )

    # Istio: a hash policy per destination that has one; only a single-destination route with consistent
    # hashing drops the previous-hosts retry predicate
    consistent_hash = False
    dests = list(getattr(http, "route", None) or [])
    if len(dests) == 1:
        d = dests[0]
        name, host, port = destination_cluster(d.destination, vs, ctx)
        dops = translate_headers(getattr(d, "headers", None))
        _add_header_ops(out, dops)
        if not authority:
            authority = dops.authority
        action.cluster = name
        hp = ctx.hash_policy(host, port)
        if hp is not None:
            action.hash_policy.append(hp)
            consistent_hash = True
    elif dests:
        wc = action.weighted_clusters
        for d in dests:
            weight = d.weight or 0
            if weight == 0:
                continue
            name, host, port = destination_cluster(d.destination, vs, ctx)
            dops = translate_headers(getattr(d, "headers", None))
            cw = wc.clusters.add(name=name)
            cw.weight.value = weight
            _add_header_ops(cw, dops)
            if dops.authority:
                cw.host_rewrite_literal = dops.authority
            hp = ctx.hash_policy(host, port)
            if hp is not None:
                action.hash_policy.append(hp)
    policy = convert_policy(getattr(http, "retries", None), consistent_hash, ctx.mesh_default_retry)
    if policy is not None:
        action.retry_policy.CopyFrom(policy)
    if authority:
        action.host_rewrite_literal = authority


def _apply_redirect(out: rc.Route, redirect: Any, ctx: RouteContext) -> bool:
    """Fill ``out.redirect``; False when the redirect code is unsupported (Istio then emits no action)."""
    code = redirect.redirect_code or 0
    if code not in _REDIRECT_CODES:
        return False
    r = out.redirect
    if redirect.authority:
        r.host_redirect = redirect.authority
    if redirect.uri:
        r.path_redirect = redirect.uri
    elif redirect.prefix_rewrite:
        r.prefix_rewrite = redirect.prefix_rewrite
    if redirect.scheme:
        r.scheme_redirect = redirect.scheme
    port = 0
    if redirect.derive_port == "FROM_REQUEST_PORT":
        port = ctx.listener_port
    elif redirect.port:
        port = redirect.port
    if redirect.derive_port or redirect.port:
        scheme = (redirect.scheme or ("https" if ctx.is_tls else "http")).lower()
        if port and not ((scheme == "http" and port == 80) or (scheme == "https" and port == 443)):
            r.port_redirect = port
    r.response_code = _REDIRECT_CODES[code]  # type: ignore[assignment]
    return True


def route_operation(out: rc.Route, vs_name: str, port: int) -> str:
    """Istio ``GetRouteOperation``: ``<host>:<port><path>`` for one outbound cluster, else ``<vs>:<port><path>``."""
    m = out.match
    which = m.WhichOneof("path_specifier")
    if which == "prefix":
        path = m.prefix + "*"
    elif which == "path":
        path = m.path
    elif which == "safe_regex":
        path = m.safe_regex.regex
    else:
        path = "/*"
    if out.WhichOneof("action") == "route" and out.route.WhichOneof("cluster_specifier") == "cluster":
        parts = out.route.cluster.split("|")
        if len(parts) == 4 and parts[0] in ("outbound", "inbound") and parts[1].isdigit():
            return f"{parts[3]}:{parts[1]}{path}"
    return f"{vs_name}:{port}{path}"


def translate_route(http: Any, match: Any | None, vs: VSInfo, ctx: RouteContext) -> rc.Route:
    """One Envoy route for one (``http[]`` rule, ``match[]`` entry)."""
    name = getattr(http, "name", None) or ""
    if match is not None and getattr(match, "name", None):
        name = f"{name}.{match.name}"
    out = rc.Route(name=name, match=translate_route_match(match))
    out.metadata.CopyFrom(vs.metadata)
    if match is not None and getattr(match, "stat_prefix", None):
        out.stat_prefix = match.stat_prefix
    ops = translate_headers(getattr(http, "headers", None))
    _add_header_ops(out, ops)

    redirect = getattr(http, "redirect", None)
    direct = getattr(http, "direct_response", None)
    if redirect is not None:
        _apply_redirect(out, redirect, ctx)
    elif direct is not None:
        out.direct_response.status = direct.status
        body = getattr(direct, "body", None)
        if body is not None and body.string is not None:
            out.direct_response.body.inline_string = body.string
        elif body is not None and body.bytes is not None:
            out.direct_response.body.inline_bytes = base64.b64decode(body.bytes)
    else:
        _apply_destination(out, http, vs, ctx, ops)

    out.decorator.operation = route_operation(out, vs.name, ctx.listener_port)
    if getattr(http, "fault", None) is not None:
        # Istio packs TranslateFault's result even when nothing was translatable (an empty HTTPFault)
        fault = translate_fault(http.fault) or HTTPFault()
        out.typed_per_filter_config[FAULT_FILTER].CopyFrom(pack(fault))
    cors = translate_cors(getattr(http, "cors_policy", None))
    if cors is not None:
        out.typed_per_filter_config[CORS_FILTER].CopyFrom(pack(cors))
    return out


def translate_virtual_service(vs: VSInfo, ctx: RouteContext) -> list[rc.Route]:
    """All Envoy routes of a VS for one listener port, stopping after the first catch-all route."""
    routes: list[rc.Route] = []
    for http in getattr(vs.spec, "http", None) or []:
        if getattr(http, "delegate", None) is not None:
            continue  # delegates are merged into the root VS by the model
        matches = list(getattr(http, "match", None) or [])
        if not matches:
            r = translate_route(http, None, vs, ctx)
            routes.append(r)
            return routes  # a rule without match is terminal
        for m in matches:
            if not match_applies(m, vs, ctx):
                continue
            r = translate_route(http, m, vs, ctx)
            routes.append(r)
            if is_catch_all_match(r.match):
                return routes
    return routes


def default_route(
    cluster: str,
    operation_host_port: str,
    hash_policy: rc.RouteAction.HashPolicy | None = None,
    mesh_default_retry: Any = None,
) -> rc.Route:
    """Istio ``BuildDefaultHTTPOutboundRoute``: prefix ``/``, ``timeout: 0s``, default retries, named ``default``."""
    out = rc.Route(name=DEFAULT_ROUTE_NAME)
    out.match.prefix = "/"
    out.route.cluster = cluster
    set_timeout(out.route, None)
    if hash_policy is not None:
        out.route.hash_policy.append(hash_policy)
    policy = convert_policy(None, hash_policy is not None, mesh_default_retry)
    if policy is not None:
        out.route.retry_policy.CopyFrom(policy)
    out.decorator.operation = f"{operation_host_port}/*"
    return out


def hash_policy_from_lb(lb: Any | None) -> rc.RouteAction.HashPolicy | None:
    """DR ``loadBalancer.consistentHash`` -> route ``hash_policy`` (the cluster gets RING_HASH/MAGLEV separately)."""
    ch = getattr(lb, "consistent_hash", None) if lb is not None else None
    if ch is None:
        return None
    hp = rc.RouteAction.HashPolicy()
    if ch.http_header_name:
        hp.header.header_name = ch.http_header_name
    elif ch.http_cookie is not None:
        c = ch.http_cookie
        hp.cookie.name = c.name
        if c.path:
            hp.cookie.path = c.path
        if c.ttl:
            hp.cookie.ttl.CopyFrom(duration(c.ttl))
        for a in c.attributes or []:
            hp.cookie.attributes.add(name=a.name, value=a.value or "")
    elif ch.use_source_ip:
        hp.connection_properties.source_ip = True
    elif ch.http_query_parameter_name:
        hp.query_parameter.name = ch.http_query_parameter_name
    else:
        return None
    return hp
