"""Schema validation (IST0106/IST0133) through the typed Istio API models, plus Istio's unreachable-rule
checks (IST0130/IST0131) that run as part of VirtualService validation."""

from __future__ import annotations

import json
import re
from typing import Any

from meshctl.analyze.analyzers._util import dct, lst
from meshctl.analyze.context import GATEWAY_API_GROUP, AnalysisContext
from meshctl.analyze.registry import Analyzer
from meshctl.sources.resource import Resource

#: Kinds that exist in the Istio / Gateway API groups; anything else there is a typo (MSH0010).
KNOWN_KINDS = {
    "networking.istio.io": {"VirtualService", "DestinationRule", "Gateway", "ServiceEntry", "Sidecar", "WorkloadEntry", "WorkloadGroup", "EnvoyFilter", "ProxyConfig"},
    "security.istio.io": {"PeerAuthentication", "AuthorizationPolicy", "RequestAuthentication"},
    "telemetry.istio.io": {"Telemetry"},
    "extensions.istio.io": {"WasmPlugin"},
    "install.istio.io": {"IstioOperator"},
    GATEWAY_API_GROUP: {"Gateway", "GatewayClass", "HTTPRoute", "GRPCRoute", "TCPRoute", "TLSRoute", "UDPRoute", "ReferenceGrant", "BackendTLSPolicy", "ListenerSet", "XListenerSet", "BackendTrafficPolicy", "XBackendTrafficPolicy"},
}
_DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")


def semantic_errors(r: Resource) -> list[tuple[str | None, str]]:
    """A few of Istio's webhook validation rules the types cannot express: (field path, message)."""
    spec, kind = r.spec, r.kind
    out: list[tuple[str | None, str]] = []
    if kind == "VirtualService":
        # With PILOT_ENABLE_VIRTUAL_SERVICE_DELEGATE (on by default) a VirtualService without hosts is a
        # delegate: valid, but gateways and TLS/TCP routes mean nothing there (Istio's ValidateVirtualService).
        if not lst(spec.get("hosts")):
            for field, what in (("gateways", "gateways specified"), ("tls", "tls route specified"), ("tcp", "tcp route specified")):
                if lst(spec.get(field)):
                    out.append((f"spec.{field}", f"delegate virtual service must have no {what}"))
        for i, rule in enumerate(lst(spec.get("http"))):
            rule = dct(rule)
            base = f"spec.http[{i}]"
            route, redirect, direct = bool(lst(rule.get("route"))), rule.get("redirect"), rule.get("directResponse")
            delegate = rule.get("delegate")
            if not (route or redirect or direct or delegate):
                out.append((base, "HTTP route, redirect or direct response is required"))
            # Istio's validateHTTPRoute conflict rules
            if redirect is not None:
                if route:
                    out.append((f"{base}.redirect", "HTTP route cannot contain both route and redirect"))
                if rule.get("fault") is not None:
                    out.append((f"{base}.fault", "HTTP route cannot contain both fault and redirect"))
                if rule.get("rewrite") is not None:
                    out.append((f"{base}.rewrite", "HTTP route rule cannot contain both rewrite and redirect"))
            if direct is not None:
                if route:
                    out.append((f"{base}.directResponse", "HTTP route cannot contain both route and direct response"))
                if redirect is not None:
                    out.append((f"{base}.directResponse", "HTTP route cannot contain both redirect and direct response"))
            if delegate is not None:
                if route:
                    out.append((f"{base}.delegate", "HTTP route cannot contain both route and delegate"))
                if redirect is not None:
                    out.append((f"{base}.delegate", "HTTP route cannot contain both redirect and delegate"))
            for j, rd in enumerate(lst(rule.get("route"))):
                w = dct(rd).get("weight")
                if isinstance(w, int) and not isinstance(w, bool) and w < 0:
                    out.append((f"spec.http[{i}].route[{j}].weight", "weight must be non-negative"))
        out.extend(regex_errors(spec))
    elif kind == "DestinationRule":
        if not spec.get("host"):
            out.append(("spec.host", "destination rule must have a host"))
    elif kind == "ServiceEntry":
        if not lst(spec.get("hosts")):
            out.append(("spec.hosts", "service entry must have at least one host"))
    elif kind == "Gateway" and r.group == "networking.istio.io":
        if not lst(spec.get("servers")):
            out.append(("spec.servers", "gateway must have at least one server"))
        for i, server in enumerate(lst(spec.get("servers"))):
            if not lst(dct(server).get("hosts")):
                out.append((f"spec.servers[{i}].hosts", "server config must contain at least one host"))
    return out


