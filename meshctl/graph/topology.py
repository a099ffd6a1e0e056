"""The slice of mesh configuration the traffic graph needs: services, workloads, gateways and routes.

Why a slice: the graph only needs "which workloads back which service (and subset)", "which routes send
what share where" and the Kiali badges. It reads them from loaded :class:`Resource` objects so the graph
works on any manifest folder; when the shared model (``meshctl.model.build_mesh``) is present the richer
service registry there is the better source, and :func:`topology_from_resources` stays the small reader of
the route fields Kiali badges come from.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from meshctl.sources.resource import Resource

WORKLOAD_KINDS = ("Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "Pod", "WorkloadEntry", "Job", "CronJob")


def fqdn(host: str, namespace: str, domain: str = "cluster.local") -> str:
    """Istio's short-name resolution: a host without dots is ``<host>.<ns>.svc.<domain>``."""
    if "." in host or host == "*":
        return host
    return f"{host}.{namespace}.svc.{domain}"


def split_service_host(host: str) -> tuple[str, str] | None:
    """``reviews.default.svc.cluster.local`` -> (``reviews``, ``default``); non-Kubernetes hosts -> None."""
    parts = host.split(".")
    if len(parts) >= 3 and parts[2] == "svc":
        return parts[0], parts[1]
    return None


@dataclass
class WorkloadInfo:
    name: str
    namespace: str
    kind: str
    labels: dict[str, str]
    sidecar: bool = True
    gateway: bool = False
    source: Resource | None = None

    @property
    def app(self) -> str:
        return self.labels.get("app") or self.labels.get("app.kubernetes.io/name") or self.name

    @property
    def version(self) -> str:
        return self.labels.get("version") or self.labels.get("app.kubernetes.io/version") or ""


@dataclass
class ServiceInfo:
    name: str
    namespace: str
    host: str
    selector: dict[str, str] | None
    ports: list[int] = field(default_factory=list)
    service_entry: bool = False
    external: bool = False
    source: Resource | None = None


@dataclass
class RouteDest:
    """One weighted destination of a VirtualService route."""

    host: str  # FQDN
    subset: str
    port: int | None
    weight: int
    vs: Resource
    path: str  # field path in the VS, for blame
    matched: bool = False  # the rule has a ``match`` (conditional); the catch-all rule's weights are the split


@dataclass
class Topology:
    services: dict[str, ServiceInfo] = field(default_factory=dict)  # host -> service
    workloads: dict[tuple[str, str], WorkloadInfo] = field(default_factory=dict)  # (ns, name) -> workload
    subsets: dict[tuple[str, str], dict[str, str]] = field(default_factory=dict)  # (host, subset) -> labels
    #: host -> destinations of its VS routes (for mesh traffic), gateway routes listed separately
    routes: dict[str, list[RouteDest]] = field(default_factory=dict)
    gateway_routes: list[tuple[WorkloadInfo, RouteDest]] = field(default_factory=list)
    #: host -> Kiali badge names (trafficshifting, faultinjection, mirroring, requesttimeout, ...)
    badges: dict[str, set[str]] = field(default_factory=dict)
    virtual_services: dict[str, list[Resource]] = field(default_factory=dict)  # host -> VS resources
    destination_rules: dict[str, list[Resource]] = field(default_factory=dict)  # host -> DR resources
    #: memo of :meth:`backends` (a topology is not changed after it is built; a new config makes a new one)
    _backends: dict[tuple[str, str], list[WorkloadInfo]] = field(default_factory=dict, repr=False)
    _by_ns: dict[str, list[WorkloadInfo]] = field(default_factory=dict, repr=False)

    # ----------------------------------------------------------------------------------------------
    def backends(self, host: str, subset: str = "") -> list[WorkloadInfo]:
        """Workloads behind ``host`` (and ``subset``): service selector AND subset labels."""
        key = (host, subset)
        hit = self._backends.get(key)
        if hit is None:
            hit = self._backends[key] = self._find_backends(host, subset)
        return hit

    def _find_backends(self, host: str, subset: str) -> list[WorkloadInfo]:
        svc = self.services.get(host)
        if svc is None or svc.selector is None:
            return []
        want = dict(svc.selector)
        if subset:
            labels = self.subsets.get((host, subset))
            if labels is None:
                return []
            want.update(labels)
        if not self._by_ns:
            for (ns, _), w in self.workloads.items():
                self._by_ns.setdefault(ns, []).append(w)
        items = list(want.items())
        picked = [w for w in self._by_ns.get(svc.namespace, []) if all(w.labels.get(k) == v for k, v in items)]
        return [w for w in picked if not w.gateway] or picked  # a gateway only when it is all there is

    def services_of(self, workload: WorkloadInfo) -> list[ServiceInfo]:
        """Services whose selector picks ``workload``."""
        return [
            s
            for s in self.services.values()
            if s.selector and s.namespace == workload.namespace and all(workload.labels.get(k) == v for k, v in s.selector.items())
        ]

    def workload_for_pod(self, pod: str, namespace: str, labels: dict[str, str] | None = None) -> WorkloadInfo | None:
        """Map a pod name (``reviews-v1-5d9c-abcde`` or ``reviews-v1-0``) and/or labels to a known workload."""
        if (namespace, pod) in self.workloads:
            return self.workloads[(namespace, pod)]
        best: WorkloadInfo | None = None
        for (ns, name), w in self.workloads.items():
            if ns != namespace:
                continue
            if pod.startswith(name + "-") and (best is None or len(name) > len(best.name)):
                best = w
        if best is None and labels:
            for (ns, _), w in self.workloads.items():
                if ns == namespace and w.labels and all(labels.get(k) == v for k, v in w.labels.items() if k in ("app", "version")):
                    return w
        return best


