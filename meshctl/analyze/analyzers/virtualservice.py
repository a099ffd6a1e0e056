"""VirtualService analyzers: destination hosts/ports/subsets, gateways, mesh host conflicts, JWT claim routes."""

from __future__ import annotations

from collections import defaultdict

from meshctl.analyze.analyzers._util import (
    K8S_INTERNAL_GATEWAY,
    MESH_GATEWAY,
    dct,
    full_name,
    lst,
    mirror_destinations,
    route_destinations,
    short_or_full,
)
from meshctl.analyze.context import (
    GATEWAY_API_GROUP,
    AnalysisContext,
    ns_of,
    selector_matches,
    to_fqdn,
)
from meshctl.analyze.registry import Analyzer
from meshctl.model.hosts import host_matches
from meshctl.sources.resource import Resource


class DestinationHostAnalyzer(Analyzer):
    name = "virtualservice.DestinationHostAnalyzer"
    description = "Checks the destination hosts associated with each virtual service"
    codes = ("IST0101", "IST0112", "IST0140")

    def analyze(self, ctx: AnalysisContext) -> None:
        subset_dests = self._subset_destinations(ctx)
        for r in ctx.istio("VirtualService"):
            spec = r.spec
            ns = ns_of(r)
            export_to = [str(e) for e in lst(spec.get("exportTo"))]
            for d, what in [(d, "host") for d in route_destinations(spec)] + [(d, "mirror host") for d in mirror_destinations(spec)]:
                sh = ctx.lookup_host(d.host, ns, export_to)
                if sh is None:
                    if ctx.registry_known:
                        ctx.report("IST0101", r, what, d.host, path=d.path)
                    continue
                ports = [p for p in sh.ports]
                if d.port is None:
                    if len(ports) > 1:
                        ctx.report("IST0112", r, d.host, [p.get("number", p.get("port")) for p in ports], path=d.path)
                    continue
                if not any(str(p.get("number", p.get("port"))) == str(d.port) for p in ports):
                    ctx.report("IST0101", r, "host:port", f"{d.host}:{d.port}", path=d.path)
            self._ingress_subsets(ctx, r, subset_dests)

    @staticmethod
    def _subset_destinations(ctx: AnalysisContext) -> dict[str, list[str]]:
        """VS full name -> hosts of its subset destinations that are also its own hosts."""
        out: dict[str, list[str]] = defaultdict(list)
        for r in ctx.istio("VirtualService"):
            hosts = [str(h) for h in lst(r.spec.get("hosts"))]
            for d in route_destinations({"http": r.spec.get("http")}):
                if d.subset and d.host in hosts:
                    out[full_name(r)].append(d.host)
        return out

    @staticmethod
    def _ingress_subsets(ctx: AnalysisContext, r: Resource, subset_dests: dict[str, list[str]]) -> None:
        if not lst(r.spec.get("gateways")):
            return
        for d in route_destinations({"http": r.spec.get("http")}):
            if d.subset:
                continue
            for vs_name, hosts in subset_dests.items():
                for h in hosts:
                    if h == d.host:
                        ctx.report("IST0140", r, vs_name, full_name(r), path=d.path)


def _gateway_hosts(gw: Resource) -> list[str]:
    """Server hosts of an Istio Gateway with ``./h`` -> ``<gw ns>/h``, ``*/h`` -> ``h`` (Istio's sanitize)."""
    out: list[str] = []
    gw_ns = ns_of(gw)
    for server in lst(gw.spec.get("servers")):
        hosts = [str(h) for h in lst(dct(server).get("hosts"))]
        for h in hosts:
            if "/" in h:
                a, _, b = h.partition("/")
                if a == ".":
                    out.append(f"{gw_ns}/{b}")
                elif a == "*":
                    if b == "*":
                        out.append("*")
                        break
                    out.append(b)
                else:
                    out.append(h)
            else:
                out.append(h)
    return out


def _names_for_namespace(hosts: list[str], ns: str) -> list[str]:
    """Istio's ``host.NamesForNamespace``: hosts visible to namespace ``ns``."""
    out = []
    for h in hosts:
        if "/" in h:
            a, _, b = h.partition("/")
            if a == ns or a == "*":
                out.append(b)
        else:
            out.append(h)
    return out


class GatewayAnalyzer(Analyzer):
    name = "virtualservice.GatewayAnalyzer"
    description = "Checks the gateways associated with each virtual service"
    codes = ("IST0101", "IST0132", "IST0165")

    def analyze(self, ctx: AnalysisContext) -> None:
        for r in ctx.istio("VirtualService"):
            vs_ns = ns_of(r)
            vs_hosts = [str(h) for h in lst(r.spec.get("hosts"))]
            for i, gw_name in enumerate(lst(r.spec.get("gateways"))):
                gw_name = str(gw_name)
                if gw_name == MESH_GATEWAY:
                    continue
                path = f"spec.gateways[{i}]"
                if K8S_INTERNAL_GATEWAY in gw_name:
                    ctx.report("IST0165", r, full_name(r), gw_name, path=path)
                    continue
                gns, gname = short_or_full(vs_ns, gw_name)
                gw_full = f"{gns}/{gname}" if gns else gname
                istio_gw = ctx.find("Gateway", gns, gname, "networking.istio.io")
                k8s_gw = None if istio_gw is not None else ctx.find("Gateway", gns, gname, GATEWAY_API_GROUP)
                if istio_gw is None and k8s_gw is None:
                    ctx.report("IST0101", r, "gateway", gw_name, path=path)
                if istio_gw is not None:
                    gw_hosts = _names_for_namespace(_gateway_hosts(istio_gw), vs_ns)
                elif k8s_gw is not None:
                    gw_hosts = [str(dct(li).get("hostname") or "*") for li in lst(k8s_gw.spec.get("listeners"))]
                else:
                    gw_hosts = []
                if not any(host_matches(gh, vh) for gh in gw_hosts for vh in vs_hosts):
                    ctx.report("IST0132", r, vs_hosts, full_name(r), gw_full, path=path)


