"""EDS: one ClusterLoadAssignment per EDS cluster (``pilot/pkg/xds/endpoints/endpoint_builder.go``), and the
inline load assignments of STRICT_DNS/LOGICAL_DNS clusters.

Endpoints are filtered by service port and subset labels, unhealthy ones dropped, grouped into one
``LocalityLbEndpoints`` per ``region/zone/subzone`` (sorted), each endpoint carrying ``istio.workload``
telemetry metadata and ``envoy.transport_socket_match.tlsMode`` for sidecar-injected endpoints (unless
their PeerAuthentication disables mTLS). Locality load balancing is applied per requesting proxy:
``distribute`` weights, and failover priorities when the cluster has outlier detection.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any

from envoy.config.cluster.v3 import cluster_pb2
from envoy.config.core.v3 import address_pb2, base_pb2, health_check_pb2
from envoy.config.endpoint.v3 import endpoint_components_pb2 as ec_pb2
from envoy.config.endpoint.v3 import endpoint_pb2

from meshctl.model.mesh import Mesh
from meshctl.model.types import Endpoint, Proxy, Service
from meshctl.translate.cluster_policy import effective_locality_setting, port_policy, subset_policy
from meshctl.translate.util import parse_cluster_name, parse_sni_cluster_name

CLUSTER_ID = "Kubernetes"


def _address(addr: str, port: int) -> address_pb2.Address:
    if addr.startswith("unix://"):
        return address_pb2.Address(pipe=address_pb2.Pipe(path=addr[len("unix://") :]))
    return address_pb2.Address(socket_address=address_pb2.SocketAddress(address=addr, port_value=port))


def _split_locality(loc: str) -> tuple[str, str, str]:
    parts = (loc.split("/") + ["", "", ""])[:3]
    return parts[0], parts[1], parts[2]


def canonical_service(labels: dict[str, str], workload_name: str) -> tuple[str, str]:
    name = (
        labels.get("service.istio.io/canonical-name")
        or labels.get("app.kubernetes.io/name")
        or labels.get("app")
        or workload_name
    )
    rev = (
        labels.get("service.istio.io/canonical-revision")
        or labels.get("app.kubernetes.io/version")
        or labels.get("version")
        or "latest"
    )
    return name, rev


def workload_name(ep: Endpoint) -> str:
    w = ep.workload
    if w is None:
        return ""
    if w.kind == "Pod" and w.source is not None:
        for o in w.source.metadata.get("ownerReferences") or []:
            if isinstance(o, dict) and o.get("kind") == "ReplicaSet" and o.get("name"):
                return str(o["name"]).rsplit("-", 1)[0]
            if isinstance(o, dict) and o.get("name"):
                return str(o["name"])
    return w.name


def lb_endpoint(mesh: Mesh, ep: Endpoint, namespace: str) -> ec_pb2.LbEndpoint:
    lbe = ec_pb2.LbEndpoint(health_status=health_check_pb2.HEALTHY)
    lbe.endpoint.address.CopyFrom(_address(ep.address, ep.port))
    lbe.load_balancing_weight.value = max(ep.weight, 1)
    tls_mode = ep.tls_mode
    if tls_mode == "istio" and ep.workload is not None and mesh.mtls_mode(ep.workload, ep.port) == "DISABLE":
        tls_mode = "disabled"
    fm = lbe.metadata.filter_metadata
    if tls_mode and tls_mode != "disabled":
        fm["envoy.transport_socket_match"].fields["tlsMode"].string_value = tls_mode
    wname = workload_name(ep)
    cname, crev = canonical_service(ep.labels, wname)
    if crev == "latest":  # Istio does not send the default revision
        crev = ""
    ns = ep.workload.namespace if ep.workload else namespace
    fm["istio"].fields["workload"].string_value = f"{wname};{ns};{cname};{crev};{CLUSTER_ID}"
    return lbe


def locality_groups(
    mesh: Mesh,
    endpoints: Iterable[Endpoint],
    namespace: str,
    *,
    with_labels: bool = False,
    cache: dict[int, ec_pb2.LbEndpoint] | None = None,
) -> list[ec_pb2.LocalityLbEndpoints]:
    """Endpoints grouped per locality (sorted by ``region/zone/subzone``), weights summed per group."""
    groups: dict[str, list[Endpoint]] = {}
    for ep in endpoints:
        groups.setdefault(ep.locality or "", []).append(ep)
    out = []
    for loc in sorted(groups):
        llb = ec_pb2.LocalityLbEndpoints()
        region, zone, sub = _split_locality(loc)
        if region or zone or sub:
            llb.locality.region, llb.locality.zone, llb.locality.sub_zone = region, zone, sub
        total = 0
        for ep in groups[loc]:
            if cache is not None:
                lbe = cache.get(id(ep))  # an endpoint appears in its service's cluster and in a subset's
                if lbe is None:
                    lbe = cache[id(ep)] = lb_endpoint(mesh, ep, namespace)
            else:
                lbe = lb_endpoint(mesh, ep, namespace)
            if (
                with_labels
            ):  # failoverPriority needs endpoint labels while computing priorities (removed after)
                lbe.metadata.filter_metadata[_LABELS_KEY].update(
                    topology_labels(ep.labels, ep.locality, ep.network)
                )
            total += lbe.load_balancing_weight.value
            llb.lb_endpoints.append(lbe)
            if with_labels:
                del lbe.metadata.filter_metadata[_LABELS_KEY]  # keep the cached message clean
        llb.load_balancing_weight.value = total
        out.append(llb)
    return out


# ------------------------------------------------------------------------------------------ locality LB
def _lb_priority(proxy_loc: tuple[str, str, str], ep_loc: base_pb2.Locality) -> int:
    r, z, s = proxy_loc
    if ep_loc.region == r:
        if ep_loc.zone == z:
            return 0 if ep_loc.sub_zone == s else 1
        return 2
    return 3


def _locality_match(loc: base_pb2.Locality | tuple[str, str, str], pattern: str) -> bool:
    vals = (loc.region, loc.zone, loc.sub_zone) if isinstance(loc, base_pb2.Locality) else loc
    for v, p in zip(vals, (pattern.split("/") + ["*", "*", "*"])[:3], strict=False):
        if p == "*":
            return True
        if p != v:
            return False
    return True


def apply_locality_lb(
    cla: endpoint_pb2.ClusterLoadAssignment, proxy: Proxy, setting: Any, outlier: bool
) -> None:
    """Per-proxy locality LB: ``distribute`` weights, else failover priorities (only with outlier detection)."""
    if setting is None:
        return
    proxy_loc = _split_locality(proxy.workload.locality)
    if setting.distribute:
        for d in setting.distribute:
            if not _locality_match(proxy_loc, d.from_ or "*"):
                continue
            unmatched = set(range(len(cla.endpoints)))
            for pattern, weight in d.to.items():
                orig: dict[int, int] = {}
                for i, group in enumerate(cla.endpoints):
                    if i in unmatched and _locality_match(group.locality, pattern):
                        unmatched.discard(i)
                        orig[i] = group.load_balancing_weight.value or 1
                total = sum(orig.values())
                for i, w in orig.items():
                    val = w * weight / total if total else 0
                    if val > 0:
                        cla.endpoints[i].load_balancing_weight.value = math.ceil(val)
            for i in unmatched:
                del cla.endpoints[i].lb_endpoints[:]
            break
        return
    if not outlier:
        return
    if setting.failover_priority:
        _apply_failover_priority(cla, proxy, list(setting.failover_priority))
        if not setting.failover:  # Istio combines with locality failover only when `failover` is also set
            _compact(cla)
            return
    prio_map: dict[int, list[int]] = {}
    for i, group in enumerate(cla.endpoints):
        p = _lb_priority(proxy_loc, group.locality)
        if p == 3:
            for f in setting.failover:
                if f.from_ == proxy_loc[0]:
                    if group.locality.region != f.to:
                        p = 4
                    break
        p = group.priority * 5 + p
        group.priority = p
        prio_map.setdefault(p, []).append(i)
    for new, old in enumerate(sorted(prio_map)):
        for i in prio_map[old]:
            cla.endpoints[i].priority = new


def _compact(cla: endpoint_pb2.ClusterLoadAssignment) -> None:
    """Priorities must run 0..N without gaps."""
    order = {p: i for i, p in enumerate(sorted({g.priority for g in cla.endpoints}))}
    for g in cla.endpoints:
        g.priority = order[g.priority]


def _apply_failover_priority(
    cla: endpoint_pb2.ClusterLoadAssignment, proxy: Proxy, labels: list[str]
) -> None:
    """``failoverPriority``: endpoints matching more leading labels of the proxy get a higher priority."""
    proxy_labels = topology_labels(proxy.labels, proxy.workload.locality, proxy.workload.network)
    new_groups: list[ec_pb2.LocalityLbEndpoints] = []
    for group in cla.endpoints:
        by_prio: dict[int, list[ec_pb2.LbEndpoint]] = {}
        for lbe in group.lb_endpoints:
            ep_labels = _labels_of(lbe)
            matched = 0
            for key in labels:
                k, _, v = key.partition("=")
                want = v if v else proxy_labels.get(k)
                if want is not None and ep_labels.get(k) == want:
                    matched += 1
                else:
                    break
            by_prio.setdefault(len(labels) - matched, []).append(lbe)
        for prio in sorted(by_prio):
            g = ec_pb2.LocalityLbEndpoints(locality=group.locality, priority=prio)
            g.lb_endpoints.extend(by_prio[prio])
            g.load_balancing_weight.value = sum(e.load_balancing_weight.value for e in by_prio[prio])
            new_groups.append(g)
    del cla.endpoints[:]
    cla.endpoints.extend(new_groups)


_LABELS_KEY = "meshctl.labels"
NETWORK_LABEL = "topology.istio.io/network"
REGION_LABEL = "topology.kubernetes.io/region"
ZONE_LABEL = "topology.kubernetes.io/zone"
SUBZONE_LABEL = "topology.istio.io/subzone"
HOSTNAME_LABEL = "kubernetes.io/hostname"
#: Service ``trafficDistribution`` values Istio turns into a forced failoverPriority (and over which labels).
TRAFFIC_DISTRIBUTION = {
    "PreferClose": [NETWORK_LABEL, REGION_LABEL, ZONE_LABEL, SUBZONE_LABEL],
    "PreferSameZone": [NETWORK_LABEL, REGION_LABEL, ZONE_LABEL, SUBZONE_LABEL],
    "PreferSameNode": [NETWORK_LABEL, REGION_LABEL, ZONE_LABEL, SUBZONE_LABEL, HOSTNAME_LABEL],
}
TRAFFIC_DISTRIBUTION_ANNOTATION = "networking.istio.io/traffic-distribution"


def topology_labels(labels: dict[str, str], locality: str, network: str) -> dict[str, str]:
    """``labels`` plus the topology labels Istio derives from the locality and network (as pods carry them)."""
    region, zone, sub = _split_locality(locality)
    out = {NETWORK_LABEL: network, REGION_LABEL: region, ZONE_LABEL: zone, SUBZONE_LABEL: sub}
    out.update(labels)
    return out


def traffic_distribution(service: Service) -> list[str] | None:
    """The failoverPriority labels forced by the Service's ``trafficDistribution`` (or Istio's annotation)."""
    if service.source is None:
        return None
    spec_value = service.source.spec.get("trafficDistribution")
    value = spec_value or service.source.annotations.get(TRAFFIC_DISTRIBUTION_ANNOTATION)
    return TRAFFIC_DISTRIBUTION.get(str(value)) if value else None


def _labels_of(lbe: ec_pb2.LbEndpoint) -> dict[str, str]:
    s = lbe.metadata.filter_metadata.get(_LABELS_KEY)
    return {k: v.string_value for k, v in s.fields.items()} if s is not None else {}


# ------------------------------------------------------------------------------------------ builders
def service_endpoints(
    mesh: Mesh, service: Service, port: int, subset_labels: dict[str, str] | None
) -> list[Endpoint]:
    return mesh.endpoints(service, port, subset_labels or None, healthy_only=True)


def load_assignment(
    mesh: Mesh,
    proxy: Proxy,
    cluster_name: str,
    service: Service,
    port: int,
    subset_labels: dict[str, str] | None,
    *,
    policy_setting: Any = None,
    outlier: bool = False,
    need_labels: bool = False,
    cache: dict[int, ec_pb2.LbEndpoint] | None = None,
) -> endpoint_pb2.ClusterLoadAssignment:
    eps = service_endpoints(mesh, service, port, subset_labels)
    cla = endpoint_pb2.ClusterLoadAssignment(cluster_name=cluster_name)
    forced = traffic_distribution(service)
    with_labels = need_labels or bool(forced)
    cla.endpoints.extend(locality_groups(mesh, eps, service.namespace, with_labels=with_labels, cache=cache))
    if forced:  # trafficDistribution: failover by topology even without outlier detection
        _apply_failover_priority(cla, proxy, forced)
        _compact(cla)
    else:
        apply_locality_lb(cla, proxy, policy_setting, outlier)
    for g in cla.endpoints:
        for lbe in g.lb_endpoints:
            if _LABELS_KEY in lbe.metadata.filter_metadata:
                del lbe.metadata.filter_metadata[_LABELS_KEY]
    return cla


def build_endpoints(
    mesh: Mesh, proxy: Proxy, clusters: list[cluster_pb2.Cluster]
) -> list[endpoint_pb2.ClusterLoadAssignment]:
    """One ClusterLoadAssignment per EDS cluster in ``clusters`` (in the same order)."""
    scope = mesh.sidecar_scope(proxy)
    by_host = {s.hostname: s for s in scope.services}
    cache: dict[int, ec_pb2.LbEndpoint] = {}
    out = []
    for c in clusters:
        if c.type != cluster_pb2.Cluster.EDS:
            continue
        name = c.eds_cluster_config.service_name or c.name
        parsed = parse_cluster_name(name)
        sni = parse_sni_cluster_name(name) if parsed is None else None
        if sni is not None:  # SNI-DNAT cluster of an AUTO_PASSTHROUGH gateway: only mTLS-capable endpoints
            parsed = ("outbound", sni[0], sni[1], sni[2])
        svc = by_host.get(parsed[3]) if parsed else None
        if parsed is None or svc is None or parsed[0] != "outbound":
            out.append(endpoint_pb2.ClusterLoadAssignment(cluster_name=name))
            continue
        _, port, subset, host = parsed
        dr = mesh.destination_rule(proxy, svc)
        labels: dict[str, str] | None = None
        policy = port_policy(dr.spec.traffic_policy, port) if dr and dr.spec else None
        if subset:
            ss = dr.subset(subset) if dr else None
            if ss is None:
                out.append(endpoint_pb2.ClusterLoadAssignment(cluster_name=name))
                continue
            labels = dict(ss.labels)
            policy = subset_policy(policy, ss.traffic_policy, port)
        setting = effective_locality_setting(mesh.mesh_config, policy.load_balancer if policy else None)
        cla = load_assignment(
            mesh,
            proxy,
            name,
            svc,
            port,
            labels,
            policy_setting=setting,
            outlier=c.HasField("outlier_detection"),
            need_labels=bool(setting is not None and setting.failover_priority),
            cache=cache,
        )
        if sni is not None:
            for g in cla.endpoints:
                keep = [
                    e for e in g.lb_endpoints if "envoy.transport_socket_match" in e.metadata.filter_metadata
                ]
                del g.lb_endpoints[:]
                g.lb_endpoints.extend(keep)
                g.load_balancing_weight.value = sum(e.load_balancing_weight.value for e in keep)
        out.append(cla)
    return out
