"""meshctl's own checks (MSH codes): what Istio's analyzers miss but the proxies will do.

They follow Pilot's semantics as meshctl's model implements them: routes are matched in order, sidecars
keep only the oldest VirtualService per host, a ``portLevelSettings`` entry replaces the top-level policy
fields for its port, Sidecar egress hides undeclared hosts, and a server's PeerAuthentication must agree
with the client's DestinationRule TLS mode. Documented in docs/analyze.md.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from meshctl.analyze.analyzers._util import MESH_GATEWAY, dct, full_name, lst, route_destinations
from meshctl.analyze.context import (
    AnalysisContext,
    exported_to,
    ns_of,
    selector_matches,
    to_fqdn,
)
from meshctl.analyze.registry import Analyzer
from meshctl.model.hosts import host_matches
from meshctl.sources.resource import Resource

POLICY_FIELDS = ("connectionPool", "loadBalancer", "outlierDetection", "tls")


def _mesh_bound(vs: Resource) -> bool:
    gws = [str(g) for g in lst(vs.spec.get("gateways"))]
    return not gws or MESH_GATEWAY in gws


#: Match fields Pilot evaluates per proxy when it generates routes (the route is left out where they do not apply):
#: they narrow where a route exists, not which requests it takes.
_CONTEXT_FIELDS = ("port", "gateways", "sourceLabels", "sourceNamespace")
#: Regexes that match every path (Istio's ``IsCatchAllRoute`` knows ``*`` and ``.*``; the others are equivalent).
_ALL_PATHS_REGEX = frozenset({"*", ".*", "/.*", "^.*", "^.*$", ".*$", "^/.*", "^/.*$", "/.*$"})


def _set(v: Any) -> bool:
    return v not in (None, "", 0, {}, [], False)


def _catch_all_match(m: dict[str, Any]) -> bool:
    """Takes every request (on the proxies and ports it applies to): no request matcher but a path matcher
    that accepts every path (``prefix: /``, ``regex: .*``). Headers, query, method, authority, scheme and
    ``withoutHeaders`` all make Envoy match on more than the path, so they never count as catch-all."""
    for k, v in m.items():
        if k in ("name", "ignoreUriCase") or k in _CONTEXT_FIELDS or not _set(v):
            continue
        if k != "uri":
            return False
        uri = {uk: uv for uk, uv in dct(v).items() if _set(uv)}
        if not uri:
            continue
        if not (uri == {"prefix": "/"} or (set(uri) == {"regex"} and str(uri["regex"]) in _ALL_PATHS_REGEX)):
            return False
    return True


def _match_shadows(earlier: dict[str, Any], later: dict[str, Any]) -> bool:
    """Does ``earlier`` take every request ``later`` would get? It must be catch-all and apply wherever
    ``later`` does: its port/gateways/sourceLabels/sourceNamespace are absent or the same as ``later``'s."""
    if not _catch_all_match(earlier):
        return False
    return all(not _set(earlier.get(k)) or earlier.get(k) == later.get(k) for k in _CONTEXT_FIELDS)


def _rule_shadows(earlier: dict[str, Any], later: dict[str, Any]) -> bool:
    """Is every request of rule ``later`` taken by rule ``earlier``? A rule without ``match`` takes everything
    (Pilot stops generating routes after it); otherwise each match of ``later`` needs a catch-all match of
    ``earlier`` that applies wherever it does."""
    e_matches = [dct(m) for m in lst(earlier.get("match"))]
    if not e_matches:
        return True
    l_matches = [dct(m) for m in lst(later.get("match"))] or [{}]
    return all(any(_match_shadows(e, lm) for e in e_matches) for lm in l_matches)


class DuplicateResourceAnalyzer(Analyzer):
    name = "meshctl.DuplicateResourceAnalyzer"
    description = "Finds objects defined twice in the inputs (the last one wins, the other is silently lost)"
    codes = ("MSH0009",)

    def analyze(self, ctx: AnalysisContext) -> None:
        first: dict[tuple[str, str, str, str], Resource] = {}
        for r in ctx.all_resources:
            prev = first.get(r.key)
            if prev is not None and prev.origin == "kube":
                first[r.key] = r  # a file layered over the cluster's copy is the point of -k with -f
                continue
            if prev is not None and prev is not r:
                ctx.report("MSH0009", r, r.ref, str(prev.pos()) or "another input")
            else:
                first[r.key] = r


