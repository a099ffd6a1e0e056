"""CDS: the clusters Pilot sends a proxy (``pilot/pkg/networking/core/cluster.go``, ``cluster_builder.go``).

Sidecars get, for every service their SidecarScope imports: ``outbound|<port>||<host>`` per service port plus one
cluster per DestinationRule subset; then ``BlackHoleCluster``, ``PassthroughCluster``, one ``inbound|<port>||`` per
workload port, and ``InboundPassthroughCluster``. Gateways get the outbound clusters and ``BlackHoleCluster`` only.
Duplicate names: the first wins. Spec: ``../shared/research/istio-translation.md`` §1.1, §2, §4.

Known simplifications (docs/model.md): no ``istio.metadata_exchange`` cluster filter (an istio-proxy-only
extension stock Envoy rejects), no HBONE/ambient clusters, no dynamic-forward-proxy (``DYNAMIC_DNS``) clusters.
"""

from __future__ import annotations

from envoy.config.cluster.v3 import cluster_pb2
from envoy.config.core.v3 import address_pb2, config_source_pb2, extension_pb2
from envoy.config.endpoint.v3 import endpoint_components_pb2 as ec_pb2
from envoy.extensions.network.dns_resolver.cares.v3 import cares_dns_resolver_pb2
from envoy.extensions.upstreams.http.v3 import http_protocol_options_pb2 as hpo_pb2
from google.protobuf import duration_pb2

from meshctl.model.destinationrule import MergedDestinationRule
from meshctl.model.mesh import Mesh, ServiceTarget
from meshctl.model.types import Protocol, Proxy, ProxyType, Resolution, Service, ServicePort
from meshctl.translate.cluster_policy import (
    HTTP_PROTOCOL_OPTIONS_KEY,
    ClusterOptions,
    EffectivePolicy,
    apply_connection_pool,
    apply_h2_upgrade,
    apply_load_balancer,
    apply_outlier_detection,
    dur,
    effective_locality_setting,
    port_policy,
    set_upstream_protocol,
    subset_policy,
    with_mesh_defaults,
)
from meshctl.translate.cluster_tls import apply_proxy_protocol, apply_upstream_tls
from meshctl.translate.endpoint import apply_locality_lb, load_assignment
from meshctl.translate.util import (
    BLACKHOLE_CLUSTER,
    INBOUND_PASSTHROUGH_CLUSTER,
    PASSTHROUGH_CLUSTER,
    alt_stat_name,
    inbound_cluster_name,
    outbound_cluster_name,
    sni_name,
)

C = cluster_pb2.Cluster
#: Istio disables ORIGINAL_DST cleanup on inbound clusters with the largest protobuf Duration it can express.
MAX_CLEANUP_SECONDS = 9223372035
INBOUND_PASSTHROUGH_BIND = "127.0.0.6"
CARES_UDP_MAX_QUERIES = 100  # PILOT_DNS_CARES_UDP_MAX_QUERIES
DNS_JITTER_NANOS = 100_000_000  # 100ms, PILOT_DNS_JITTER_DURATION default


def stat_prefix(pattern: str, svc: Service, subset: str, port: ServicePort, target_port: int) -> str:
    """MeshConfig ``outboundClusterStatName``/``inboundClusterStatName`` (Istio ``telemetry.BuildStatPrefix``)."""
    k8s = svc.registry == "Kubernetes"
    out = pattern.replace("%SERVICE%", f"{svc.name}.{svc.namespace}" if k8s else svc.hostname)
    out = out.replace("%SERVICE_NAME%", svc.name if k8s else svc.hostname)
    out = out.replace("%SERVICE_FQDN%", svc.hostname)
    out = out.replace("%SUBSET_NAME%", subset)
    out = out.replace("%TARGET_PORT%", str(target_port))
    out = out.replace("%SERVICE_PORT%", str(port.port))
    return out.replace("%SERVICE_PORT_NAME%", port.name)


