"""The Mesh: Istio's abstract model built from resources (Pilot's PushContext for offline use).

``build_mesh`` validates every Istio config (all errors reported together, each with file:line:field),
builds the service registry, workloads and endpoints, indexes config, and answers per-proxy questions
(SidecarScope, DestinationRule, merged Gateway, mTLS mode) with caching. See the index in
:mod:`meshctl.model`.
"""

from __future__ import annotations

from collections import defaultdict
from functools import cached_property
from typing import Any

from meshctl.errors import ErrorList, MeshctlError, UsageError
from meshctl.model.api import (
    AuthorizationPolicy,
    DestinationRule,
    Gateway,
    MeshConfig,
    PeerAuthentication,
    RequestAuthentication,
    ServiceEntry,
    Sidecar,
    VirtualService,
    WorkloadEntry,
    WorkloadGroup,
)
from meshctl.model.api.kube import check_kube, kube_model
from meshctl.model.api.validate import spec_model, validate
from meshctl.model.config import Config, make_config, merge_delegates, resolve_virtual_service
from meshctl.model.destinationrule import DestinationRuleIndex, MergedDestinationRule
from meshctl.model.endpoints import EndpointIndex, build_endpoint_index
from meshctl.model.gateway import MergedGateway, gateways_for, merge_gateways
from meshctl.model.hosts import DOMAIN_SUFFIX, labels_match
from meshctl.model.peerauth import PeerAuthIndex
from meshctl.model.registry import assign_vips, kube_service, service_entry_services
from meshctl.model.sidecar import SidecarScope, build_sidecar_scope
from meshctl.model.types import Endpoint, Proxy, ProxyType, Service, ServicePort, Workload
from meshctl.model.workloads import build_workloads
from meshctl.sources.duplicates import Duplicate, resolve_duplicates
from meshctl.sources.resource import Resource

#: target prefixes accepted by Mesh.proxy -> workload kinds they mean
TARGET_KINDS: dict[str, tuple[str, ...]] = {
    "pod": ("Pod",),
    "po": ("Pod",),
    "pods": ("Pod",),
    "deploy": ("Deployment",),
    "deployment": ("Deployment",),
    "deployments": ("Deployment",),
    "sts": ("StatefulSet",),
    "statefulset": ("StatefulSet",),
    "ds": ("DaemonSet",),
    "daemonset": ("DaemonSet",),
    "rs": ("ReplicaSet",),
    "replicaset": ("ReplicaSet",),
    "workloadentry": ("WorkloadEntry",),
    "we": ("WorkloadEntry",),
}


class ServiceTarget:
    """An inbound (service, port) a workload serves, with the workload port it lands on."""

    __slots__ = ("service", "port", "target_port")

    def __init__(self, service: Service, port: ServicePort, target_port: int) -> None:
        self.service, self.port, self.target_port = service, port, target_port

    def __repr__(self) -> str:
        return f"<ServiceTarget {self.service.hostname}:{self.port.port} -> {self.target_port}>"


