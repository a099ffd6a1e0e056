"""``describe pod|svc``: which Istio config applies to a workload or service, like ``istioctl x describe``.

Same method as istioctl: Kubernetes facts (pods, services, selectors, PeerAuthentication) come from the model;
the DestinationRule and VirtualService that apply are read from the *proxy's* config (the ``istio.config``
metadata on its outbound cluster and routes for the service), so a proxy that is stale shows up as
"WARNING: Proxy is stale". The proxy config is the intended one (translator) or a live/saved dump.
Added over istioctl: warnings for DestinationRule subsets that select no pod and VirtualService routes to
subsets no DestinationRule defines.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from meshctl.envoy.dump import ConfigDump
from meshctl.envoy.views.common import istio_config_path, parse_subset_key
from meshctl.envoy.views.listener import HCM, hcm_of
from meshctl.errors import InputError, MeshctlError

L0, L1, L2 = "", "   ", "      "
SEP = "--------------------"
K8S_SUFFIX = ".svc.cluster.local"
_PATH_RE = re.compile(
    r"/apis/networking(?:\.istio\.io)?/v1(?:alpha3|beta1)?/namespaces/([^/]+)/(virtual-service|destination-rule)/([^/]+)"
)


def labels_match(selector: dict[str, str] | None, labels: dict[str, str]) -> bool:
    return bool(selector) and all(labels.get(k) == v for k, v in (selector or {}).items())


@dataclass
class Describer:
    """Writes a description; ``dump_for(proxy)`` gives the config dump of a proxy (intended or live)."""

    mesh: Any
    dump_for: Callable[[Any], ConfigDump]
    namespace: str = "default"  # the namespace names are shown relative to (istioctl's kname)
    lines: list[str] = field(default_factory=list)

    def out(self, text: str) -> None:
        self.lines.append(text)

    def kname(self, name: str, ns: str) -> str:
        return name if ns == self.namespace else f"{name}.{ns}"

    # -- pod --------------------------------------------------------------------------------------------------
    def pod(self, proxy: Any) -> str:
        w = proxy.workload
        self._print_pod(w)
        services = [
            s
            for s in self.mesh.services
            if s.registry == "Kubernetes"
            and s.namespace == w.namespace
            and labels_match(s.selector, w.labels)
        ]
        if not services:
            self.out(
                f"Warning: No Kubernetes Services select pod {self.kname(w.name, w.namespace)} (see https://istio.io/docs/setup/kubernetes/additional-setup/requirements/ )"
            )
        self.out(SEP)
        dump = self.dump_for(proxy)
        self._pod_services(proxy, dump, services, [w.labels])
        self.out(SEP)
        self._peer_authentication(w)
        self._ingress(services, [w.labels])
        return "\n".join(self.lines) + "\n"

    def service(self, svc: Any) -> str:
        pods = [
            w
            for w in self.mesh.workloads
            if w.namespace == svc.namespace and labels_match(svc.selector, w.labels)
        ]
        meshed = [w for w in pods if w.sidecar_injected]
        if not meshed:
            if not pods:
                self.out(f'Service "{self.kname(svc.name, svc.namespace)}" has no pods.')
            else:
                self.out(
                    f'Service "{self.kname(svc.name, svc.namespace)}" has no Istio pods.  ({len(pods)} pods in service).'
                )
                self.out("Use `istioctl kube-inject` or redeploy with Istio automatic sidecar injection.")
            return "\n".join(self.lines) + "\n"
        proxy = self.mesh.proxy(f"{_target_kind(meshed[0])}/{meshed[0].name}", meshed[0].namespace)
        self._pod_services(proxy, self.dump_for(proxy), [svc], [w.labels for w in meshed])
        self._ingress([svc], [w.labels for w in meshed])
        return "\n".join(self.lines) + "\n"

    def _print_pod(self, w: Any) -> None:
        spec = _pod_spec(w)
        ports = []
        for c in spec.get("containers") or []:
            for p in c.get("ports") or []:
                proto = p.get("protocol", "TCP")
                ports.append(
                    f"{p.get('containerPort')}{'' if proto == 'TCP' else '/' + proto} ({c.get('name', '')})"
                )
            if c.get("name") not in ("istio-proxy", "istio-operator") and (
                (c.get("securityContext") or {}).get("runAsUser") == 1337
            ):
                self.out("WARNING: User ID (UID) 1337 is reserved for the sidecar proxy.")
        if w.sidecar_injected and not any(
            c.get("name") == "istio-proxy" for c in spec.get("containers") or []
        ):
            ports.append("15090 (istio-proxy)")  # what injection adds to the pod
        self.out(f"Pod: {self.kname(w.name, w.namespace)}")
        rev = w.annotations.get("istio.io/rev") or w.labels.get("istio.io/rev") or "default"
        self.out(f"   Pod Revision: {rev}")
        self.out(f"   Pod Ports: {', '.join(ports)}" if ports else "   Pod does not expose ports")
        if not w.sidecar_injected:
            self.out(f"WARNING: {self.kname(w.name, w.namespace)} is not part of mesh; no Istio sidecar")
            return
        if ((spec.get("securityContext") or {}).get("runAsUser")) == 1337:
            self.out("   WARNING: User ID (UID) 1337 is reserved for the sidecar proxy.")
        if not (
            w.labels.get("app")
            or w.labels.get("app.kubernetes.io/name")
            or w.labels.get("service.istio.io/canonical-name")
        ):
            self.out(
                "Suggestion: add required service name label for Istio telemetry. See https://istio.io/latest/docs/ops/deployment/application-requirements/."
            )
        if not (
            w.labels.get("version")
            or w.labels.get("app.kubernetes.io/version")
            or w.labels.get("service.istio.io/canonical-revision")
        ):
            self.out(
                "Suggestion: add required service revision label for Istio telemetry. See https://istio.io/latest/docs/ops/deployment/application-requirements/."
            )

    def _pod_services(
        self, proxy: Any, dump: ConfigDump, services: list[Any], pods_labels: list[dict[str, str]]
    ) -> None:
        targets = {
            (t.service.hostname, t.port.port): t.target_port
            for t in self.mesh.service_targets(proxy.workload)
        }
        for row, svc in enumerate(services):
            if row:
                self.out(SEP)
            self.out(f"Service: {self.kname(svc.name, svc.namespace)}")
            for p in svc.ports:
                if p.protocol.value == "UDP":
                    continue
                tp = targets.get((svc.hostname, p.port))
                proto = "auto-detect" if not p.name and not p.app_protocol else p.protocol.value
                if tp is None:
                    self.out(f"   no matching port for {p.name or p.port} on pod")
                else:
                    self.out(f"   Port: {p.name} {p.port}/{proto} targets pod port {tp}")
            multi = len(svc.ports) > 1
            indent = L1 if multi else L0
            for p in svc.ports:
                if multi:
                    self.out(f"{p.port}:")
                dr_cfg = None
                dr_ref = _ref(_dr_path(dump, svc, p.port), "destination-rule")
                matching: list[str] = []
                nonmatching: list[str] = []
                if dr_ref:
                    dr_cfg = self._find("destination_rules", *dr_ref)
                    if dr_cfg is None:
                        self.out(
                            f"WARNING: Proxy is stale; it references to non-existent destination rule {dr_ref[1]}.{dr_ref[0]}"
                        )
                    else:
                        matching, nonmatching = _subsets(dr_cfg.spec, pods_labels)
                        self._print_dr(indent, dr_cfg, pods_labels, matching, nonmatching)
                vs_ref = _ref(_vs_path(dump, svc, p.port), "virtual-service")
                if vs_ref:
                    vs_cfg = self._find("virtual_services", *vs_ref)
                    if vs_cfg is None:
                        self.out(
                            f"WARNING: Proxy is stale; it references to non-existent virtual service {vs_ref[1]}.{vs_ref[0]}"
                        )
                    else:
                        self._print_vs(indent, vs_cfg, svc, matching, nonmatching, dr_cfg)
                policies = _rbac_policies(dump, p.port)
                if policies:
                    self.out((f"{p.port} " if multi else "") + f"RBAC policies: {', '.join(policies)}")

    def _find(self, attr: str, ns: str, name: str) -> Any:
        return next((c for c in getattr(self.mesh, attr) if c.namespace == ns and c.name == name), None)

    def _print_dr(
        self,
        indent: str,
        cfg: Any,
        pods_labels: list[dict[str, str]],
        matching: list[str],
        nonmatching: list[str],
    ) -> None:
        dr = cfg.spec
        self.out(f'{indent}DestinationRule: {self.kname(cfg.name, cfg.namespace)} for "{dr.host}"')
        if matching or nonmatching:
            if not matching:
                self.out(
                    f"{indent}{L1}WARNING POD DOES NOT MATCH ANY SUBSETS.  (Non matching subsets {','.join(nonmatching)})"
                )
            self.out(f"{indent}{L1}Matching subsets: {','.join(matching)}")
            if nonmatching:
                self.out(f"{indent}{L2}(Non-matching subsets {','.join(nonmatching)})")
        tp = dr.traffic_policy
        if tp is None:
            self.out(f"{indent}{L1}No Traffic Policy")
        else:
            if tp.tls is not None:
                self.out(f"{indent}{L1}Traffic Policy TLS Mode: {tp.tls.mode}")
            short = _short_policies(tp)
            if short:
                self.out(f"{indent}{L1}{short}")
            if tp.port_level_settings:
                self.out(f"{indent}{L1}Port Level Settings:")
                for ps in tp.port_level_settings:
                    self.out(f"    {ps.port.number if ps.port else ''}:")
                    if ps.tls is not None:
                        self.out(f"{indent}{L2}TLS Mode: {ps.tls.mode}")
                    sp = _short_policies(ps)
                    if sp:
                        self.out(f"{indent}{L2}{sp}")
        # meshctl's addition: subsets that select none of the service's workloads
        svc_ns = dr.host.split(".")[1] if dr.host.count(".") >= 2 else cfg.namespace
        all_labels = [w.labels for w in self.mesh.workloads if w.namespace == svc_ns]
        for s in dr.subsets:
            if s.labels and not any(labels_match(s.labels, lb) for lb in all_labels):
                self.out(
                    f"{indent}{L1}WARNING: subset {s.name} selects no workload (labels {_labels_text(s.labels)}); traffic routed to it gets 503 (no healthy upstream)"
                )

    def _print_vs(
        self, indent: str, cfg: Any, svc: Any, matching: list[str], nonmatching: list[str], dr_cfg: Any
    ) -> None:
        vs = cfg.spec
        self.out(f"{indent}VirtualService: {self.kname(cfg.name, cfg.namespace)}")
        matches = facts = 0
        mismatch: list[str] = []
        for route in vs.http:
            ok, new = _http_route_facts(cfg, route, svc, matching, nonmatching, dr_cfg)
            if ok:
                matches += 1
                for f in new:
                    self.out(f"{indent}{L1}{f}")
                    facts += 1
            else:
                mismatch += new
        for route in vs.tcp:
            ok = any(_fqdn(d.destination.host, cfg.namespace) == svc.hostname for d in route.route)
            if ok:
                matches += 1
                for m in route.match:
                    self.out(f"{indent}{L1}{m.model_dump(exclude_none=True, exclude_defaults=True)}")
                    facts += 1
        if matches == 0:
            if vs.http:
                self.out(
                    f"{indent}{L1}WARNING: No destinations match pod subsets (checked {len(vs.http)} HTTP routes)"
                )
            if vs.tcp:
                self.out(
                    f"{indent}{L1}WARNING: No destinations match pod subsets (checked {len(vs.tcp)} TCP routes)"
                )
            for m in mismatch:
                self.out(f"{indent}{L2}{m}")
            return
        self._undefined_subsets(indent, cfg, svc, matching + nonmatching, dr_cfg)
        possible = len(vs.http) + len(vs.tls) + len(vs.tcp)
        if matches < possible:
            self.out(
                f"{indent}{L1}{possible - matches} additional destination(s) that will not reach this pod"
            )
            if facts == 0:
                for m in mismatch:
                    self.out(f"{indent}{L2}{m}")
            return
        if facts == 0:
            if vs.http:
                self.out(f"{indent}{L1}{len(vs.http)} HTTP route(s)")
            if vs.tcp:
                self.out(f"{indent}{L1}{len(vs.tcp)} TCP route(s)")

    def _undefined_subsets(self, indent: str, cfg: Any, svc: Any, defined: list[str], dr_cfg: Any) -> None:
        """meshctl's addition: routes to subsets no DestinationRule defines (Envoy: no such cluster, 503 NC)."""
        seen = []
        for route in cfg.spec.http:
            for d in route.route:
                sub = d.destination.subset
                if (
                    sub
                    and sub not in defined
                    and sub not in seen
                    and _fqdn(d.destination.host, cfg.namespace) == svc.hostname
                ):
                    seen.append(sub)
        for sub in seen:
            where = (
                f"DestinationRule {dr_cfg.name} has no subset {sub!r}"
                if dr_cfg is not None
                else "no DestinationRule defines subsets"
            )
            self.out(
                f"{indent}{L1}WARNING: a route sends traffic to subset {sub} but {where}: those requests get 503 (NC)"
            )

    def _peer_authentication(self, w: Any) -> None:
        pa_index = self.mesh.peer_auth
        root = self.mesh.root_namespace
        applied = [
            c
            for c in self.mesh.peer_authentications
            if c.namespace in (w.namespace, root)
            and (
                not (c.spec.selector and c.spec.selector.match_labels)
                or labels_match(c.spec.selector.match_labels, w.labels)
            )
        ]
        self.out("Effective PeerAuthentication:")
        self.out(f"   Workload mTLS mode: {pa_index.mode(w)}")
        pa = pa_index.workload_policy(w)
        if pa is not None and pa.spec.port_level_mtls:
            self.out("   Port Level mTLS mode:")
            for port, m in sorted(pa.spec.port_level_mtls.items()):
                self.out(f"      {port}: {m.mode}")
        if applied:
            self.out("Applied PeerAuthentication:")
            self.out("   " + ", ".join(f"{c.name}.{c.namespace}" for c in applied))

    def _ingress(self, services: list[Any], pods_labels: list[dict[str, str]]) -> None:
        gw_pods = [w for w in self.mesh.workloads if w.labels.get("istio") == "ingressgateway"]
        if not gw_pods:
            self.out("Skipping Gateway information (no ingress gateway pods)")
            return
        ingresses = []
        for s in self.mesh.services:
            pods = [w for w in gw_pods if w.namespace == s.namespace and labels_match(s.selector, w.labels)]
            if pods:
                ingresses.append((s, pods))
        if not ingresses:
            self.out("Skipping Gateway information (no ingress gateway service)")
        seen_gw: set[str] = set()
        for gw_w in gw_pods:
            try:
                gw_proxy = self.mesh.proxy(f"{_target_kind(gw_w)}/{gw_w.name}", gw_w.namespace)
            except Exception:
                continue
            try:
                dump = self.dump_for(gw_proxy)
            except MeshctlError as e:  # the gateway's Envoy is not the described pod: note it and go on
                self.out(f"Skipping Gateway information ({e.message})")
                continue
            for svc in services:
                for p in svc.ports:
                    matching: list[str] = []
                    nonmatching: list[str] = []
                    dr_ref = _ref(_dr_path(dump, svc, p.port), "destination-rule")
                    dr_cfg = self._find("destination_rules", *dr_ref) if dr_ref else None
                    if dr_cfg is not None:
                        matching, nonmatching = _subsets(dr_cfg.spec, pods_labels)
                    vs_ref = _ref(_vs_path(dump, svc, p.port), "virtual-service")
                    if not vs_ref:
                        continue
                    vs_cfg = self._find("virtual_services", *vs_ref)
                    if vs_cfg is None:
                        self.out(
                            f"WARNING: Proxy is stale; it references to non-existent virtual service {vs_ref[1]}.{vs_ref[0]}"
                        )
                        continue
                    for gname in vs_cfg.spec.gateways:
                        if not gname or gname == "mesh":
                            continue
                        gns, _, gn = gname.rpartition("/")
                        gns = gns or vs_cfg.namespace
                        gid = f"{gns}/{gn}"
                        if gid in seen_gw:
                            continue
                        seen_gw.add(gid)
                        gw = self._find("gateways", gns, gn)
                        if gw is None:
                            self.out(
                                f"WARNING: Proxy is stale; it references to non-existent gateway {gns}/{gn}"
                            )
                            continue
                        sel = gw.spec.selector or {}
                        if not sel:
                            self.out(f"Ingress Gateway {gns}/{gn} be applyed all workloads")
                            continue
                        hits = [
                            (s, pods)
                            for s, pods in ingresses
                            if any(labels_match(sel, w.labels) for w in pods)
                        ]
                        if hits:
                            self.out(SEP)
                            for s, gw_ws in sorted(hits, key=lambda h: _ingress_ip(h[0], h[1])):
                                self._print_ingress_service(s, gw_ws)
                            self._print_vs(L0, vs_cfg, svc, matching, nonmatching, dr_cfg)

    def _print_ingress_service(self, s: Any, pods: list[Any]) -> None:
        for p in s.ports:
            if p.name not in ("http", "http2"):
                continue
            suffix = "" if p.port == 80 else f":{p.port}"
            self.out(f"Exposed on Ingress Gateway http://{_ingress_ip(s, pods)}{suffix}")