def _rule_label(rule: dict[str, Any], n: int) -> str:
    name = rule.get("name")
    return f'#{n} "{name}"' if isinstance(name, str) and name else f"#{n}"


class ShadowedRouteAnalyzer(Analyzer):
    name = "meshctl.ShadowedRouteAnalyzer"
    description = "Finds HTTP routes Envoy never reaches because an earlier route (here or in a VirtualService merged before it) catches everything"
    codes = ("MSH0001",)

    def analyze(self, ctx: AnalysisContext) -> None:
        for vs in ctx.valid_istio("VirtualService"):
            rules = [dct(r) for r in lst(vs.spec.get("http"))]
            hosts = ",".join(str(h) for h in lst(vs.spec.get("hosts")))
            for j in range(1, len(rules)):
                later_matchless = not lst(rules[j].get("match"))
                if later_matchless and any(not lst(r.get("match")) for r in rules[:j]):
                    continue  # a second rule without match is Istio's own IST0130
                for i in range(j):
                    if _rule_shadows(rules[i], rules[j]):
                        why = "it has no match" if not lst(rules[i].get("match")) else "its match takes every request"
                        ctx.report("MSH0001", vs, _rule_label(rules[j], j), full_name(vs), hosts,
                                   f"rule {_rule_label(rules[i], i)} comes first and {why}", path=f"spec.http[{j}]")
                        break
        # gateways merge VirtualServices for the same host in creation order: an older catch-all shadows newer routes
        by_gw_host: dict[tuple[str, str], list[Resource]] = defaultdict(list)
        for vs in ctx.valid_istio("VirtualService"):
            for g in lst(vs.spec.get("gateways")):
                g = str(g)
                if g == MESH_GATEWAY:
                    continue
                gw = g if "/" in g else f"{ns_of(vs)}/{g}"
                for h in lst(vs.spec.get("hosts")):
                    by_gw_host[(gw, str(h))].append(vs)
        shared = {k: v for k, v in by_gw_host.items() if len(v) > 1}
        if not shared:
            return
        # Istio merges them per host in creation order but moves catch-all routes last; only Envoy's generated
        # route table shows what is really shadowed, so translate the gateways instead of guessing
        self._from_envoy_routes(ctx, {gw for gw, _ in shared})

    @staticmethod
    def _from_envoy_routes(ctx: AnalysisContext, gateways: set[str]) -> bool:
        """Translate the gateway proxies these VirtualServices bind to and read Envoy's own route order: a route
        after one that matches every request is dead. Returns False when the model or translator is unavailable."""
        mesh = ctx.mesh
        if mesh is None:
            return False
        try:
            from meshctl.model.types import ProxyType
            from meshctl.translate import translate
        except ImportError:
            return False
        by_path = {f"/apis/{vs.group}/{vs.version}/namespaces/{ns_of(vs)}/virtual-service/{vs.name}": vs for vs in ctx.valid_istio("VirtualService")}
        seen_gw_names: set[tuple[str, ...]] = set()
        for proxy in mesh.proxies():
            if proxy.type is not ProxyType.ROUTER:
                continue
            merged = mesh.merged_gateway(proxy)
            names = tuple(sorted(merged.names)) if merged is not None else ()
            if not gateways & set(names) or names in seen_gw_names:
                continue
            seen_gw_names.add(names)  # replicas of one gateway get the same routes
            try:
                pc = translate(mesh, proxy)
            except Exception:  # noqa: BLE001 - a translator gap must not hide the other findings
                return False
            for rc in pc.routes:
                for vh in rc.virtual_hosts:
                    _dead_routes(ctx, vh, by_path, "/".join(names))
        return True


def _route_vs(route: Any, by_path: dict[str, Resource]) -> Resource | None:
    md = route.metadata.filter_metadata.get("istio") if route.HasField("metadata") else None
    if md is None or "config" not in md.fields:
        return None
    return by_path.get(md.fields["config"].string_value)


def _plain(route: Any) -> bool:
    m = route.match
    return not m.headers and not m.query_parameters and not m.HasField("runtime_fraction") and not m.HasField("grpc")


