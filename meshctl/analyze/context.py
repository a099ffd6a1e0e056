"""What an analyzer sees: the loaded resources indexed by kind, the mesh config, and a reporter.

Analyzers read resources directly (fast, and exact about file/line) and use the helpers here for the
few rules Istio's analyzers share: host FQDN resolution, exportTo visibility, label selectors and the
workloads (Pods, plus pod templates of controllers that have no Pods in the inputs).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cached_property
from typing import Any

from meshctl.analyze.message import Message
from meshctl.analyze.messages import message_type
from meshctl.model.hosts import host_subset_of
from meshctl.sources.resource import Resource

DEFAULT_DOMAIN = "svc.cluster.local"
ISTIO_GROUPS = (
    "networking.istio.io",
    "security.istio.io",
    "telemetry.istio.io",
    "extensions.istio.io",
    "install.istio.io",
)
GATEWAY_API_GROUP = "gateway.networking.k8s.io"
WORKLOAD_CONTROLLERS = ("Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "Job", "CronJob", "ReplicationController")


def _as_list(v: Any) -> list[Any]:
    """A YAML value that should be a list, or [] when the input has something else there (schema reports it)."""
    return v if isinstance(v, list) else []


def ns_of(res: Resource) -> str:
    """The resource's namespace as Istio's analyzers see it ("" when none was given with ``-A``)."""
    return res.namespace or ""


def to_fqdn(host: str, namespace: str) -> str:
    """Istio's ``ConvertHostToFQDN``: short names get ``.<ns>.svc.cluster.local``; wildcards and FQDNs stay."""
    if host.startswith("*") or "." in host:
        return host
    return f"{host}.{namespace}.{DEFAULT_DOMAIN}"


def host_sub_of(h: str, pattern: str) -> bool:
    """``h`` is covered by ``pattern`` (Istio's ``SubsetOf``)."""
    return host_subset_of(h, pattern)


def selector_matches(selector: dict[str, Any] | None, labels: dict[str, Any] | None) -> bool:
    """``matchLabels``-style selector: every key=value present. An empty selector matches everything."""
    if not selector:
        return True
    if not isinstance(selector, dict):
        return False  # a malformed selector (schema validation reports it) selects nothing
    labels = labels if isinstance(labels, dict) else {}
    return all(k in labels and str(labels[k]) == str(v) for k, v in selector.items())


def label_selector_matches(sel: dict[str, Any] | None, labels: dict[str, Any] | None) -> bool:
    """A Kubernetes ``LabelSelector`` (matchLabels + matchExpressions). None/empty matches everything."""
    if not sel:
        return True
    if not isinstance(sel, dict):
        return False
    labels = labels if isinstance(labels, dict) else {}
    if not selector_matches(sel.get("matchLabels") or {}, labels):
        return False
    exprs_raw = sel.get("matchExpressions")
    exprs: list[Any] = exprs_raw if isinstance(exprs_raw, list) else []
    for expr in exprs:
        if not isinstance(expr, dict):
            continue
        raw_values = expr.get("values")
        values = [str(v) for v in raw_values] if isinstance(raw_values, list) else []
        key, op = str(expr.get("key")), str(expr.get("operator", ""))
        present = key in labels
        if op == "In" and not (present and str(labels[key]) in values):
            return False
        if op == "NotIn" and present and str(labels[key]) in values:
            return False
        if op == "Exists" and not present:
            return False
        if op == "DoesNotExist" and present:
            return False
    return True


def exported_to(export_to: Iterable[str] | None, owner_ns: str, client_ns: str) -> bool:
    """Is a config/service in ``owner_ns`` with ``exportTo`` visible from ``client_ns``? (empty = all)."""
    exp = [str(e) for e in (export_to or [])]
    if not exp:
        return True
    for e in exp:
        if e == "*" or e == client_ns or (e == "." and owner_ns == client_ns):
            return True
    return False


@dataclass
class ServiceHost:
    """A host a client can route to: a Kubernetes Service or one host of a ServiceEntry."""

    host: str
    namespace: str
    export_to: list[str]
    ports: list[dict[str, Any]]
    resource: Resource
    kind: str  # "Service" | "ServiceEntry"

    def visible_from(self, ns: str) -> bool:
        return exported_to(self.export_to, self.namespace, ns)