# ---------------------------------------------------------------------------------------------------------------
# helpers (config dump lookups follow istioctl's)
# ---------------------------------------------------------------------------------------------------------------


def _target_kind(w: Any) -> str:
    return {
        "Pod": "pod",
        "Deployment": "deploy",
        "StatefulSet": "sts",
        "DaemonSet": "ds",
        "WorkloadEntry": "workloadentry",
    }.get(w.kind, "pod")


def _pod_spec(w: Any) -> dict[str, Any]:
    obj = w.source.obj if w.source is not None else {}
    if not isinstance(obj, dict):
        return {}
    spec = obj.get("spec") or {}
    if w.kind != "Pod":
        spec = ((spec.get("template") or {}).get("spec")) or {}
    return spec if isinstance(spec, dict) else {}


def _ingress_ip(s: Any, pods: list[Any]) -> str:
    """istioctl's getIngressIP: the Service's load-balancer IP, else the first gateway pod's hostIP, else the
    word ``unknown`` (istioctl does not guess further, e.g. no NodePort on a node address)."""
    obj = s.source.obj if s.source is not None else {}
    lb = (((obj or {}).get("status") or {}).get("loadBalancer") or {}).get("ingress") or []
    if lb and isinstance(lb[0], dict) and lb[0].get("ip"):
        return str(lb[0]["ip"])
    pod_obj = pods[0].source.obj if pods and pods[0].source is not None else {}
    host_ip = ((pod_obj or {}).get("status") or {}).get("hostIP") if isinstance(pod_obj, dict) else None
    return str(host_ip) if host_ip else "unknown"