def _get(d: Any, *path: Any, default: Any = None) -> Any:
    for p in path:
        if isinstance(d, dict):
            d = d.get(p)
        elif isinstance(d, list) and isinstance(p, int) and p < len(d):
            d = d[p]
        else:
            return default
        if d is None:
            return default
    return d


def _workload(r: Resource) -> WorkloadInfo:
    if r.kind == "Pod":
        labels, ann = dict(r.labels), dict(r.annotations)
    elif r.kind == "WorkloadEntry":
        labels, ann = dict(r.spec.get("labels") or {}), {}
    elif r.kind == "CronJob":
        tmpl = _get(r.spec, "jobTemplate", "spec", "template", "metadata", default={})
        labels, ann = dict(tmpl.get("labels") or {}), dict(tmpl.get("annotations") or {})
    else:
        tmpl = _get(r.spec, "template", "metadata", default={})
        labels, ann = dict(tmpl.get("labels") or {}), dict(tmpl.get("annotations") or {})
    inject = ann.get("sidecar.istio.io/inject", labels.get("sidecar.istio.io/inject", "true"))
    gateway = "istio" in labels and "gateway" in labels.get("istio", "") or labels.get("gateway.istio.io/managed") is not None
    return WorkloadInfo(r.name, r.namespace or "default", r.kind, labels, sidecar=str(inject).lower() != "false", gateway=gateway, source=r)


def _add_badge(topo: Topology, host: str, badge: str) -> None:
    topo.badges.setdefault(host, set()).add(badge)


def _vs_routes(topo: Topology, vs: Resource) -> list[tuple[str, RouteDest]]:
    """(VS host, destination) pairs of every HTTP/TCP/TLS route, with Kiali badges recorded per host."""
    ns = vs.namespace or "default"
    hosts = [fqdn(h, ns) for h in vs.spec.get("hosts") or []]
    out: list[tuple[str, RouteDest]] = []
    for proto in ("http", "tcp", "tls"):
        rules = vs.spec.get(proto) or []
        for i, rule in enumerate(rules):
            if not isinstance(rule, dict):
                continue
            dests = rule.get("route") or []
            if proto == "http":
                if rule.get("fault"):
                    for h in hosts:
                        _add_badge(topo, h, "faultinjection")
                if rule.get("mirror") or rule.get("mirrors"):
                    for h in hosts:
                        _add_badge(topo, h, "mirroring")
                if rule.get("timeout") or rule.get("retries"):
                    for h in hosts:
                        _add_badge(topo, h, "requesttimeout")
                if rule.get("match") or len(rules) > 1:
                    for h in hosts:
                        _add_badge(topo, h, "requestrouting")
            if len(dests) > 1:
                for h in hosts:
                    _add_badge(topo, h, "trafficshifting" if proto == "http" else "tcptrafficshifting")
            total = sum(int(d.get("weight") or 0) for d in dests if isinstance(d, dict))
            for j, d in enumerate(dests):
                if not isinstance(d, dict):
                    continue
                dest = d.get("destination") or {}
                if not dest.get("host"):
                    continue
                weight = int(d.get("weight") or 0) if total else (100 if len(dests) == 1 else 0)
                rd = RouteDest(
                    host=fqdn(str(dest["host"]), ns),
                    subset=str(dest.get("subset") or ""),
                    port=_get(dest, "port", "number"),
                    weight=weight,
                    vs=vs,
                    path=f"spec.{proto}[{i}].route[{j}]",
                    matched=bool(rule.get("match")),
                )
                for h in hosts:
                    out.append((h, rd))
    for h in hosts:
        _add_badge(topo, h, "virtualservice")
    return out