class Mesh:
    """Everything Pilot knows, for one set of resources and one MeshConfig."""

    def __init__(
        self, resources: list[Resource], mesh_config: MeshConfig | None = None, *, strict: bool = True
    ) -> None:
        # kubectl-apply semantics, shared with the analyzer and the xDS server: the last definition wins
        resources, dups = resolve_duplicates(resources)
        #: definitions replaced by a later one with the same kind, namespace and name (commands warn about them)
        self.duplicates: list[Duplicate] = dups
        #: problems of configs skipped because they are invalid (only when built with ``strict=False``)
        self.invalid: list[MeshctlError] = []
        self.mesh_config = mesh_config or MeshConfig()
        self.root_namespace = self.mesh_config.root_namespace
        self.domain_suffix = DOMAIN_SUFFIX
        configs: dict[str, list[Config[Any]]] = defaultdict(list)
        errors: list[MeshctlError] = []
        mc = self.mesh_config
        default_export = {
            "VirtualService": tuple(mc.default_virtual_service_export_to or ["*"]),
            "DestinationRule": tuple(mc.default_destination_rule_export_to or ["*"]),
            "ServiceEntry": tuple(mc.default_service_export_to or ["*"]),
        }
        usable: list[Resource] = []
        for r in resources:
            try:
                if spec_model(r) is not None:
                    configs[r.kind].append(make_config(r, validate(r), default_export.get(r.kind, ("*",))))
                elif kube_model(r) is not None:
                    check_kube(r)
                usable.append(r)
            except ErrorList as e:
                errors.extend(e.errors)
            except MeshctlError as e:
                errors.append(e)
        if errors and strict:
            raise errors[0] if len(errors) == 1 else ErrorList(errors)
        self.invalid = errors
        #: the resources the model is built from: duplicates resolved, invalid ones left out (``strict=False``)
        self.resources = resources = usable
        for lst in configs.values():
            lst.sort(key=lambda c: c.resource.sort_key())

        self.service_entries: list[Config[ServiceEntry]] = configs["ServiceEntry"]
        self.destination_rules: list[Config[DestinationRule]] = configs["DestinationRule"]
        self.gateways: list[Config[Gateway]] = configs["Gateway"]
        self.sidecars: list[Config[Sidecar]] = configs["Sidecar"]
        self.workload_entries: list[Config[WorkloadEntry]] = configs["WorkloadEntry"]
        self.workload_groups: list[Config[WorkloadGroup]] = configs["WorkloadGroup"]
        self.peer_authentications: list[Config[PeerAuthentication]] = configs["PeerAuthentication"]
        self.authorization_policies: list[Config[AuthorizationPolicy]] = configs["AuthorizationPolicy"]
        self.request_authentications: list[Config[RequestAuthentication]] = configs["RequestAuthentication"]

        # VirtualServices: resolved, delegates merged into roots. Delegates (no hosts) are kept apart.
        resolved = [resolve_virtual_service(c) for c in configs["VirtualService"]]
        self.delegate_virtual_services: list[Config[VirtualService]] = [
            c for c in resolved if not c.spec.hosts
        ]
        delegates = {c.key: c for c in self.delegate_virtual_services}
        self.virtual_services: list[Config[VirtualService]] = merge_delegates(
            [c for c in resolved if c.spec.hosts], delegates
        )

        # registry
        services = [
            kube_service(r, default_export["ServiceEntry"])
            for r in resources
            if r.kind == "Service" and r.group == ""
        ]
        assign_vips(services)
        for c in self.service_entries:
            services.extend(service_entry_services(c.resource, c.spec, default_export["ServiceEntry"]))
        self.services: list[Service] = sorted(services, key=lambda s: (s.hostname, s.namespace))
        self.services_by_host: dict[str, list[Service]] = defaultdict(list)
        for s in self.services:
            self.services_by_host[s.hostname].append(s)

        self.workloads: list[Workload] = build_workloads(
            resources, [(c.resource, c.spec) for c in self.workload_entries]
        )
        for w in self.workloads:  # gateway pods carry an Istio proxy even when not injected
            if gateways_for(w, self.gateways) and "security.istio.io/tlsMode" not in w.labels:
                w.sidecar_injected = True
        self.endpoint_index: EndpointIndex = build_endpoint_index(self.services, self.workloads, resources)
        self.dr_index = DestinationRuleIndex(
            self.destination_rules, self.root_namespace, default_export["DestinationRule"]
        )
        self.peer_auth = PeerAuthIndex(self.peer_authentications, self.root_namespace)
        self._scopes: dict[tuple[str, str, str], SidecarScope] = {}
        self._gateways_cache: dict[int, MergedGateway] = {}

    def duplicate_warnings(self) -> list[str]:
        """One line per dropped duplicate, ``file:line: Kind ns/name is defined more than once: ...`` (for stderr)."""
        return [f"{d.dropped.pos()}: {d.message()}" for d in self.duplicates]

    # ------------------------------------------------------------------ services and endpoints
    def service(self, hostname: str, namespace: str | None = None) -> Service | None:
        """The service for ``hostname`` (in ``namespace`` when given; else the first)."""
        for s in self.services_by_host.get(hostname, ()):
            if namespace is None or s.namespace == namespace:
                return s
        return None

    def endpoints(
        self,
        service: Service,
        port: ServicePort | int | None = None,
        subset_labels: dict[str, str] | None = None,
        *,
        healthy_only: bool = False,
    ) -> list[Endpoint]:
        """Endpoints of ``service`` (optionally one service port, optionally filtered by subset labels)."""
        sp = service.port_by_number(port) if isinstance(port, int) else port
        if isinstance(port, int) and sp is None:
            return []
        return self.endpoint_index.get(service, sp, subset_labels, healthy_only=healthy_only)

    def service_targets(self, workload: Workload) -> list[ServiceTarget]:
        """Services (and ports) selecting ``workload``: what its sidecar serves inbound."""
        out = []
        for s in self.services:
            if (
                not s.selector
                or s.namespace != workload.namespace
                or not labels_match(s.selector, workload.labels)
            ):
                continue
            for p in s.ports:
                tp: int | None
                if workload.kind == "WorkloadEntry" and p.name in workload.ports:
                    tp = workload.ports[p.name]
                elif isinstance(p.target_port, int):
                    tp = p.target_port
                elif isinstance(p.target_port, str):
                    tp = workload.ports.get(p.target_port)
                else:
                    tp = p.port
                if tp is not None:
                    out.append(ServiceTarget(s, p, tp))
        return out

    # ------------------------------------------------------------------ config lookups
    def destination_rule(
        self, proxy: Proxy | None, service: Service, *, inbound: bool = False
    ) -> MergedDestinationRule | None:
        """The (merged) DR applying to ``service`` for ``proxy`` (None proxy = a client in the service's namespace).

        ``inbound=True`` for a workload's own inbound clusters: workloadSelector DRs are ignored there, as in Istio."""
        ns = proxy.namespace if proxy else service.namespace
        labels = proxy.labels if proxy else {}
        return self.dr_index.lookup(ns, labels, service, inbound=inbound)

    def sidecar_scope(self, proxy: Proxy) -> SidecarScope:
        """What ``proxy`` sees. Gateways get the default scope of their namespace (Sidecars do not apply)."""
        key = (
            proxy.namespace,
            proxy.type.value,
            ",".join(f"{k}={v}" for k, v in sorted(proxy.labels.items())),
        )
        sc = self._scopes.get(key)
        if sc is None:
            sc = build_sidecar_scope(
                proxy.namespace,
                proxy.labels,
                sidecars=self.sidecars,
                services=self.services,
                virtual_services=self.virtual_services,
                root_namespace=self.root_namespace,
                mesh_outbound_mode=self.mesh_config.outbound_traffic_policy.mode,
                use_sidecar=proxy.type is ProxyType.SIDECAR,
            )
            self._scopes[key] = sc
        return sc

    def merged_gateway(self, proxy: Proxy) -> MergedGateway | None:
        """Servers of all Gateways selecting ``proxy`` (None for sidecars)."""
        if proxy.type is not ProxyType.ROUTER:
            return None
        key = id(proxy.workload)
        mg = self._gateways_cache.get(key)
        if mg is None:
            mg = self._gateways_cache[key] = merge_gateways(proxy.workload, self.gateways, self.services)
        return mg

    def gateway_virtual_services(self, proxy: Proxy) -> list[Config[VirtualService]]:
        """VSs bound to any gateway of ``proxy`` (``ns/name`` in ``gateways``) and exported to the VS namespace."""
        mg = self.merged_gateway(proxy)
        if mg is None:
            return []
        names = mg.names
        return [v for v in self.virtual_services if any(g in names for g in v.spec.gateways)]

    def mtls_mode(self, workload: Workload, port: int | None = None) -> str:
        """Effective PeerAuthentication mode (STRICT/PERMISSIVE/DISABLE) for inbound ``port`` of ``workload``."""
        return self.peer_auth.mode(workload, port)

    # ------------------------------------------------------------------ proxies
    def _make_proxy(self, w: Workload) -> Proxy:
        ptype = ProxyType.ROUTER if gateways_for(w, self.gateways) else ProxyType.SIDECAR
        return Proxy(type=ptype, workload=w, dns_domain=f"{w.namespace}.svc.{self.domain_suffix}")

    @cached_property
    def _proxies(self) -> list[Proxy]:
        return [self._make_proxy(w) for w in self.workloads if w.sidecar_injected]

    def proxies(self) -> list[Proxy]:
        """Every proxy: sidecars of injected workloads, and gateways (workloads any Gateway selects)."""
        return list(self._proxies)

    def proxy(self, target: str, namespace: str | None = None) -> Proxy:
        """Resolve ``pod/NAME``, ``deploy/NAME`` (deployment/, sts/, ds/, rs/), ``workloadentry/NAME`` or a bare
        name (``NAME`` or ``NAME.NAMESPACE``) to a proxy. UsageError listing the candidates when unknown."""
        kind, sep, name = target.partition("/")
        kinds: tuple[str, ...] | None = None
        if sep:
            kinds = TARGET_KINDS.get(kind.lower())
            if kinds is None:
                raise UsageError(
                    f"unknown target kind {kind!r} in {target!r}; use one of: pod/, deploy/, sts/, ds/, workloadentry/"
                )
        else:
            name = target
        ns = namespace
        cands = [
            w
            for w in self.workloads
            if w.name == name and (kinds is None or w.kind in kinds) and (ns is None or w.namespace == ns)
        ]
        if not cands and "." in name and ns is None:
            n, _, n_ns = name.rpartition(".")
            cands = [
                w
                for w in self.workloads
                if w.name == n and w.namespace == n_ns and (kinds is None or w.kind in kinds)
            ]
        if not cands and kinds and "Pod" not in kinds:
            # a controller resolved through the pods its selector matches
            for r in self.resources:
                if r.kind in kinds and r.name == name and (ns is None or r.namespace == ns):
                    sel = r.spec.get("selector") or {}
                    match = sel.get("matchLabels") if isinstance(sel, dict) and "matchLabels" in sel else sel
                    cands = [
                        w
                        for w in self.workloads
                        if w.kind == "Pod"
                        and w.namespace == r.namespace
                        and match
                        and labels_match(match, w.labels)
                    ]
                    if cands:
                        break
        if not cands and (kinds is None or "Pod" in kinds):
            # a real pod name (``reviews-v1-5d9c8b7f4-x2x9z``) for a controller the input only has as a template
            ctrl = [
                w
                for w in self.workloads
                if w.kind in ("Deployment", "StatefulSet", "DaemonSet", "ReplicaSet")
                and name.startswith(w.name + "-")
                and (ns is None or w.namespace == ns)
            ]
            cands = sorted(ctrl, key=lambda w: -len(w.name))[:1]
        if not cands:
            known = (
                ", ".join(sorted({f"{self._target_name(w)}.{w.namespace}" for w in self.workloads}))
                or "(none)"
            )
            where = f" in namespace {ns}" if ns else ""
            raise UsageError(f"no workload {target!r}{where}; known: {known}")
        if len({w.namespace for w in cands}) > 1:
            raise UsageError(
                f"{target!r} exists in several namespaces ({', '.join(sorted({w.namespace for w in cands}))}); pass a namespace"
            )
        return self._make_proxy(cands[0])

    @staticmethod
    def _target_name(w: Workload) -> str:
        prefix = {
            "Pod": "pod",
            "Deployment": "deploy",
            "StatefulSet": "sts",
            "DaemonSet": "ds",
            "ReplicaSet": "rs",
            "WorkloadEntry": "workloadentry",
        }.get(w.kind, w.kind.lower())
        return f"{prefix}/{w.name}"

    def __repr__(self) -> str:
        return f"<Mesh services={len(self.services)} workloads={len(self.workloads)} vs={len(self.virtual_services)} dr={len(self.destination_rules)}>"


def build_mesh(
    resources: list[Resource], mesh_config: MeshConfig | None = None, *, strict: bool = True
) -> Mesh:
    """Build the model. Invalid Istio config raises InputError/ErrorList (exit 65) naming file:line:field.

    ``strict=False`` skips invalid configs instead (as istiod ignores config it cannot use, e.g. read from a live
    cluster) and lists their problems in ``mesh.invalid``."""
    return Mesh(resources, mesh_config, strict=strict)