def _labels_text(labels: dict[str, str]) -> str:
    return ",".join(f"{k}={v}" for k, v in sorted(labels.items()))


def _subsets(dr: Any, pods_labels: list[dict[str, str]]) -> tuple[list[str], list[str]]:
    matching, nonmatching = [], []
    for s in dr.subsets:
        if any(all(lb.get(k) == v for k, v in s.labels.items()) for lb in pods_labels):
            matching.append(s.name)
        else:
            nonmatching.append(s.name)
    return matching, nonmatching


def _short_policies(tp: Any) -> str:
    extra = [
        name
        for name, v in (
            ("load balancer", tp.load_balancer),
            ("connection pool", tp.connection_pool),
            ("outlier detection", tp.outlier_detection),
        )
        if v is not None
    ]
    return f"Policies: {'/'.join(extra)}" if extra else ""


def _fqdn(host: str, ns: str) -> str:
    if host.startswith("*") or "." in host:
        h = host
    else:
        h = f"{host}.{ns}"
    if not h.startswith("*") and not h.endswith(K8S_SUFFIX) and h.count(".") == 1:
        h += K8S_SUFFIX
    return h


def _render_string_match(sm: Any) -> str:
    if sm is None:
        return ""
    if sm.exact is not None:
        return sm.exact
    if sm.prefix is not None:
        return sm.prefix + "*"
    return f'regex:"{sm.regex}"'