class ConflictingMeshGatewayHostsAnalyzer(Analyzer):
    name = "virtualservice.ConflictingMeshGatewayHostsAnalyzer"
    description = "Checks if multiple virtual services associated with the mesh gateway have conflicting hosts"
    codes = ("IST0109",)

    def analyze(self, ctx: AnalysisContext) -> None:
        # (scope, fqdn) -> VSs; scope "*" = exported everywhere, otherwise a namespace
        groups: dict[tuple[str, str], dict[str, Resource]] = defaultdict(dict)
        for r in ctx.istio("VirtualService"):
            gws = [str(g) for g in lst(r.spec.get("gateways"))]
            if gws and MESH_GATEWAY not in gws:
                continue
            ns = ns_of(r)
            export = [str(e) for e in lst(r.spec.get("exportTo"))]
            scopes = {"*"} if not export or "*" in export else {ns if e == "." else e for e in export}
            for sc in sorted(scopes):
                for h in lst(r.spec.get("hosts")):
                    groups[(sc, to_fqdn(str(h), ns))][full_name(r)] = r
        # a VS visible everywhere also clashes with namespace-scoped ones for the same host
        scoped_by_fqdn: dict[str, list[tuple[str, str]]] = defaultdict(list)
        for k in groups:
            if k[0] != "*":
                scoped_by_fqdn[k[1]].append(k)
        for (sc, fqdn), members in list(groups.items()):
            if sc != "*":
                continue
            scoped = scoped_by_fqdn.get(fqdn, [])
            for k in scoped:
                groups[k].update(members)
            if scoped:
                del groups[(sc, fqdn)]
        # one message per VirtualService, naming every VS it clashes with and every clashing host
        per_vs: dict[str, tuple[Resource, dict[str, None], list[str]]] = {}
        for (sc, fqdn), members in groups.items():
            if len(members) < 2:
                continue
            for name, r in members.items():
                entry = per_vs.setdefault(name, (r, {}, []))
                entry[1].update(dict.fromkeys(members))
                entry[2].append(f"{sc}/{fqdn}")
        for r, names, hosts in per_vs.values():
            ctx.report("IST0109", r, ",".join(names), ",".join(hosts), path="metadata.name")


class DestinationRuleAnalyzer(Analyzer):
    name = "virtualservice.DestinationRuleAnalyzer"
    description = "Checks the destination rules associated with each virtual service"
    codes = ("IST0101",)

    def analyze(self, ctx: AnalysisContext) -> None:
        if not ctx.policies_known:
            return
        known: set[tuple[str, str]] = set()
        for dr in ctx.istio("DestinationRule"):
            host = to_fqdn(str(dr.spec.get("host") or ""), ns_of(dr))
            for ss in lst(dr.spec.get("subsets")):
                known.add((host, str(dct(ss).get("name") or "")))
        for r in ctx.istio("VirtualService"):
            ns = ns_of(r)
            for d, what in [(d, "host+subset in destinationrule") for d in route_destinations(r.spec)] + [
                (d, "mirror+subset in destinationrule") for d in mirror_destinations(r.spec)
            ]:
                if not d.subset:
                    continue
                if (to_fqdn(d.host, ns), d.subset) not in known:
                    ctx.report("IST0101", r, what, f"{d.host}+{d.subset}", path=d.path)


JWT_CLAIM_PREFIX = "@request.auth.claims"


class JWTClaimRouteAnalyzer(Analyzer):
    name = "virtualservice.JWTClaimRouteAnalyzer"
    description = "Checks the VirtualService using JWT claim based routing has corresponding RequestAuthentication"
    codes = ("IST0149",)

    def analyze(self, ctx: AnalysisContext) -> None:
        ra_by_ns: dict[str, list[dict[str, str]]] = defaultdict(list)
        for ra in ctx.istio("RequestAuthentication"):
            ra_by_ns[ns_of(ra)].append(dct(dct(ra.spec.get("selector")).get("matchLabels")))
        for r in ctx.istio("VirtualService"):
            key = self._claim_key(r)
            if not key:
                continue
            for gw_name in lst(r.spec.get("gateways")):
                gw_name = str(gw_name)
                if gw_name == MESH_GATEWAY:
                    continue
                gns, gname = short_or_full(ns_of(r), gw_name)
                gw = ctx.find("Gateway", gns, gname, "networking.istio.io")
                if gw is None:
                    continue
                sel = dct(gw.spec.get("selector"))
                for pod in ctx.workload_pods:
                    if not selector_matches(sel, pod.labels):
                        continue
                    sels = ra_by_ns.get("istio-system", []) + ra_by_ns.get(ns_of(pod), [])
                    if not any(selector_matches(s, pod.labels) for s in sels):
                        ctx.report("IST0149", r, key, f"{gns}/{gname}" if gns else gname, pod.name)

    @staticmethod
    def _claim_key(r: Resource) -> str:
        for rule in lst(r.spec.get("http")):
            for m in lst(dct(rule).get("match")):
                for field in ("headers", "withoutHeaders"):
                    for k in dct(dct(m).get(field)):
                        if str(k).startswith(JWT_CLAIM_PREFIX):
                            return str(k)
        return ""


ANALYZERS: list[Analyzer] = [
    DestinationHostAnalyzer(),
    GatewayAnalyzer(),
    ConflictingMeshGatewayHostsAnalyzer(),
    DestinationRuleAnalyzer(),
    JWTClaimRouteAnalyzer(),
]