def _covers(earlier: Any, later: Any) -> bool:
    """Does Envoy's first-match ``earlier`` take every request ``later`` would match (path-wise, no other matchers)?"""
    if not _plain(earlier):
        return False
    e, lt = earlier.match, later.match
    ew = e.WhichOneof("path_specifier")
    if ew == "safe_regex":
        return e.safe_regex.regex in (".*", "/.*")
    if ew not in ("prefix", "path_separated_prefix"):
        return False
    p = e.prefix if ew == "prefix" else e.path_separated_prefix
    if e.HasField("case_sensitive") and not e.case_sensitive.value:
        return False
    lw = lt.WhichOneof("path_specifier")
    if lw == "prefix":
        target = lt.prefix
    elif lw == "path":
        target = lt.path
    elif lw == "path_separated_prefix":
        target = lt.path_separated_prefix
    else:
        return p == "/"
    if ew == "path_separated_prefix":
        return p == "/" or target == p or target.startswith(p.rstrip("/") + "/")
    return target.startswith(p)


def _dead_routes(ctx: AnalysisContext, vh: Any, by_path: dict[str, Resource], gateway: str) -> None:
    """Report routes of one VirtualService that a route of another, earlier in Envoy's table, makes unreachable."""
    routes = list(vh.routes)
    for j, later in enumerate(routes):
        vs = _route_vs(later, by_path)
        if vs is None:
            continue
        for i in range(j):
            earlier = routes[i]
            owner = _route_vs(earlier, by_path)
            if owner is vs or not _covers(earlier, later):
                continue  # within one VirtualService IST0130/IST0131 and the check above report it
            label = f'"{later.name}"' if later.name else f"#{j} of the merged table"
            who = f"a route of VirtualService {full_name(owner)}" if owner is not None else f"route #{i}"
            ctx.report("MSH0001", vs, label, full_name(vs), ",".join(list(vh.domains)[:1]),
                       f"on gateway {gateway}, Envoy matches {who} first and it takes every such request", path="spec.http")
            break


class RouteWeightAnalyzer(Analyzer):
    name = "meshctl.RouteWeightAnalyzer"
    description = "Finds weighted destinations whose weights do not add up to 100"
    codes = ("MSH0002",)

    def analyze(self, ctx: AnalysisContext) -> None:
        for vs in ctx.valid_istio("VirtualService"):
            for kind in ("http", "tcp", "tls"):
                for i, rule in enumerate(lst(vs.spec.get(kind))):
                    routes = [dct(r) for r in lst(dct(rule).get("route"))]
                    weights = [r.get("weight") for r in routes]
                    if not any(isinstance(w, int) and not isinstance(w, bool) for w in weights):
                        continue
                    total = sum(w for w in weights if isinstance(w, int) and not isinstance(w, bool))
                    if total != 100 and total > 0:
                        split = ":".join(str(w if isinstance(w, int) else 0) for w in weights)
                        ctx.report("MSH0002", vs, f"{full_name(vs)} {kind}[{i}]", total, split, path=f"spec.{kind}[{i}].route")


class SubsetAnalyzer(Analyzer):
    name = "meshctl.SubsetAnalyzer"
    description = "Finds routes to subsets no visible DestinationRule defines, and to subsets with no endpoints"
    codes = ("MSH0003", "MSH0004")

    def analyze(self, ctx: AnalysisContext) -> None:
        exact: dict[str, list[Resource]] = defaultdict(list)
        wild: list[tuple[Resource, str]] = []
        for dr in ctx.valid_istio("DestinationRule"):
            h = to_fqdn(str(dr.spec.get("host") or ""), ns_of(dr))
            if h.startswith("*"):
                wild.append((dr, h))
            else:
                exact[h].append(dr)
        for vs in ctx.valid_istio("VirtualService"):
            ns = ns_of(vs)
            for d in route_destinations(vs.spec):
                if not d.subset:
                    continue
                host = to_fqdn(d.host, ns)
                cands = exact.get(host, []) + [dr for dr, h in wild if host_matches(h, host)]
                visible = [dr for dr in cands if exported_to([str(e) for e in lst(dr.spec.get("exportTo"))], ns_of(dr), ns)]
                subsets = {str(dct(s).get("name")): dct(dct(s).get("labels")) for dr in visible for s in lst(dr.spec.get("subsets"))}
                if d.subset not in subsets:
                    if ctx.policies_known:
                        ctx.report("MSH0003", vs, d.subset, host, ns, path=d.path)
                    continue
                self._endpoints(ctx, vs, d, host, subsets[d.subset])

    @staticmethod
    def _endpoints(ctx: AnalysisContext, vs: Resource, d: Any, host: str, labels: dict[str, Any]) -> None:
        sh = ctx.lookup_host(host, ns_of(vs))
        if sh is None or sh.kind != "Service":
            return
        sel = dct(sh.resource.spec.get("selector"))
        if not sel:
            return
        backends = [p for p in ctx.pods_matching(sel) if ns_of(p) == sh.namespace]
        if not backends:
            return  # no workloads known at all (files without pods or controllers): nothing to compare against
        if not any(selector_matches(labels, p.labels) for p in backends):
            weight = d.weight if d.weight is not None else 100
            ctx.report("MSH0004", vs, d.subset, host, weight, ",".join(f"{k}={v}" for k, v in sorted(labels.items())), path=d.path)