def _render_match(m: Any) -> str:
    out = "Match: "
    if m.uri is not None:
        out += _render_string_match(m.uri)
        if m.ignore_uri_case:
            out += " uncased"
    if m.headers:
        out += " when headers are " + "; ".join(
            f"{k}={_render_string_match(v)}" for k, v in m.headers.items()
        )
    return out.strip()


def _render_matches(ms: list[Any]) -> str:
    return ", ".join(_render_match(m) for m in ms) if ms else "everything"


def _http_route_facts(
    cfg: Any, route: Any, svc: Any, matching: list[str], nonmatching: list[str], dr_cfg: Any
) -> tuple[bool, list[str]]:
    facts: list[str] = []
    notes: list[str] = []
    match = False
    raw_hosts = _raw_route_hosts(cfg, route)
    for i, d in enumerate(route.route):
        host = raw_hosts[i] if i < len(raw_hosts) else d.destination.host
        if _fqdn(d.destination.host, cfg.namespace) == svc.hostname:
            subset = d.destination.subset
            if subset:
                if subset in nonmatching:
                    notes.append(
                        f"Route to non-matching subset {subset} for ({_render_matches(route.match)})"
                    )
                    continue
                if subset not in matching:
                    if dr_cfg is None:
                        notes.append(
                            f"Warning: Route to subset {subset} but NO DESTINATION RULE defining subsets!"
                        )
                    else:
                        notes.append(
                            f"Warning: Route to UNKNOWN subset {subset}; check DestinationRule {dr_cfg.name}"
                        )
                    continue
            match = True
            weight = d.weight or 0  # like istioctl: an unset weight prints no fact
            if weight > 0:
                fact = (
                    f'Route to host "{host}"'
                    + (f' subset "{subset}"' if subset else "")
                    + f" with weight {weight}%"
                )
                facts.append(fact)
        elif not d.destination.subset:
            facts.append(f'Route to host "{host}" with weight {d.weight or 0}%')
        else:
            facts.append(f"Route to {host} with invalid config")
    if match:
        req = []
        if route.fault is not None:
            req.append(f"Fault injection {route.fault.model_dump(exclude_none=True, by_alias=True)}")
        req += [_render_match(m) for m in route.match]
        if req:
            facts.append(", ".join(req))
    if not match and notes:
        facts += notes
    return match, facts