class AnalysisContext:
    """Resources and mesh config of one analysis run, plus :meth:`report` for findings."""

    def __init__(
        self,
        resources: list[Resource],
        mesh_config: dict[str, Any] | None = None,
        mesh_config_file: str | None = None,
        *,
        complete: bool = False,
        mesh_networks: dict[str, Any] | None = None,
        mesh_networks_file: str | None = None,
    ) -> None:
        self.all_resources = resources
        #: True when the resources are a whole cluster (``-k``): absence of a Service then proves it does not exist
        self.complete = complete
        self.mesh_networks: dict[str, Any] = mesh_networks or {}
        self.mesh_networks_file = mesh_networks_file
        self.mesh_config: dict[str, Any] = mesh_config or {}
        self.mesh_config_file = mesh_config_file
        self.messages: list[Message] = []
        self.current_analyzer = ""
        self._selector_cache: dict[tuple[tuple[str, str], ...], list[Resource]] = {}
        self._by_kind: dict[str, list[Resource]] = defaultdict(list)
        latest: dict[tuple[str, str, str, str], Resource] = {}
        for r in resources:
            latest[r.key] = r  # later definitions replace earlier ones, like `kubectl apply` of both files
        self.resources = [r for r in resources if latest[r.key] is r]
        for r in self.resources:
            self._by_kind[r.kind].append(r)

    # --- reporting ---------------------------------------------------------------------------------------
    def report(self, code: str, resource: Resource | None, *args: Any, path: str | None = None, **origin: Any) -> Message:
        """Record message ``code`` about ``resource`` (at field ``path``) with the template's ``args``."""
        m = Message(message_type(code), tuple(args), resource, path, self.current_analyzer, **origin)
        self.messages.append(m)
        return m

    # --- lookups -----------------------------------------------------------------------------------------
    def kind(self, kind: str, group: str | None = None) -> list[Resource]:
        """Resources of ``kind``; ``group`` filters by API group ("" = core, "istio" = any *.istio.io)."""
        rs = self._by_kind.get(kind, [])
        if group is None:
            return rs
        if group == "istio":
            return [r for r in rs if r.group.endswith("istio.io")]
        return [r for r in rs if r.group == group]

    def istio(self, kind: str) -> list[Resource]:
        return self.kind(kind, "istio")

    def find(self, kind: str, namespace: str | None, name: str, group: str | None = None) -> Resource | None:
        for r in self.kind(kind, group):
            if r.name == name and (namespace is None or ns_of(r) == namespace):
                return r
        return None

    @cached_property
    def namespaces(self) -> dict[str, Resource]:
        return {r.name: r for r in self.kind("Namespace", "")}

    @cached_property
    def services(self) -> list[Resource]:
        return self.kind("Service", "")

    @cached_property
    def _services_by_ns(self) -> dict[str, list[Resource]]:
        d: dict[str, list[Resource]] = defaultdict(list)
        for s in self.services:
            d[ns_of(s)].append(s)
        return d

    def services_in(self, namespace: str) -> list[Resource]:
        return self._services_by_ns.get(namespace, [])

    @cached_property
    def pods(self) -> list[Resource]:
        return self.kind("Pod", "")

    @cached_property
    def istio_namespace(self) -> str:
        return str(self.mesh_config.get("rootNamespace") or "istio-system")

    @property
    def root_namespace(self) -> str:
        return self.istio_namespace

    @cached_property
    def workload_pods(self) -> list[Resource]:
        """Pods, plus one stand-in per Deployment/StatefulSet/... pod template whose labels no Pod already has.

        istioctl only looks at Pods, so a folder of Deployments makes every selector look dangling; the
        controllers will create pods with exactly these labels, so selector checks count them.
        """
        out = list(self.pods)
        seen = {(ns_of(p), tuple(sorted((str(k), str(v)) for k, v in p.labels.items()))) for p in self.pods}
        for kind in WORKLOAD_CONTROLLERS:
            for r in self.kind(kind):
                tmpl = r.spec.get("template") if kind != "CronJob" else (((r.spec.get("jobTemplate") or {}).get("spec") or {}).get("template"))
                if not isinstance(tmpl, dict):
                    continue
                md_raw = tmpl.get("metadata")
                md: dict[str, Any] = md_raw if isinstance(md_raw, dict) else {}
                labels_raw = md.get("labels")
                labels: dict[str, Any] = labels_raw if isinstance(labels_raw, dict) else {}
                key = (ns_of(r), tuple(sorted((str(k), str(v)) for k, v in labels.items())))
                if not labels or key in seen:
                    continue
                seen.add(key)
                obj = {"apiVersion": "v1", "kind": "Pod", "metadata": {**md, "name": r.name, "namespace": r.namespace}, "spec": tmpl.get("spec") or {}}
                out.append(Resource("v1", "Pod", r.name, r.namespace, obj, file=r.file, line=r.line, index=r.index,
                                    namespace_explicit=r.namespace_explicit, origin="generated", extra={"template_of": r}))
        return out

    @cached_property
    def _pods_by_ns(self) -> dict[str, list[Resource]]:
        d: dict[str, list[Resource]] = defaultdict(list)
        for p in self.workload_pods:
            d[ns_of(p)].append(p)
        return d

    def pods_in(self, namespace: str) -> list[Resource]:
        return self._pods_by_ns.get(namespace, [])

    @cached_property
    def _pods_by_label(self) -> dict[tuple[str, str], set[int]]:
        d: dict[tuple[str, str], set[int]] = defaultdict(set)
        for i, p in enumerate(self.workload_pods):
            for k, v in p.labels.items():
                d[(str(k), str(v))].add(i)
        return d

    def pods_matching(self, selector: dict[str, Any]) -> list[Resource]:
        """Pods (any namespace) whose labels contain ``selector``, through a label index. The answer is
        shared between callers asking for the same selector (many gateways select ``istio: ingressgateway``):
        treat it as read-only."""
        if not selector:
            return self.workload_pods
        key = tuple(sorted((str(k), str(v)) for k, v in selector.items()))
        hit_list = self._selector_cache.get(key)
        if hit_list is None:
            sets = [self._pods_by_label.get(item, set()) for item in key]
            hit = set.intersection(*sorted(sets, key=len))
            hit_list = self._selector_cache[key] = [self.workload_pods[i] for i in sorted(hit)]
        return hit_list


    @cached_property
    def registry_known(self) -> bool:
        """Can a missing host be called missing? Yes with a cluster, or when the files define application
        Services/ServiceEntries; a folder of routing config alone says nothing about which services exist."""
        if self.complete:
            return True
        if self.istio("ServiceEntry"):
            return True
        return any(ns_of(s) != self.istio_namespace for s in self.services)

    @cached_property
    def policies_known(self) -> bool:
        """Can a missing DestinationRule subset be called missing? With a cluster, or when the files hold DestinationRules."""
        return self.complete or bool(self.istio("DestinationRule"))

    # --- services and hosts --------------------------------------------------------------------------------
    @cached_property
    def service_hosts(self) -> list[ServiceHost]:
        """Every routable host: Kubernetes Services (``name.ns.svc.cluster.local``) and ServiceEntry hosts."""
        out: list[ServiceHost] = []
        for s in self.services:
            ns = ns_of(s)
            exp = s.annotations.get("networking.istio.io/exportTo")
            export_to = [e.strip() for e in str(exp).split(",") if e.strip()] if exp else []
            ports = [p for p in _as_list(s.spec.get("ports")) if isinstance(p, dict)]
            out.append(ServiceHost(f"{s.name}.{ns}.{DEFAULT_DOMAIN}", ns, export_to, ports, s, "Service"))
        for se in self.istio("ServiceEntry"):
            ns = ns_of(se)
            ports = [p for p in _as_list(se.spec.get("ports")) if isinstance(p, dict)]
            export_to = [str(e) for e in _as_list(se.spec.get("exportTo"))]
            for h in _as_list(se.spec.get("hosts")):
                out.append(ServiceHost(str(h), ns, export_to, ports, se, "ServiceEntry"))
        return out

    @cached_property
    def _hosts_by_name(self) -> dict[str, list[ServiceHost]]:
        d: dict[str, list[ServiceHost]] = defaultdict(list)
        for sh in self.service_hosts:
            d[sh.host].append(sh)
        return d

    @cached_property
    def scoped_hosts(self) -> dict[tuple[str, str], ServiceHost]:
        """Istio's ``InitServiceEntryHostMap``: (visibility scope, FQDN) -> service; scope "*" = everywhere."""
        out: dict[tuple[str, str], ServiceHost] = {}
        for sh in self.service_hosts:
            fqdn = to_fqdn(sh.host, sh.namespace)
            if sh.kind == "ServiceEntry":
                if not sh.export_to or "*" in sh.export_to:
                    out[("*", fqdn)] = sh
                    continue
                for e in sh.export_to:
                    out[(sh.namespace if e == "." else e, fqdn)] = sh
            else:
                for e in sh.export_to or ["*"]:
                    out[(sh.namespace if e == "." else e, fqdn)] = sh
        return out

    def lookup_host(self, host: str, client_ns: str, export_to: list[str] | None = None) -> ServiceHost | None:
        """Istio's ``GetDestinationHost``: the service a config in ``client_ns`` (with ``export_to``) reaches."""
        fqdn = to_fqdn(host, client_ns)
        m = self.scoped_hosts
        sh = m.get(("*", fqdn))
        if sh is not None:
            return sh
        scopes = [client_ns] if not export_to else [client_ns if e == "." else e for e in export_to]
        for sc in scopes:
            sh = m.get((sc, fqdn))
            if sh is not None:
                return sh
        bare = host[1:] if host.startswith("*") else host
        for (scope, seh), sh in m.items():
            if not seh.startswith("*") or (scope != "*" and scope != client_ns):
                continue
            if bare.endswith(seh[1:]):
                return sh
        return None

    # --- schema validity (shared by IST0106 and the checks that must not reason about invalid objects) ----
    @cached_property
    def schema_errors(self) -> dict[int, list[tuple[str | None, str]]]:
        """``id(resource)`` -> [(field path, message)] for every Istio resource that fails schema validation:
        the typed API model plus the webhook rules the types cannot express (regexes, required fields).
        Computed once; the schema analyzer reports them, the model and meshctl's checks skip those resources."""
        from meshctl.analyze.analyzers.schema import semantic_errors
        from meshctl.errors import ErrorList, MeshctlError
        from meshctl.model.api import spec_model, validate
        from meshctl.model.api.kube import check_kube, kube_model

        out: dict[int, list[tuple[str | None, str]]] = {}
        for r in self.resources:
            if kube_model(r) is not None:
                # Kubernetes objects the model reads (Services, Pods, workloads, ...): a wrongly-typed field
                # would otherwise make the model unbuildable and silence every model-based check.
                try:
                    check_kube(r)
                except MeshctlError as e:
                    out[id(r)] = [
                        (err.field, f"{err.field}: {err.message}" if err.field else err.message)
                        for err in (e.errors if isinstance(e, ErrorList) else [e])
                    ]
                continue
            if not r.group.endswith("istio.io") or spec_model(r) is None:
                continue
            errs: list[tuple[str | None, str]] = []
            try:
                validate(r)
            except MeshctlError as e:
                for err in (e.errors if isinstance(e, ErrorList) else [e]):
                    errs.append((err.field, f"{err.field}: {err.message}" if err.field else err.message))
            errs.extend(semantic_errors(r))
            if errs:
                out[id(r)] = errs
        return out

    def schema_valid(self, r: Resource) -> bool:
        return id(r) not in self.schema_errors

    def valid_istio(self, kind: str) -> list[Resource]:
        """Istio resources of ``kind`` that pass schema validation: what meshctl's derived checks reason about
        (an invalid object is reported once, as IST0106, not again through numbers read from its bad fields)."""
        errs = self.schema_errors
        return [r for r in self.istio(kind) if id(r) not in errs]

    # --- the model (for checks that need Pilot's view: endpoints, mTLS modes) ---------------------------
    @cached_property
    def mesh(self) -> Any:
        """meshctl's model of the valid resources, or None when it cannot be built (invalid ones are IST0106 already)."""
        from meshctl.errors import MeshctlError
        from meshctl.model import build_mesh

        ok = [r for r in self.resources if self.schema_valid(r)]
        try:
            return build_mesh(ok)
        except MeshctlError:
            return None