def _export_scopes(vs: Resource) -> set[str]:
    """Namespaces a VirtualService is visible in (``{"*"}`` = all)."""
    exp = [str(e) for e in lst(vs.spec.get("exportTo"))]
    if not exp or "*" in exp:
        return {"*"}
    return {ns_of(vs) if e == "." else e for e in exp if e != "~"}


def _visible_together(a: Resource, b: Resource) -> bool:
    sa, sb = _export_scopes(a), _export_scopes(b)
    return bool(sa and sb and ("*" in sa or "*" in sb or sa & sb))


class HostClaimAnalyzer(Analyzer):
    name = "meshctl.HostClaimAnalyzer"
    description = "Finds hosts claimed by several VirtualServices for sidecars, where only the oldest takes effect"
    codes = ("MSH0005",)

    def analyze(self, ctx: AnalysisContext) -> None:
        by_host: dict[str, list[Resource]] = defaultdict(list)
        for vs in ctx.valid_istio("VirtualService"):
            if not _mesh_bound(vs):
                continue
            for h in dict.fromkeys(to_fqdn(str(h), ns_of(vs)) for h in lst(vs.spec.get("hosts"))):
                by_host[h].append(vs)
        for host, vss in by_host.items():
            if len(vss) < 2:
                continue
            vss = sorted(vss, key=lambda r: r.sort_key())
            for n, loser in enumerate(vss[1:], 1):
                # only an older VirtualService that some namespace sees together with this one takes the host from it
                rivals = [v for v in vss[:n] if _visible_together(v, loser)]
                if rivals:
                    names = [full_name(v) for v in vss if v is loser or _visible_together(v, loser)]
                    ctx.report("MSH0005", loser, host, names, full_name(rivals[0]), path="spec.hosts")


class PortLevelSettingsAnalyzer(Analyzer):
    name = "meshctl.PortLevelSettingsAnalyzer"
    description = "Finds DestinationRule portLevelSettings that silently drop top-level TLS, load balancing, pools or outlier detection"
    codes = ("MSH0006",)

    def analyze(self, ctx: AnalysisContext) -> None:
        for dr in ctx.valid_istio("DestinationRule"):
            policies = [("spec.trafficPolicy", dct(dr.spec.get("trafficPolicy")))]
            policies += [(f"spec.subsets[{i}].trafficPolicy", dct(dct(s).get("trafficPolicy"))) for i, s in enumerate(lst(dr.spec.get("subsets")))]
            for base, tp in policies:
                top = [f for f in POLICY_FIELDS if tp.get(f)]
                if not top:
                    continue
                for i, pls in enumerate(lst(tp.get("portLevelSettings"))):
                    pls = dct(pls)
                    dropped = [f for f in top if not pls.get(f)]
                    if dropped:
                        port = dct(pls.get("port")).get("number")
                        ctx.report("MSH0006", dr, port, "/".join(dropped), "/".join(dropped), path=f"{base}.portLevelSettings[{i}]")


def _egress_imports(sc: Resource, svc_ns: str, host: str) -> bool:
    """Does a Sidecar's egress listener import ``svc_ns/host`` (``ns/dnsName`` with ``*``, ``.``, ``~``)?"""
    sc_ns = ns_of(sc)
    for eg in lst(sc.spec.get("egress")):
        for h in lst(dct(eg).get("hosts")):
            ns, _, name = str(h).partition("/")
            if ns == "~":
                continue
            if ns == "." and svc_ns != sc_ns:
                continue
            if ns not in ("*", ".") and ns != svc_ns:
                continue
            if host_matches(name, host) and (name == "*" or name.startswith("*") or name == host):
                return True
    return False