def _raw_route_hosts(cfg: Any, route: Any) -> list[str]:
    """Destination hosts of an HTTP route as the YAML spells them (the model resolves short names)."""
    try:
        idx = cfg.spec.http.index(route)
        raw = cfg.resource.obj["spec"]["http"][idx]["route"]
        return [str(r["destination"]["host"]) for r in raw]
    except (KeyError, ValueError, IndexError, TypeError, AttributeError):
        return []


def _dr_path(dump: ConfigDump, svc: Any, port: int) -> str:
    """``istio.config`` of the proxy's ``outbound|port|*|svc`` cluster (first match, dump order)."""
    for it in dump.of("cluster", ("active",)):
        name = it.name
        if svc.hostname in name and f"|{port}|" in name and "outbound" in name:
            c = dump.message(it)
            if c is not None and c.HasField("metadata"):
                return istio_config_path(c.metadata)
    return ""


def _vs_path(dump: ConfigDump, svc: Any, port: int) -> str:
    """``istio.config`` of the first route to the service in RDS ``<port>`` / ``http.*`` / ``https.*``."""
    sport = str(port)
    dom_re = re.compile(r"([^.]+)\.([^.]+)\.svc\.cluster\.local$")
    for it in dump.of("route", ("active",)):
        if it.name != sport and not it.name.startswith(("http.", "https.")):
            continue
        rc = dump.message(it)
        if rc is None:
            continue
        for vh in rc.virtual_hosts:
            dom_hit = any(
                (m := dom_re.search(d)) and m.group(1) == svc.name and m.group(2) == svc.namespace
                for d in vh.domains
            )
            for r in vh.routes:
                if dom_hit or _route_cluster_is(r, svc, port):
                    return istio_config_path(r.metadata) if r.HasField("metadata") else ""
    return ""