def discovery_type(proxy: Proxy, svc: Service) -> int:
    """``convertResolution``: Passthrough services are ORIGINAL_DST on sidecars, EDS on gateways."""
    r = svc.resolution
    if r is Resolution.DNS_LB:
        return C.STRICT_DNS
    if r is Resolution.DNS_ROUND_ROBIN_LB:
        return C.LOGICAL_DNS
    if r is Resolution.PASSTHROUGH:
        return C.EDS if proxy.type is ProxyType.ROUTER else C.ORIGINAL_DST
    return C.EDS


def service_accounts(mesh: Mesh, svc: Service) -> list[str]:
    """SPIFFE identities expected behind ``svc`` (endpoint service accounts, SE subjectAltNames)."""
    td = mesh.mesh_config.trust_domain
    out = set(svc.subject_alt_names)
    for ep in mesh.endpoints(svc):
        if ep.service_account:
            ns = ep.workload.namespace if ep.workload else svc.namespace
            out.add(f"spiffe://{td}/ns/{ns}/sa/{ep.service_account}")
    return sorted(out)


def _eds_config(c: cluster_pb2.Cluster) -> None:
    if c.type != C.EDS:
        return
    c.eds_cluster_config.service_name = c.name
    cs = c.eds_cluster_config.eds_config
    cs.ads.SetInParent()
    cs.initial_fetch_timeout.CopyFrom(duration_pb2.Duration())
    cs.resource_api_version = config_source_pb2.V3


def _services_metadata(c: cluster_pb2.Cluster, services: list[Service]) -> None:
    """``istio.services``: [{host, name, namespace}] (telemetry metadata, ``addTelemetryMetadata``)."""
    lv = c.metadata.filter_metadata["istio"].fields["services"].list_value
    for s in services:
        f = lv.values.add().struct_value.fields
        f["host"].string_value = s.hostname
        f["name"].string_value = s.name
        f["namespace"].string_value = s.namespace


def _set_istio_fields(c: cluster_pb2.Cluster, fields: dict[str, str | bool]) -> None:
    f = c.metadata.filter_metadata["istio"].fields
    for k, v in fields.items():
        if isinstance(v, bool):
            f[k].bool_value = v
        else:
            f[k].string_value = v