class SidecarVisibilityAnalyzer(Analyzer):
    name = "meshctl.SidecarVisibilityAnalyzer"
    description = "Finds VirtualService destinations that a Sidecar's egress listeners hide from the workloads they route"
    codes = ("MSH0007",)

    def analyze(self, ctx: AnalysisContext) -> None:
        outbound_mode = str(dct(ctx.mesh_config.get("outboundTrafficPolicy")).get("mode") or "ALLOW_ANY")
        for sc in ctx.valid_istio("Sidecar"):
            if not lst(sc.spec.get("egress")):
                continue
            sc_ns = ns_of(sc)
            mode = str(dct(sc.spec.get("outboundTrafficPolicy")).get("mode") or outbound_mode)
            effect = "requests pass through to the original destination" if mode == "ALLOW_ANY" else "requests fail with 502 BlackHoleCluster"
            for vs in ctx.valid_istio("VirtualService"):
                if not _mesh_bound(vs) or not exported_to([str(e) for e in lst(vs.spec.get("exportTo"))], ns_of(vs), sc_ns):
                    continue
                vs_hosts = [to_fqdn(str(h), ns_of(vs)) for h in lst(vs.spec.get("hosts"))]
                # the VS only matters to these workloads if the Sidecar imports one of its hosts
                if not any(self._imported(ctx, sc, h, sc_ns) for h in vs_hosts):
                    continue
                for d in route_destinations(vs.spec):
                    if not d.host:
                        continue
                    host = to_fqdn(d.host, ns_of(vs))
                    if not self._imported(ctx, sc, host, ns_of(vs)):
                        ctx.report("MSH0007", sc, full_name(sc), host, full_name(vs), effect, path="spec.egress")

    @staticmethod
    def _imported(ctx: AnalysisContext, sc: Resource, host: str, client_ns: str) -> bool:
        sh = ctx.lookup_host(host, client_ns)
        svc_ns = sh.namespace if sh is not None else (host.split(".")[1] if host.endswith(".svc.cluster.local") else "")
        return _egress_imports(sc, svc_ns, host)


class MutualTLSAnalyzer(Analyzer):
    name = "meshctl.MutualTLSAnalyzer"
    description = "Finds DestinationRule TLS modes that contradict the PeerAuthentication of the servers they target"
    codes = ("MSH0008",)

    def analyze(self, ctx: AnalysisContext) -> None:
        if not ctx.valid_istio("PeerAuthentication"):
            return
        mesh = ctx.mesh
        if mesh is None or not mesh.peer_authentications:
            return
        for dr in ctx.valid_istio("DestinationRule"):
            mode = str(dct(dct(dr.spec.get("trafficPolicy")).get("tls")).get("mode") or "")
            if not mode:
                continue
            host = to_fqdn(str(dr.spec.get("host") or ""), ns_of(dr))
            svc = mesh.service(host)
            if svc is None or not svc.selector:
                continue
            for w in mesh.workloads:
                if w.namespace != svc.namespace or not selector_matches(svc.selector, w.labels):
                    continue
                server = mesh.mtls_mode(w)
                bad = (server == "STRICT" and mode in ("DISABLE", "SIMPLE", "MUTUAL")) or (server == "DISABLE" and mode == "ISTIO_MUTUAL")
                if bad:
                    pa = mesh.peer_auth.workload_policy(w) or mesh.peer_auth._ns_policy(w.namespace) or mesh.peer_auth._ns_policy(mesh.root_namespace)
                    pa_name = full_name(pa.resource) if pa is not None else "(mesh default)"
                    ctx.report("MSH0008", dr, full_name(dr), mode, host, pa_name, server, path="spec.trafficPolicy.tls.mode")
                    break


class EnvoyRegexAnalyzer(Analyzer):
    name = "meshctl.EnvoyRegexAnalyzer"
    description = "Finds VirtualService regexes Istio's validation accepts but Envoy's RE2 rejects (the route update is NACKed)"
    codes = ("MSH0011",)

    def analyze(self, ctx: AnalysisContext) -> None:
        from meshctl.analyze.analyzers.schema import regex_fields
        from meshctl.analyze.re2 import envoy_error

        for vs in ctx.valid_istio("VirtualService"):
            for path, _, regex in regex_fields(vs.spec):
                err = envoy_error(regex) if isinstance(regex, str) else None
                if err is not None:
                    ctx.report("MSH0011", vs, path, regex, err, path=path)


ANALYZERS: list[Analyzer] = [
    DuplicateResourceAnalyzer(),
    ShadowedRouteAnalyzer(),
    RouteWeightAnalyzer(),
    SubsetAnalyzer(),
    HostClaimAnalyzer(),
    PortLevelSettingsAnalyzer(),
    SidecarVisibilityAnalyzer(),
    MutualTLSAnalyzer(),
    EnvoyRegexAnalyzer(),
]
