"""Istio's abstract model (what Pilot's PushContext holds), built offline from resources.

Entry points
------------
``build_mesh(resources, mesh_config=None, strict=True) -> Mesh``
    Validates every Istio config (typed models in :mod:`meshctl.model.api`; all errors reported together with
    file:line:field, exit 65) and builds the registry, workloads, endpoints and config indexes. ``strict=False``
    skips invalid configs (listed in ``mesh.invalid``), as istiod ignores config it cannot use. Kubernetes
    objects are checked too (the fields the model reads: :mod:`meshctl.model.api.kube`). Duplicates (same kind,
    namespace, name) resolve as ``kubectl apply`` does, the last definition wins; the dropped ones are
    ``mesh.duplicates`` and ``mesh.duplicate_warnings()`` gives one stderr line for each.
``load_mesh_config(path) -> MeshConfig``
    A bare MeshConfig YAML or the ``istio`` ConfigMap (``data.mesh``). ``MeshConfig()`` gives Istio's defaults.

Mesh API (``meshctl.model.mesh.Mesh``)
--------------------------------------
Registry and workloads
    ``mesh.services`` (sorted by hostname, namespace; k8s Services as ``name.ns.svc.cluster.local``, one per
    ServiceEntry host), ``mesh.services_by_host[host]``, ``mesh.service(host, ns=None)``,
    ``mesh.workloads`` (Pods, one synthetic instance per Deployment/StatefulSet/DaemonSet/ReplicaSet, WorkloadEntries),
    ``mesh.endpoints(service, port=None, subset_labels=None, healthy_only=False)``,
    ``mesh.service_targets(workload)`` -> [ServiceTarget(service, port, target_port)] (inbound ports).
Typed configs (each a ``Config`` with ``.resource``, ``.spec`` (typed), ``.ref`` (ConfigRef), ``.key`` ``ns/name``),
in Istio precedence order (creationTimestamp, name, namespace)
    ``mesh.virtual_services`` (hosts/destinations/gateways fully qualified, delegates merged into roots),
    ``mesh.delegate_virtual_services``, ``mesh.destination_rules``, ``mesh.gateways``, ``mesh.service_entries``,
    ``mesh.sidecars``, ``mesh.workload_entries``, ``mesh.workload_groups``, ``mesh.peer_authentications``,
    ``mesh.authorization_policies``, ``mesh.request_authentications``; ``mesh.mesh_config``, ``mesh.root_namespace``.
Per proxy
    ``mesh.proxy("pod/x" | "deploy/x" | "sts/x" | "ds/x" | "workloadentry/x" | "x" | "x.ns", namespace=None) -> Proxy``
    (ROUTER when a Gateway's selector matches, else SIDECAR; UsageError listing known targets),
    ``mesh.proxies()``, ``mesh.sidecar_scope(proxy) -> SidecarScope`` (``.services``, ``.virtual_services``,
    ``.egress`` listeners, ``.ingress``, ``.outbound_traffic_policy``, ``.registry_only``,
    ``.inbound_connection_pool``), ``mesh.destination_rule(proxy, service, inbound=False) -> MergedDestinationRule |
    None`` (``.spec`` merged DR, ``.configs``, ``.ref``, ``.selector``, ``.subset(name)``, ``.subset_origin``),
    ``mesh.merged_gateway(proxy) -> MergedGateway | None`` (``.servers`` [GatewayServer: ``.server``, ``.gateway``,
    ``.index``, ``.port``, ``.target_port``, ``.bind``, ``.route_name``, ``.kind``, ``.tls_mode``, ``.sni_hosts``],
    ``.rejected`` [(server, reason)], ``.names``, ``.listeners()``),
    ``mesh.gateway_virtual_services(proxy)``, ``mesh.mtls_mode(workload, port)``,
    ``mesh.peer_auth.service_mode(service)``.

Synthetic data (documented in docs/model.md): Services without clusterIP get a stable VIP in 10.96.0.0/12;
workloads without an IP get a stable one in 10.244.0.0/16.
"""

from meshctl.model.api import MeshConfig, parse_duration
from meshctl.model.config import Config
from meshctl.model.destinationrule import MergedDestinationRule
from meshctl.model.gateway import GatewayServer, MergedGateway
from meshctl.model.mesh import Mesh, ServiceTarget, build_mesh
from meshctl.model.meshconfig import load_mesh_config, parse_mesh_config
from meshctl.model.sidecar import EgressListener, SidecarScope
from meshctl.model.types import (
    ConfigRef,
    Endpoint,
    Protocol,
    Proxy,
    ProxyType,
    Resolution,
    Service,
    ServicePort,
    Workload,
)

__all__ = [
    "Config",
    "ConfigRef",
    "EgressListener",
    "Endpoint",
    "GatewayServer",
    "Mesh",
    "MeshConfig",
    "MergedDestinationRule",
    "MergedGateway",
    "Protocol",
    "Proxy",
    "ProxyType",
    "Resolution",
    "Service",
    "ServicePort",
    "ServiceTarget",
    "SidecarScope",
    "Workload",
    "build_mesh",
    "load_mesh_config",
    "parse_duration",
    "parse_mesh_config",
]
