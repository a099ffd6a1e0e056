"""The slice of the mesh model the traffic graph needs: services, workloads, gateways, subsets and routes.

Why a slice: the graph only asks "which workloads back which service (and subset)", "which routes send
what share where" and which Kiali badges apply, many times per refresh. It takes them from the shared model
(``meshctl.model.build_mesh``: the same registry, workloads and resolved VirtualServices the translator
uses) once per config change, and answers those questions from small indexes.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field, fields
from typing import TYPE_CHECKING, Any

from meshctl.model.types import Workload
from meshctl.sources.resource import Resource

if TYPE_CHECKING:
    from meshctl.model.config import Config

def split_service_host(host: str) -> tuple[str, str] | None:
    """``reviews.default.svc.cluster.local`` -> (``reviews``, ``default``); non-Kubernetes hosts -> None."""
    parts = host.split(".")
    if len(parts) >= 3 and parts[2] == "svc":
        return parts[0], parts[1]
    return None


@dataclass
class WorkloadInfo(Workload):
    """A model workload plus what the graph adds: whether a Gateway selects it (then it is a proxy itself)."""

    gateway: bool = False

    @property
    def sidecar(self) -> bool:
        return self.sidecar_injected

    @classmethod
    def of(cls, w: Workload, gateway: bool = False) -> WorkloadInfo:
        return cls(**{f.name: getattr(w, f.name) for f in fields(Workload)}, gateway=gateway)


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


def _add_badge(topo: Topology, host: str, badge: str) -> None:
    topo.badges.setdefault(host, set()).add(badge)


def _has_circuit_breaker(policy: Any) -> bool:
    """A typed TrafficPolicy with connection-pool limits or outlier detection (also per port)."""
    if policy is None:
        return False
    if policy.connection_pool is not None or policy.outlier_detection is not None:
        return True
    return any(p.connection_pool is not None or p.outlier_detection is not None for p in policy.port_level_settings)


def _vs_routes(topo: Topology, vs: Config[Any]) -> list[tuple[str, RouteDest]]:
    """(VS host, destination) pairs of every HTTP/TCP/TLS route, with Kiali badges recorded per host.

    The model's VirtualServices are resolved like Pilot's: hosts and destination hosts fully qualified,
    delegates merged into their root.
    """
    spec = vs.spec
    hosts = list(spec.hosts)
    out: list[tuple[str, RouteDest]] = []
    for proto in ("http", "tcp", "tls"):
        rules = getattr(spec, proto)
        for i, rule in enumerate(rules):
            dests = list(rule.route)
            if proto == "http":
                if rule.fault is not None:
                    for h in hosts:
                        _add_badge(topo, h, "faultinjection")
                if rule.mirror is not None or rule.mirrors:
                    for h in hosts:
                        _add_badge(topo, h, "mirroring")
                if rule.timeout is not None or rule.retries is not None:
                    for h in hosts:
                        _add_badge(topo, h, "requesttimeout")
            if (getattr(rule, "match", None) or len(rules) > 1) and proto == "http":
                for h in hosts:
                    _add_badge(topo, h, "requestrouting")
            if len(dests) > 1:
                for h in hosts:
                    _add_badge(topo, h, "trafficshifting" if proto == "http" else "tcptrafficshifting")
            total = sum(int(d.weight or 0) for d in dests)
            for j, d in enumerate(dests):
                weight = int(d.weight or 0) if total else (100 if len(dests) == 1 else 0)
                port = d.destination.port.number if d.destination.port is not None else None
                rd = RouteDest(
                    host=d.destination.host,
                    subset=d.destination.subset or "",
                    port=port,
                    weight=weight,
                    vs=vs.resource,
                    path=f"spec.{proto}[{i}].route[{j}]",
                    matched=bool(getattr(rule, "match", None)),
                )
                for h in hosts:
                    out.append((h, rd))
    for h in hosts:
        _add_badge(topo, h, "virtualservice")
    return out


def topology_from_mesh(mesh: Any) -> Topology:
    """The graph's slice of a :class:`meshctl.model.mesh.Mesh` (services, workloads, subsets, routes, badges)."""
    from meshctl.model.gateway import gateways_for
    from meshctl.model.hosts import resolve_shortname

    topo = Topology()
    for svc in mesh.services:
        external = svc.registry != "Kubernetes"
        topo.services.setdefault(
            svc.hostname,
            ServiceInfo(svc.name, svc.namespace, svc.hostname, dict(svc.selector) if svc.selector is not None else None,
                        [p.port for p in svc.ports], service_entry=external, external=svc.mesh_external, source=svc.source),
        )
    gateway_of: dict[tuple[str, str], list[Any]] = {}
    for w in mesh.workloads:
        gws = gateways_for(w, mesh.gateways)
        info = WorkloadInfo.of(w, gateway=bool(gws))
        topo.workloads[(w.namespace, w.name)] = info
        for g in gws:
            gateway_of.setdefault((g.namespace, g.name), []).append(info)
    for dr in mesh.destination_rules:
        host = resolve_shortname(dr.spec.host, dr.namespace)
        topo.destination_rules.setdefault(host, []).append(dr.resource)
        if _has_circuit_breaker(dr.spec.traffic_policy):
            _add_badge(topo, host, "circuitbreaker")
        for sub in dr.spec.subsets:
            topo.subsets.setdefault((host, sub.name), dict(sub.labels))
            if _has_circuit_breaker(sub.traffic_policy):
                _add_badge(topo, host, "circuitbreaker")
    for vs in mesh.virtual_services:
        vs_gateways = list(vs.spec.gateways) or ["mesh"]
        for host, rd in _vs_routes(topo, vs):
            lst = topo.virtual_services.setdefault(host, [])
            if vs.resource not in lst:
                lst.append(vs.resource)
            if "mesh" in vs_gateways:
                topo.routes.setdefault(host, []).append(rd)
            for g in vs_gateways:
                if g == "mesh":
                    continue
                ns, _, name = g.partition("/")
                for w in gateway_of.get((ns, name), []):
                    topo.gateway_routes.append((w, rd))
    return topo


def topology_from_resources(resources: Iterable[Resource]) -> Topology:
    """Build the shared model (``meshctl.model.build_mesh``: validated, hosts resolved, delegates merged)
    and take the graph's slice of it. Invalid Istio config raises the model's file:line:field errors."""
    from meshctl.model import build_mesh

    return topology_from_mesh(build_mesh(list(resources)))