def _route_cluster_is(r: Any, svc: Any, port: int) -> bool:
    if r.WhichOneof("action") != "route":
        return False
    ra = r.route
    spec = ra.WhichOneof("cluster_specifier")
    name = (
        ra.cluster
        if spec == "cluster"
        else ra.weighted_clusters.clusters[0].name
        if spec == "weighted_clusters" and ra.weighted_clusters.clusters
        else ""
    )
    direction, p, _, host = parse_subset_key(name)
    return direction == "outbound" and p == port and host == f"{svc.name}.{svc.namespace}{K8S_SUFFIX}"


def _ref(path: str, kind: str) -> tuple[str, str] | None:
    m = _PATH_RE.search(path or "")
    if m and m.group(2) == kind:
        return m.group(1), m.group(3)
    return None


def _rbac_policies(dump: ConfigDump, port: int) -> list[str]:
    """Names of RBAC policies on the inbound HTTP connection manager (virtualInbound)."""
    from envoy.extensions.filters.http.rbac.v3 import rbac_pb2

    for _, lis in dump.messages("listener", ("active",)):
        if lis.name != "virtualInbound":
            continue
        for fc in lis.filter_chains:
            if (
                fc.filter_chain_match.HasField("destination_port")
                and fc.filter_chain_match.destination_port.value != port
            ):
                continue
            for f in fc.filters:
                if f.name != HCM:
                    continue
                hcm = hcm_of(f)
                if hcm is None:
                    continue
                for hf in hcm.http_filters:
                    if hf.name == "envoy.filters.http.rbac":
                        rb = rbac_pb2.RBAC()
                        if hf.typed_config.Unpack(rb):
                            return sorted(rb.rules.policies)
                return []
    return []


def resolve_pod(mesh: Any, name: str, namespace: str | None) -> Any:
    """``NAME[.NS]`` of a pod (or a Deployment's pod template) -> the model's proxy; istioctl's not-found error."""
    from meshctl.errors import MeshctlError

    for target in (f"pod/{name}", f"deploy/{name}", name):
        try:
            return mesh.proxy(target, namespace)
        except MeshctlError:
            continue
    raise InputError(f'pods "{name}" not found')


def resolve_service(mesh: Any, name: str, namespace: str | None) -> Any:
    if "." in name and namespace is None:
        name, namespace = name.split(".", 1)
    ns = namespace or "default"
    svc = next(
        (s for s in mesh.services if s.registry == "Kubernetes" and s.name == name and s.namespace == ns),
        None,
    )
    if svc is None:
        raise InputError(f'services "{name}" not found')
    return svc