class ClusterBuilder:
    """Builds the clusters of one proxy. Holds the per-proxy context Istio's ClusterBuilder holds."""

    def __init__(self, mesh: Mesh, proxy: Proxy) -> None:
        self.mesh = mesh
        self.proxy = proxy
        self.mc = mesh.mesh_config
        self.sidecar = proxy.type is ProxyType.SIDECAR
        self.scope = mesh.sidecar_scope(proxy)

    # ---------------------------------------------------------------------------------------- common
    def _base(
        self,
        name: str,
        ctype: int,
        port: ServicePort,
        svc: Service | None,
        lb_endpoints: list[ec_pb2.LocalityLbEndpoints] | None,
        services_md: list[Service],
    ) -> tuple[cluster_pb2.Cluster, ClusterOptions] | None:
        """``buildCluster``: name, type, alt_stat_name, DNS settings, inline endpoints, upstream protocol."""
        c = C(name=name, type=ctype)  # type: ignore[arg-type]
        c.common_lb_config.SetInParent()
        c.alt_stat_name = alt_stat_name(name)
        if ctype in (C.STRICT_DNS, C.LOGICAL_DNS):
            c.dns_lookup_family = C.V4_ONLY
            cfg = cares_dns_resolver_pb2.CaresDnsResolverConfig()
            cfg.udp_max_queries.value = CARES_UDP_MAX_QUERIES
            c.typed_dns_resolver_config.CopyFrom(
                extension_pb2.TypedExtensionConfig(name="envoy.network.dns_resolver.cares")
            )
            c.typed_dns_resolver_config.typed_config.Pack(cfg)
            c.dns_jitter.CopyFrom(duration_pb2.Duration(nanos=DNS_JITTER_NANOS))  # PILOT_DNS_JITTER_DURATION
            c.dns_refresh_rate.CopyFrom(dur(self.mc.dns_refresh_rate))
            c.respect_dns_ttl = True
        if ctype in (C.STRICT_DNS, C.LOGICAL_DNS, C.STATIC):
            if not lb_endpoints:
                return None  # Istio drops DNS/STATIC clusters without endpoints
            if ctype == C.LOGICAL_DNS:  # Envoy allows exactly one endpoint
                first = ec_pb2.LocalityLbEndpoints()
                first.CopyFrom(lb_endpoints[0])
                del first.lb_endpoints[1:]
                lb_endpoints = [first]
            c.load_assignment.cluster_name = name
            c.load_assignment.endpoints.extend(lb_endpoints)
        elif (
            ctype == C.ORIGINAL_DST
            and svc is not None
            and isinstance(port.target_port, int)
            and svc.registry == "External"
            and port.target_port != port.port
        ):
            c.original_dst_lb_config.upstream_port_override.value = port.target_port
        opts = ClusterOptions()
        set_upstream_protocol(opts, port.protocol, self.sidecar)
        _services_metadata(c, services_md)
        return c, opts

    def _apply_outbound_policy(
        self,
        c: cluster_pb2.Cluster,
        opts: ClusterOptions,
        policy: EffectivePolicy | None,
        svc: Service,
        port: ServicePort,
        sni: str,
        sans: list[str],
        dr: MergedDestinationRule | None,
        *,
        tls: bool = True,
    ) -> str | None:
        """``applyTrafficPolicy`` for an outbound cluster; returns the TLS mode applied.

        ``tls=False`` for SNI-DNAT clusters, which forward the client's TLS untouched."""
        p = policy or EffectivePolicy()
        apply_connection_pool(c, opts, p.connection_pool, self.mc)
        apply_h2_upgrade(opts, port.protocol, self.mc, p.connection_pool)
        apply_outlier_detection(c, p.outlier_detection)
        apply_load_balancer(c, p.load_balancer, self.mc)
        mtls_mode = self._service_mtls_mode(svc, port, p)
        auto = (
            bool(self.mc.enable_auto_mtls)
            and not svc.mesh_external
            and mtls_mode not in ("UNKNOWN", "DISABLE")
        )
        use_credential = not self.sidecar or (dr is not None and dr.selector is not None)
        mode = None
        if tls:
            mode = apply_upstream_tls(
                c,
                opts,
                p.tls,
                sni=sni,
                sans=sans,
                auto_mtls=auto,
                external_registry=svc.registry == "External",
                use_credential=use_credential,
            )
            apply_proxy_protocol(c, p.proxy_protocol)
        if c.type == C.ORIGINAL_DST:
            c.lb_policy = C.CLUSTER_PROVIDED
        if c.HasField("load_assignment") and c.type in (C.STRICT_DNS, C.LOGICAL_DNS):
            setting = effective_locality_setting(self.mc, p.load_balancer)
            apply_locality_lb(c.load_assignment, self.proxy, setting, c.HasField("outlier_detection"))
        return mode

    def _service_mtls_mode(self, svc: Service, port: ServicePort, p: EffectivePolicy) -> str:
        """``BestEffortInferServiceMTLSMode``: external -> UNKNOWN; passthrough services need every endpoint to
        have a sidecar; then the namespace/mesh PeerAuthentication mode (PERMISSIVE by default)."""
        if svc.mesh_external:
            return "UNKNOWN"
        if svc.resolution is Resolution.PASSTHROUGH or (
            p.load_balancer is not None and p.load_balancer.simple == "PASSTHROUGH"
        ):
            eps = self.mesh.endpoints(svc, port)
            if not eps or any(e.tls_mode == "disabled" for e in eps):
                return "DISABLE"
        return self.mesh.peer_auth.namespace_mode(svc.namespace)

    def _dns_endpoints(
        self, svc: Service, port: ServicePort, subset_labels: dict[str, str] | None
    ) -> list[ec_pb2.LocalityLbEndpoints]:
        cla = load_assignment(self.mesh, self.proxy, "", svc, port.port, subset_labels)
        return list(cla.endpoints)

    # ---------------------------------------------------------------------------------------- outbound
    def outbound(
        self,
        svc: Service,
        port: ServicePort,
        dr: MergedDestinationRule | None,
        sans: list[str],
        *,
        sni_dnat: bool = False,
    ) -> list[cluster_pb2.Cluster]:
        """The default cluster of (service, port) and one per DR subset. ``sni_dnat``: the
        ``outbound_.<port>_.<subset>_.<host>`` clusters of AUTO_PASSTHROUGH gateways (no TLS origination)."""
        ctype = discovery_type(self.proxy, svc)
        naming = sni_name if sni_dnat else outbound_cluster_name
        name = naming(port.port, "", svc.hostname)
        dns = ctype in (C.STRICT_DNS, C.LOGICAL_DNS)
        built = self._base(
            name, ctype, port, svc, self._dns_endpoints(svc, port, None) if dns else None, [svc]
        )
        if built is None:
            return []
        c, opts = built
        if self.mc.outbound_cluster_stat_name:
            c.alt_stat_name = alt_stat_name(stat_prefix(self.mc.outbound_cluster_stat_name, svc, "", port, 0))
        policy = with_mesh_defaults(
            port_policy(dr.spec.traffic_policy, port.port) if dr and dr.spec else None, self.mc
        )
        mode = self._apply_outbound_policy(
            c, opts, policy, svc, port, sni_name(port.port, "", svc.hostname), sans, dr, tls=not sni_dnat
        )
        _eds_config(c)
        if svc.mesh_external:
            _set_istio_fields(c, {"external": True})
        if dr is not None:
            _set_istio_fields(c, {"config": dr.ref.istio_path})
            if mode in ("SIMPLE", "MUTUAL"):
                _set_istio_fields(c, {"alpn_override": "false"})
        opts.finish(c)
        out = [c]
        if dr is None:
            return out
        for ss in dr.subsets:
            spolicy = subset_policy(policy, ss.traffic_policy, port.port)
            s_passthrough = (
                ss.traffic_policy is not None
                and ss.traffic_policy.load_balancer is not None
                and ss.traffic_policy.load_balancer.simple == "PASSTHROUGH"
            )
            stype = C.ORIGINAL_DST if s_passthrough else ctype
            sname = naming(port.port, ss.name, svc.hostname)
            lbe = (
                self._dns_endpoints(svc, port, dict(ss.labels))
                if stype in (C.STRICT_DNS, C.LOGICAL_DNS)
                else None
            )
            sbuilt = self._base(sname, stype, port, svc, lbe, [svc])
            if sbuilt is None:
                continue
            sc, sopts = sbuilt
            if self.mc.outbound_cluster_stat_name:
                sc.alt_stat_name = alt_stat_name(
                    stat_prefix(self.mc.outbound_cluster_stat_name, svc, ss.name, port, 0)
                )
            smode = self._apply_outbound_policy(
                sc,
                sopts,
                spolicy,
                svc,
                port,
                sni_name(port.port, ss.name, svc.hostname),
                sans,
                dr,
                tls=not sni_dnat,
            )
            _eds_config(sc)
            if svc.mesh_external:
                _set_istio_fields(sc, {"external": True})
            _set_istio_fields(sc, {"config": dr.ref.istio_path, "subset": ss.name})
            if smode in ("SIMPLE", "MUTUAL"):
                _set_istio_fields(sc, {"alpn_override": "false"})
            sopts.finish(sc)
            out.append(sc)
        return out

    def outbound_clusters(self) -> list[cluster_pb2.Cluster]:
        out: list[cluster_pb2.Cluster] = []
        for svc in self.scope.services:
            if svc.resolution in (Resolution.ALIAS, Resolution.DYNAMIC_DNS):
                continue
            dr = self.mesh.destination_rule(self.proxy, svc)
            sans = service_accounts(self.mesh, svc)
            for port in svc.ports:
                if port.protocol is Protocol.UDP:
                    continue
                out.extend(self.outbound(svc, port, dr, sans))
        return out

    def sni_dnat_clusters(self) -> list[cluster_pb2.Cluster]:
        """``buildOutboundSniDnatClusters``: for gateways with an AUTO_PASSTHROUGH server (east-west), one
        ``outbound_.<port>_.<subset>_.<host>`` cluster per in-mesh service port and subset."""
        mg = self.mesh.merged_gateway(self.proxy)
        if mg is None or not any(s.tls_mode == "AUTO_PASSTHROUGH" for s in mg.servers):
            return []
        out: list[cluster_pb2.Cluster] = []
        for svc in self.scope.services:
            if svc.mesh_external or svc.resolution in (Resolution.ALIAS, Resolution.DYNAMIC_DNS):
                continue
            dr = self.mesh.destination_rule(self.proxy, svc)
            for port in svc.ports:
                if port.protocol is not Protocol.UDP:
                    out.extend(self.outbound(svc, port, dr, [], sni_dnat=True))
        return out

    # ---------------------------------------------------------------------------------------- special
    def blackhole(self) -> cluster_pb2.Cluster:
        c = C(
            name=BLACKHOLE_CLUSTER,
            type=C.STATIC,
            lb_policy=C.ROUND_ROBIN,
            alt_stat_name=alt_stat_name(BLACKHOLE_CLUSTER),
        )
        c.connect_timeout.CopyFrom(dur(self.mc.connect_timeout))
        return c

    def passthrough(self, name: str = PASSTHROUGH_CLUSTER) -> cluster_pb2.Cluster:
        c = C(
            name=name,
            type=C.ORIGINAL_DST,
            lb_policy=C.CLUSTER_PROVIDED,
            alt_stat_name=alt_stat_name(PASSTHROUGH_CLUSTER),
        )
        hpo = hpo_pb2.HttpProtocolOptions()
        hpo.common_http_protocol_options.idle_timeout.CopyFrom(duration_pb2.Duration(seconds=300))
        hpo.use_downstream_protocol_config.http_protocol_options.SetInParent()
        hpo.use_downstream_protocol_config.http2_protocol_options.SetInParent()
        c.typed_extension_protocol_options[HTTP_PROTOCOL_OPTIONS_KEY].Pack(hpo)
        apply_connection_pool(c, ClusterOptions(), None, self.mc)
        return c

    def inbound_passthrough(self) -> cluster_pb2.Cluster:
        c = self.passthrough(INBOUND_PASSTHROUGH_CLUSTER)
        c.upstream_bind_config.source_address.CopyFrom(
            address_pb2.SocketAddress(address=INBOUND_PASSTHROUGH_BIND, port_value=0)
        )
        return c

    # ---------------------------------------------------------------------------------------- inbound
    def _inbound(
        self,
        cluster_port: int,
        bind: str,
        endpoint_port: int,
        targets: list[ServiceTarget],
        protocol: Protocol,
        svc: Service | None,
    ) -> cluster_pb2.Cluster:
        lbe = None
        if bind:
            llb = ec_pb2.LocalityLbEndpoints()
            e = llb.lb_endpoints.add()
            if bind.startswith("unix://"):
                e.endpoint.address.pipe.path = bind[len("unix://") :]
            else:
                e.endpoint.address.socket_address.address = bind
                e.endpoint.address.socket_address.port_value = endpoint_port
            lbe = [llb]
        ctype = C.STATIC if lbe else C.ORIGINAL_DST
        port = ServicePort(name="", port=cluster_port, protocol=protocol)
        built = self._base(
            inbound_cluster_name(cluster_port), ctype, port, None, lbe, [t.service for t in targets]
        )
        assert built is not None
        c, opts = built
        if self.mc.inbound_cluster_stat_name and targets:
            t = targets[0]
            c.alt_stat_name = alt_stat_name(
                stat_prefix(self.mc.inbound_cluster_stat_name, t.service, "", t.port, cluster_port)
            )
        if ctype == C.ORIGINAL_DST:
            c.cleanup_interval.CopyFrom(duration_pb2.Duration(seconds=MAX_CLEANUP_SECONDS))
        cp = None
        if svc is not None:
            dr = self.mesh.destination_rule(self.proxy, svc, inbound=True)
            if dr is not None and dr.spec and dr.spec.traffic_policy is not None:
                pol = port_policy(dr.spec.traffic_policy, targets[0].port.port if targets else cluster_port)
                cp = pol.connection_pool if pol else None
                _set_istio_fields(c, {"config": dr.ref.istio_path})
        icp = self._inbound_connection_pool(cluster_port)
        if icp is not None:
            cp = icp
        apply_connection_pool(c, opts, cp, self.mc)
        if ctype == C.ORIGINAL_DST:
            c.lb_policy = C.CLUSTER_PROVIDED
        if bind not in ("127.0.0.1", "::1") and not self.proxy.loopback:
            c.upstream_bind_config.source_address.CopyFrom(
                address_pb2.SocketAddress(address=INBOUND_PASSTHROUGH_BIND, port_value=0)
            )
        opts.finish(c)
        return c

    def _inbound_connection_pool(self, port: int):  # type: ignore[no-untyped-def]
        for ing in self.scope.ingress:
            if ing.port.number == port and ing.connection_pool is not None:
                return ing.connection_pool
        return self.scope.inbound_connection_pool

    def inbound_clusters(self) -> list[cluster_pb2.Cluster]:
        out: list[cluster_pb2.Cluster] = []
        targets = self.mesh.service_targets(self.proxy.workload)
        if self.scope.ingress:
            for ing in self.scope.ingress:
                bind, ep_port = self._default_endpoint(ing.default_endpoint)
                match = [t for t in targets if t.target_port == ing.port.number]
                proto = _parse_proto(ing.port.protocol)
                out.append(
                    self._inbound(
                        ing.port.number, bind, ep_port, match, proto, match[0].service if match else None
                    )
                )
            return out
        by_port: dict[int, list[ServiceTarget]] = {}
        for t in targets:
            by_port.setdefault(t.target_port, []).append(t)
        if self.proxy.loopback:
            bind = self.proxy.ip  # no iptables: the app is reached on the workload's own loopback address
        elif self.mc.inbound_traffic_policy.mode == "LOCALHOST":
            bind = "127.0.0.1"
        else:
            bind = ""
        for tp, ts in by_port.items():
            ep_port = tp
            if self.proxy.loopback:
                from meshctl.translate.listener import loopback_app_address

                bind, ep_port = loopback_app_address(self.proxy.ip, tp)
            out.append(self._inbound(tp, bind, ep_port, ts, ts[0].port.protocol, ts[0].service))
        return out

    def _default_endpoint(self, de: str | None) -> tuple[str, int]:
        if not de:
            return "", 0
        if de.startswith("unix://"):
            return de, 0
        host, _, port = de.rpartition(":")
        host = host.strip("[]")
        if host == "0.0.0.0":
            host = self.proxy.ip
        try:
            return host, int(port)
        except ValueError:
            return "", 0

    # ---------------------------------------------------------------------------------------- all
    def build(self) -> list[cluster_pb2.Cluster]:
        clusters = self.outbound_clusters()
        clusters.append(self.blackhole())
        if not self.sidecar:
            clusters.extend(self.sni_dnat_clusters())
        if self.sidecar:
            clusters.append(self.passthrough())
            clusters.extend(self.inbound_clusters())
            clusters.append(self.inbound_passthrough())
        seen: set[str] = set()
        out = []
        for c in clusters:
            if c.name not in seen:
                seen.add(c.name)
                out.append(c)
        return out


def _parse_proto(name: str | None) -> Protocol:
    from meshctl.model.protocol import parse_protocol

    return parse_protocol(name)


def build_clusters(mesh: Mesh, proxy: Proxy) -> list[cluster_pb2.Cluster]:
    """Every cluster Pilot would send ``proxy`` (CDS), as ``envoy.config.cluster.v3.Cluster`` messages."""
    return ClusterBuilder(mesh, proxy).build()