RE2_HINT = "Istio uses RE2 style regex-based match (https://github.com/google/re2/wiki/Syntax)"
_MATCH_REGEX_FIELDS = ("uri", "scheme", "method", "authority")
_MATCH_REGEX_MAPS = ("headers", "queryParams", "withoutHeaders")


def regex_fields(spec: dict[str, Any]) -> Any:
    """Every regex of a VirtualService spec: (field path, Istio's name for the field, regex)."""
    for i, rule in enumerate(lst(spec.get("http"))):
        rule = dct(rule)
        base = f"spec.http[{i}]"
        for j, m in enumerate(lst(rule.get("match"))):
            m = dct(m)
            for f in _MATCH_REGEX_FIELDS:
                sm = dct(m.get(f))
                if "regex" in sm:
                    yield f"{base}.match[{j}].{f}.regex", f, sm["regex"]
            for f in _MATCH_REGEX_MAPS:
                for name, sm in dct(m.get(f)).items():
                    sm = dct(sm)
                    if "regex" in sm:
                        yield f"{base}.match[{j}].{f}.{name}.regex", f, sm["regex"]
        rr = dct(dct(rule.get("rewrite")).get("uriRegexRewrite"))
        if rr:
            yield f"{base}.rewrite.uriRegexRewrite.match", "uriRegexRewrite.match", rr.get("match", "")
        for k, o in enumerate(lst(dct(rule.get("corsPolicy")).get("allowOrigins"))):
            o = dct(o)
            if "regex" in o:
                yield f"{base}.corsPolicy.allowOrigins[{k}].regex", "corsPolicy.allowOrigins", o["regex"]


def regex_errors(spec: dict[str, Any]) -> list[tuple[str, str]]:
    """Istio's ``validateStringMatchRegexp``: each regex must compile with RE2 (Go's ``regexp``), else
    every Envoy rejects the route configuration. Python's ``re`` is not RE2, see meshctl.analyze.re2."""
    from meshctl.analyze.re2 import re2_error

    out = []
    for path, where, regex in regex_fields(spec):
        if not isinstance(regex, str):
            continue  # a wrong type is the typed schema's finding
        err = re2_error(regex)
        if err is not None:
            out.append((path, f'{path}: "{where}": {err}; {RE2_HINT}'))
    return out


def _schema_warnings(r: Resource) -> list[tuple[str, str]]:
    out = []
    if r.kind == "VirtualService":
        for i, g in enumerate(lst(r.spec.get("gateways"))):
            g = str(g)
            if "/" not in g and "." in g:
                parts = g.split(".")
                out.append((f"spec.gateways[{i}]", f'using legacy gatewayName format "{g}"; prefer the <namespace>/<name> format: "{parts[1]}/{parts[0]}"'))
    return out


class ValidationAnalyzer(Analyzer):
    name = "schema.ValidationAnalyzer"
    description = "Runs schema validation as an analyzer and reports any violations"
    codes = ("IST0106", "IST0130", "IST0131", "IST0133")

    def analyze(self, ctx: AnalysisContext) -> None:
        from meshctl.model.api import spec_model
        from meshctl.model.api.kube import kube_model

        errors = ctx.schema_errors
        for r in ctx.resources:
            known = KNOWN_KINDS.get(r.group)
            if known is not None and r.kind not in known:
                ctx.report("MSH0010", r, r.kind, r.group, path="kind")
                continue
            if (r.group.endswith("istio.io") and spec_model(r) is not None) or kube_model(r) is not None:
                # Kubernetes objects are checked only for the fields meshctl's model reads.
                for path, text in errors.get(id(r), ()):
                    ctx.report("IST0106", r, text, path=path)
                for path, text in _schema_warnings(r):
                    ctx.report("IST0133", r, text, path=path)
            if r.kind == "VirtualService" and r.group == "networking.istio.io":
                unreachable_rules(ctx, r)


# --- IST0130 / IST0131 ---------------------------------------------------------------------------------


def _strip_empty(v: Any) -> Any:
    """Drop zero values like Go's omitempty so ``port: 0`` and a missing port compare equal."""
    if isinstance(v, dict):
        out = {str(k): _strip_empty(x) for k, x in v.items()}
        return {k: x for k, x in out.items() if x not in (None, "", 0, False, {}, [])}
    if isinstance(v, list):
        return [_strip_empty(x) for x in v]
    return v