def _has_circuit_breaker(policy: Any) -> bool:
    if not isinstance(policy, dict):
        return False
    if policy.get("connectionPool") or policy.get("outlierDetection"):
        return True
    return any(isinstance(p, dict) and (p.get("connectionPool") or p.get("outlierDetection")) for p in policy.get("portLevelSettings") or [])


def topology_from_resources(resources: Iterable[Resource]) -> Topology:
    """Read services, workloads, subsets, routes and badges out of loaded resources."""
    topo = Topology()
    resources = list(resources)
    gateways: dict[tuple[str, str], Resource] = {}
    for r in resources:
        ns = r.namespace or "default"
        if r.kind == "Service" and r.group == "":
            sel = r.spec.get("selector")
            host = fqdn(r.name, ns)
            ports = [int(p["port"]) for p in r.spec.get("ports") or [] if isinstance(p, dict) and p.get("port")]
            topo.services[host] = ServiceInfo(r.name, ns, host, dict(sel) if sel else None, ports, source=r)
        elif r.kind == "ServiceEntry":
            sel = _get(r.spec, "workloadSelector", "labels")
            ports = [int(p["number"]) for p in r.spec.get("ports") or [] if isinstance(p, dict) and p.get("number")]
            for h in r.spec.get("hosts") or []:
                topo.services.setdefault(
                    h,
                    ServiceInfo(
                        r.name,
                        ns,
                        h,
                        dict(sel) if sel else None,
                        ports,
                        service_entry=True,
                        external=r.spec.get("location", "MESH_EXTERNAL") != "MESH_INTERNAL",
                        source=r,
                    ),
                )
        elif r.kind in WORKLOAD_KINDS and (r.group in ("", "apps", "batch") or r.kind == "WorkloadEntry"):
            w = _workload(r)
            topo.workloads[(w.namespace, w.name)] = w
        elif r.kind == "Gateway" and r.group.startswith("networking.istio.io"):
            gateways[(ns, r.name)] = r
    # Gateways: mark selected workloads as gateways.
    for gw in gateways.values():
        sel = gw.spec.get("selector") or {}
        for w in topo.workloads.values():
            if sel and all(w.labels.get(k) == v for k, v in sel.items()):
                w.gateway = True
    for r in resources:
        ns = r.namespace or "default"
        if r.kind == "DestinationRule":
            host = fqdn(str(r.spec.get("host") or ""), ns)
            topo.destination_rules.setdefault(host, []).append(r)
            if _has_circuit_breaker(r.spec.get("trafficPolicy")):
                _add_badge(topo, host, "circuitbreaker")
            for s in r.spec.get("subsets") or []:
                if not isinstance(s, dict) or not s.get("name"):
                    continue
                topo.subsets.setdefault((host, str(s["name"])), dict(s.get("labels") or {}))
                if _has_circuit_breaker(s.get("trafficPolicy")):
                    _add_badge(topo, host, "circuitbreaker")
        elif r.kind == "VirtualService":
            vs_gateways = r.spec.get("gateways") or ["mesh"]
            for host, rd in _vs_routes(topo, r):
                topo.virtual_services.setdefault(host, [])
                if r not in topo.virtual_services[host]:
                    topo.virtual_services[host].append(r)
                if "mesh" in vs_gateways:
                    topo.routes.setdefault(host, []).append(rd)
                for g in vs_gateways:
                    if g == "mesh":
                        continue
                    gns, _, gname = g.rpartition("/")
                    bound = gateways.get((gns or ns, gname))
                    if bound is None:
                        continue
                    sel = bound.spec.get("selector") or {}
                    for w in topo.workloads.values():
                        if sel and all(w.labels.get(k) == v for k, v in sel.items()):
                            topo.gateway_routes.append((w, rd))
    return topo
