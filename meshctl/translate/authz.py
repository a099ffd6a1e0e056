"""AuthorizationPolicy -> Envoy RBAC filters (Istio ``pilot/pkg/security/authz``), for sidecar inbound and
gateway HCMs (``envoy.filters.http.rbac``) and inbound TCP chains (``envoy.filters.network.rbac``).

Which policies apply: those in the root namespace (mesh-wide) and in the workload's namespace whose
``selector`` matches the workload (or that have none); ``targetRef(s)`` policies (Gateway API / waypoints)
and CUSTOM (ext_authz) are not translated. One filter per action, AUDIT then DENY then ALLOW; a workload
with ALLOW policies but no translatable rule gets an ALLOW filter with no policy (deny all), as Istio.

Each rule becomes policy ``ns[<ns>]-policy[<name>]-rule[<i>]`` with ``permissions`` (to.operation and the
destination-side ``when`` keys) and ``principals`` (from.source and the source-side ``when`` keys), each an
OR over ``to``/``from`` entries of AND over fields of OR over values (``notValues`` negated). A field the
translator cannot express (e.g. JWT claims, which need RequestAuthentication) follows Istio's error rule:
an ALLOW rule is dropped (narrower allow), a DENY/AUDIT condition is ignored (wider deny). HTTP-only fields
on TCP chains likewise.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from envoy.config.core.v3 import address_pb2
from envoy.config.rbac.v3 import rbac_pb2
from envoy.config.route.v3 import route_components_pb2 as rc
from envoy.extensions.filters.http.rbac.v3 import rbac_pb2 as http_rbac_pb2
from envoy.extensions.filters.network.http_connection_manager.v3 import http_connection_manager_pb2 as hcm_pb2
from envoy.extensions.filters.network.rbac.v3 import rbac_pb2 as net_rbac_pb2
from envoy.type.matcher.v3 import regex_pb2, string_pb2

from meshctl.translate.protoutil import pack, u32

HTTP_RBAC = "envoy.filters.http.rbac"
NET_RBAC = "envoy.filters.network.rbac"
_ACTIONS = {"AUDIT": rbac_pb2.RBAC.LOG, "DENY": rbac_pb2.RBAC.DENY, "ALLOW": rbac_pb2.RBAC.ALLOW}


class _Unsupported(Exception):
    """A value the generator cannot express (or an HTTP-only field on a TCP chain)."""


# ----------------------------------------------------------------------------------------- matchers
def string_matcher(v: str, prefix: str = "") -> string_pb2.StringMatcher:
    """Istio ``StringMatcherWithPrefix``: ``*`` any, ``*x`` suffix, ``x*`` prefix, else exact."""
    if v == "*":
        return string_pb2.StringMatcher(safe_regex=regex_pb2.RegexMatcher(regex=".+"))
    if v.startswith("*"):
        if not prefix:
            return string_pb2.StringMatcher(suffix=v[1:])
        return string_pb2.StringMatcher(
            safe_regex=regex_pb2.RegexMatcher(regex=prefix + ".*" + re.escape(v[1:]))
        )
    if v.endswith("*"):
        return string_pb2.StringMatcher(prefix=prefix + v[:-1])
    return string_pb2.StringMatcher(exact=prefix + v)


def header_matcher(name: str, v: str) -> rc.HeaderMatcher:
    """Istio ``matcher.HeaderMatcher``: ``*`` present, ``*x`` suffix, ``x*`` prefix, else exact."""
    h = rc.HeaderMatcher(name=name)
    if v == "*":
        h.present_match = True
    elif v.startswith("*"):
        h.string_match.suffix = v[1:]
    elif v.endswith("*"):
        h.string_match.prefix = v[:-1]
    else:
        h.string_match.exact = v
    return h


def host_matcher(v: str) -> rc.HeaderMatcher:
    """Istio ``matcher.HostMatcher``: case-insensitive ``:authority``, exact hosts also match with a port."""
    h = rc.HeaderMatcher(name=":authority")
    if v == "*":
        h.present_match = True
    elif v.startswith("*"):
        h.string_match.suffix = v[1:]
        h.string_match.ignore_case = True
    elif v.endswith("*"):
        h.string_match.prefix = v[:-1]
        h.string_match.ignore_case = True
    else:
        h.string_match.safe_regex.regex = "(?i)" + re.escape(v) + "(:[0-9]+)?"
    return h


def cidr(value: str) -> address_pb2.CidrRange:
    try:
        net = ipaddress.ip_network(value, strict=False)
    except ValueError as e:
        raise _Unsupported(str(e)) from e
    return address_pb2.CidrRange(address_prefix=str(net.network_address), prefix_len=u32(net.prefixlen))


def _port(value: str) -> int:
    try:
        p = int(value)
    except ValueError as e:
        raise _Unsupported(f"invalid port {value!r}") from e
    if not 0 <= p <= 65535:
        raise _Unsupported(f"invalid port {value!r}")
    return p


# --------------------------------------------------------------------------------------- generators
Perm = Callable[[str, bool], rbac_pb2.Permission]
Prin = Callable[[str, bool], rbac_pb2.Principal]


def _http_only(tcp: bool, key: str) -> None:
    if tcp:
        raise _Unsupported(f"{key} is HTTP only")


def _perm_port(v: str, tcp: bool) -> rbac_pb2.Permission:
    return rbac_pb2.Permission(destination_port=_port(v))


def _perm_dest_ip(v: str, tcp: bool) -> rbac_pb2.Permission:
    return rbac_pb2.Permission(destination_ip=cidr(v))


def _perm_sni(v: str, tcp: bool) -> rbac_pb2.Permission:
    return rbac_pb2.Permission(requested_server_name=string_matcher(v))


def _perm_host(v: str, tcp: bool) -> rbac_pb2.Permission:
    _http_only(tcp, "hosts")
    return rbac_pb2.Permission(header=host_matcher(v))


def _perm_method(v: str, tcp: bool) -> rbac_pb2.Permission:
    _http_only(tcp, "methods")
    return rbac_pb2.Permission(header=header_matcher(":method", v))


def _perm_path(v: str, tcp: bool) -> rbac_pb2.Permission:
    _http_only(tcp, "paths")
    if "{" in v:
        raise _Unsupported("path templates are not translated")
    p = rbac_pb2.Permission()
    p.url_path.path.CopyFrom(string_matcher(v))
    return p


def _prin_src_ip(v: str, tcp: bool) -> rbac_pb2.Principal:
    return rbac_pb2.Principal(direct_remote_ip=cidr(v))


def _prin_remote_ip(v: str, tcp: bool) -> rbac_pb2.Principal:
    return rbac_pb2.Principal(remote_ip=cidr(v))


def _prin_namespace(v: str, tcp: bool) -> rbac_pb2.Principal:
    p = rbac_pb2.Principal()
    p.authenticated.principal_name.safe_regex.regex = ".*/ns/" + v.replace("*", ".*") + "/.*"
    return p


def _prin_principal(v: str, tcp: bool) -> rbac_pb2.Principal:
    p = rbac_pb2.Principal()
    p.authenticated.principal_name.CopyFrom(string_matcher(v, "spiffe://"))
    return p


def _prin_header(name: str) -> Prin:
    def gen(v: str, tcp: bool) -> rbac_pb2.Principal:
        _http_only(tcp, f"request.headers[{name}]")
        return rbac_pb2.Principal(header=header_matcher(name, v))

    return gen


def _unsupported(key: str) -> Callable[[str, bool], Any]:
    def gen(v: str, tcp: bool) -> Any:
        raise _Unsupported(f"{key} is not translated (needs RequestAuthentication / JWT)")

    return gen


@dataclass
class _Field:
    gen: Callable[[str, bool], Any]
    values: list[str]
    not_values: list[str]


def _when_field(key: str, values: list[str], not_values: list[str]) -> tuple[str, _Field]:
    """(``permission``|``principal``, field) for a ``when`` condition (Istio ``model.New``)."""
    perm: dict[str, Callable[[str, bool], Any]] = {
        "destination.ip": _perm_dest_ip,
        "destination.port": _perm_port,
        "connection.sni": _perm_sni,
    }
    prin: dict[str, Callable[[str, bool], Any]] = {
        "source.ip": _prin_src_ip,
        "remote.ip": _prin_remote_ip,
        "source.namespace": _prin_namespace,
        "source.principal": _prin_principal,
    }
    if key in perm:
        return "permission", _Field(perm[key], values, not_values)
    if key in prin:
        return "principal", _Field(prin[key], values, not_values)
    m = re.fullmatch(r"request\.headers\[(.+)\]", key)
    if m:
        return "principal", _Field(_prin_header(m.group(1)), values, not_values)
    if key.startswith("request.auth."):
        return "principal", _Field(_unsupported(key), values, not_values)
    raise _Unsupported(f"unknown attribute {key}")


def _combine(fields: list[_Field], tcp: bool, allow: bool, cls: Any, or_field: str, and_field: str, items: str, not_field: str) -> Any:
    """AND over fields of (OR over each field's values), negated for ``not*`` values, as Istio's RBAC
    generator builds both Permissions and Principals; the two messages differ only in field names."""
    ands: list[Any] = []
    for f in fields:
        for vals, negate in ((f.values, False), (f.not_values, True)):
            ors = []
            for v in vals:
                try:
                    ors.append(f.gen(v, tcp))
                except _Unsupported:
                    if allow:
                        raise
            if ors:
                p = cls()
                getattr(getattr(p, or_field), items).extend(ors)
                if negate:
                    p = cls(**{not_field: p})
                ands.append(p)
    if not ands:
        ands.append(cls(any=True))
    out = cls()
    getattr(getattr(out, and_field), items).extend(ands)
    return out


def _combine_perm(fields: list[_Field], tcp: bool, allow: bool) -> rbac_pb2.Permission:
    return _combine(fields, tcp, allow, rbac_pb2.Permission, "or_rules", "and_rules", "rules", "not_rule")  # type: ignore[no-any-return]


def _combine_prin(fields: list[_Field], tcp: bool, allow: bool) -> rbac_pb2.Principal:
    return _combine(fields, tcp, allow, rbac_pb2.Principal, "or_ids", "and_ids", "ids", "not_id")  # type: ignore[no-any-return]


def _g(d: Any, *names: str) -> list[str]:
    """A list field of a loosely typed rule dict, by camelCase or snake_case name."""
    for n in names:
        v = d.get(n) if isinstance(d, dict) else None
        if v:
            return [str(x) for x in v]
    return []


def translate_rule(rule: dict[str, Any], tcp: bool, allow: bool) -> rbac_pb2.Policy:
    """One AuthorizationPolicy rule -> an Envoy RBAC policy (raises _Unsupported for an untranslatable ALLOW rule)."""
    base_perm: list[_Field] = []
    base_prin: list[_Field] = []
    for w in rule.get("when") or []:
        kind, f = _when_field(str(w.get("key", "")), _g(w, "values"), _g(w, "notValues", "not_values"))
        (base_perm if kind == "permission" else base_prin).append(f)

    principals = []
    for fr in rule.get("from") or [{}]:
        s = fr.get("source") or {} if isinstance(fr, dict) else {}
        fields = [
            _Field(_prin_principal, _g(s, "principals"), _g(s, "notPrincipals", "not_principals")),
            _Field(_unsupported("request.auth.principal"), _g(s, "requestPrincipals", "request_principals"),
                   _g(s, "notRequestPrincipals", "not_request_principals")),
            _Field(_prin_namespace, _g(s, "namespaces"), _g(s, "notNamespaces", "not_namespaces")),
            _Field(_prin_remote_ip, _g(s, "remoteIpBlocks", "remote_ip_blocks"), _g(s, "notRemoteIpBlocks", "not_remote_ip_blocks")),
            _Field(_prin_src_ip, _g(s, "ipBlocks", "ip_blocks"), _g(s, "notIpBlocks", "not_ip_blocks")),
        ]  # fmt: skip
        principals.append(
            _combine_prin([f for f in fields if f.values or f.not_values] + base_prin, tcp, allow)
        )

    permissions = []
    for to in rule.get("to") or [{}]:
        o = to.get("operation") or {} if isinstance(to, dict) else {}
        fields = [
            _Field(_perm_host, _g(o, "hosts"), _g(o, "notHosts", "not_hosts")),
            _Field(_perm_method, _g(o, "methods"), _g(o, "notMethods", "not_methods")),
            _Field(_perm_path, _g(o, "paths"), _g(o, "notPaths", "not_paths")),
            _Field(_perm_port, _g(o, "ports"), _g(o, "notPorts", "not_ports")),
        ]
        permissions.append(
            _combine_perm([f for f in fields if f.values or f.not_values] + base_perm, tcp, allow)
        )
    return rbac_pb2.Policy(permissions=permissions, principals=principals)


@dataclass
class AuthzPolicy:
    """An AuthorizationPolicy as the builder sees it: identity, action, loosely typed rules."""

    name: str
    namespace: str
    action: str
    rules: list[dict[str, Any]]


def rbac_configs(policies: list[AuthzPolicy], tcp: bool) -> list[tuple[str, rbac_pb2.RBAC]]:
    """(action, RBAC rules) per action present, in filter order AUDIT, DENY, ALLOW."""
    out = []
    for action in ("AUDIT", "DENY", "ALLOW"):
        ps = [p for p in policies if p.action == action]
        if not ps:
            continue
        rules = rbac_pb2.RBAC(action=_ACTIONS[action])  # type: ignore[arg-type]
        for p in ps:
            for i, r in enumerate(p.rules):
                try:
                    policy = translate_rule(r if isinstance(r, dict) else {}, tcp, allow=action == "ALLOW")
                except _Unsupported:
                    continue  # ALLOW: the rule is dropped (a smaller allow), as Istio does on generation errors
                rules.policies[f"ns[{p.namespace}]-policy[{p.name}]-rule[{i}]"].CopyFrom(policy)
        if action != "ALLOW" and not rules.policies:
            continue  # an empty DENY/AUDIT filter would do nothing
        out.append((action, rules))
    return out


def http_rbac_filters(policies: list[AuthzPolicy]) -> list[hcm_pb2.HttpFilter]:
    return [
        hcm_pb2.HttpFilter(name=HTTP_RBAC, typed_config=pack(http_rbac_pb2.RBAC(rules=rules)))
        for _, rules in rbac_configs(policies, tcp=False)
    ]


def network_rbac_filters(policies: list[AuthzPolicy]) -> list[Any]:
    from envoy.config.listener.v3 import listener_components_pb2 as lc

    return [
        lc.Filter(name=NET_RBAC, typed_config=pack(net_rbac_pb2.RBAC(rules=rules, stat_prefix="tcp.")))
        for _, rules in rbac_configs(policies, tcp=True)
    ]


def policies_for(mesh: Any, workload: Any) -> list[AuthzPolicy]:
    """The AuthorizationPolicies selecting ``workload`` (root namespace = mesh-wide), in precedence order."""
    from meshctl.model.hosts import labels_match

    out = []
    for c in getattr(mesh, "authorization_policies", []) or []:
        spec = c.spec
        if spec.target_ref or spec.target_refs or spec.action == "CUSTOM":
            continue
        if c.namespace not in (workload.namespace, mesh.root_namespace):
            continue
        sel = spec.selector.match_labels if spec.selector is not None else None
        if sel and not labels_match(sel, workload.labels):
            continue
        out.append(AuthzPolicy(c.name, c.namespace, spec.action, list(spec.rules or [])))
    return out


def apply_authz(listeners: list[Any], policies: list[AuthzPolicy], gateway: bool) -> None:
    """Insert the RBAC filters into the proxy's inbound side (in place): sidecars' ``virtualInbound`` chains
    (not the blackhole chain), every gateway chain. HTTP RBAC goes first in the HCM (Istio puts authz before
    grpc_stats/fault/cors), network RBAC right before tcp_proxy."""
    if not policies:
        return
    http = http_rbac_filters(policies)
    net = network_rbac_filters(policies)
    for lis in listeners:
        if not gateway and lis.name != "virtualInbound":
            continue
        chains = list(lis.filter_chains)
        if lis.HasField("default_filter_chain"):
            chains.append(lis.default_filter_chain)
        for ch in chains:
            if ch.name == "virtualInbound-blackhole" or not ch.filters:
                continue
            last = ch.filters[-1]
            if last.name == "envoy.filters.network.http_connection_manager":
                if not http:
                    continue
                m = hcm_pb2.HttpConnectionManager()
                last.typed_config.Unpack(m)
                existing = list(m.http_filters)
                del m.http_filters[:]
                m.http_filters.extend([*http, *existing])
                last.typed_config.Pack(m)
            elif last.name == "envoy.filters.network.tcp_proxy" and net:
                tail = list(ch.filters)
                del ch.filters[:]
                ch.filters.extend([*tail[:-1], *net, tail[-1]])