def _as_json(match: Any, http: bool) -> str:
    m = dict(match) if isinstance(match, dict) else match
    if http and isinstance(m, dict):
        m.pop("name", None)
    return json.dumps(_strip_empty(m), sort_keys=True)


def _route_name(rule: Any, n: int, http: bool) -> str:
    name = dct(rule).get("name") if http else None
    return f'"{name}"' if name else f"#{n}"


def _request_name(match: Any, n: int, http: bool) -> str:
    name = dct(match).get("name") if http else None
    return f'"{name}"' if name else f"#{n}"


def _exact_or_prefix(sm: Any) -> str:
    sm = dct(sm)
    if sm.get("exact"):
        return "exact:" + str(sm["exact"])
    if sm.get("prefix"):
        return "prefix:" + str(sm["prefix"])
    return ""


class _PrefixMatch:
    def __init__(self, route_str: str, match_str: str, match: dict[str, Any], path: str) -> None:
        self.path = path
        self.route_str = route_str
        self.match_str = match_str
        self.prefix = str(dct(match.get("uri")).get("prefix"))
        self.port = match.get("port") or 0
        self.method = _exact_or_prefix(match.get("method")) or "exact:GET"
        self.authority = _exact_or_prefix(match.get("authority"))
        self.headers = {str(k): _exact_or_prefix(v) for k, v in dct(match.get("headers")).items()}
        self.query = {str(k): _exact_or_prefix(v) for k, v in dct(match.get("queryParams")).items()}
        self.without = {str(k): _exact_or_prefix(v) for k, v in dct(match.get("withoutHeaders")).items()}


def _covers(a: _PrefixMatch, b: _PrefixMatch) -> bool:
    """Istio's ``coveredValidation``: does earlier prefix match ``a`` take every request of ``b``?"""
    if not b.prefix.startswith(a.prefix) or a.port != b.port:
        return False
    if a.method != b.method and not a.method.startswith(b.method):
        return False
    if a.authority != b.authority and not a.authority.startswith(b.authority):
        return False
    for am, bm in ((a.headers, b.headers), (a.query, b.query), (a.without, b.without)):
        if len(am) != len(bm):
            return False
        for k, v in am.items():
            if k not in bm or (v != bm[k] and not v.startswith(bm[k])):
                return False
    return True


def unreachable_rules(ctx: AnalysisContext, r: Resource) -> None:
    """Rules after a catch-all, duplicate matches, and prefix matches covered by earlier ones."""
    for kind in ("http", "tcp", "tls"):
        http = kind == "http"
        rules = lst(r.spec.get(kind))
        seen: dict[str, int] = {}
        empty_seen = False
        prefixes: list[_PrefixMatch] = []
        for n, rule in enumerate(rules):
            if rule is None:
                continue
            matches = lst(dct(rule).get("match"))
            path = f"spec.{kind}[{n}]"
            if not matches:
                if empty_seen:
                    ctx.report("IST0130", r, _route_name(rule, n, http), "only the last rule can have no matches", path=path)
                empty_seen = True
                continue
            dups = 0
            for mn, match in enumerate(matches):
                key = _as_json(match, http)
                if key in seen:
                    dn = seen[key]
                    ctx.report("IST0131", r, _route_name(rule, n, http), _request_name(match, mn, http), _route_name(rules[dn], dn, http), path=f"{path}.match[{mn}]")
                    dups += 1
                    continue
                seen[key] = n
                if http and isinstance(match, dict) and dct(match.get("uri")).get("prefix"):
                    prefixes.append(_PrefixMatch(_route_name(rule, n, http), _request_name(match, mn, http), match, f"{path}.match[{mn}]"))
            if dups == len(matches):
                ctx.report("IST0130", r, _route_name(rule, n, http), "all matches used by prior rules", path=path)
        for i, a in enumerate(prefixes):
            for b in prefixes[i + 1 :]:
                if b.prefix == a.prefix:
                    continue
                if _covers(a, b):
                    ctx.report("IST0131", r, b.route_str, f"{b.match_str} of prefix {b.prefix}", f"{a.match_str} of prefix {a.prefix} on {a.route_str}", path=b.path)


ANALYZERS: list[Analyzer] = [ValidationAnalyzer()]
