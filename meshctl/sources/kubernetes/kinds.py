"""Which kinds meshctl reads from a cluster, and API discovery to find where (and whether) each is served.

Discovery decides the version (the group's preferred one: Istio's ``v1`` when served, else ``v1beta1`` /
``v1alpha3``) and skips what the cluster does not serve with a note (e.g. "Istio CRDs not installed"), so one
missing CRD never fails a whole load.
"""

from __future__ import annotations

from dataclasses import dataclass

from meshctl.sources.kubernetes.client import KubeClient
from meshctl.sources.kubernetes.errors import KubeApiError


@dataclass(frozen=True)
class Want:
    """A kind meshctl needs. ``istio_ns_only``: read only in the Istio namespace (the ``istio`` ConfigMap)."""

    group: str
    kind: str
    namespaced: bool = True
    istio_ns_only: bool = False
    names: tuple[str, ...] = ()  # keep only these object names (prefix match with "-" suffix for revisions)


@dataclass(frozen=True)
class Kind:
    """A kind as the cluster serves it."""

    group: str
    version: str
    kind: str
    plural: str
    namespaced: bool
    istio_ns_only: bool = False
    names: tuple[str, ...] = ()

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version

    @property
    def resource(self) -> str:
        """``virtualservices.networking.istio.io`` (``pods`` for core), as RBAC and kubectl name it."""
        return f"{self.plural}.{self.group}" if self.group else self.plural

    def path(self, namespace: str | None = None) -> str:
        base = f"/apis/{self.group}/{self.version}" if self.group else "/api/v1"
        if namespace and self.namespaced:
            return f"{base}/namespaces/{namespace}/{self.plural}"
        return f"{base}/{self.plural}"

    def keeps(self, name: str) -> bool:
        return not self.names or any(name == n or name.startswith(n + "-") for n in self.names)


ISTIO_GROUPS = ("networking.istio.io", "security.istio.io", "telemetry.istio.io", "extensions.istio.io")

#: Everything the model, translator and analyzers read. EndpointSlices are preferred; Endpoints are read only
#: when discovery.k8s.io/v1 is not served.
WANTED: tuple[Want, ...] = (
    Want("", "Namespace", namespaced=False),
    Want("", "Service"),
    Want("", "Pod"),
    Want("", "ConfigMap", istio_ns_only=True, names=("istio",)),
    Want("discovery.k8s.io", "EndpointSlice"),
    Want("apps", "Deployment"),
    Want("apps", "StatefulSet"),
    Want("apps", "DaemonSet"),
    Want("apps", "ReplicaSet"),
    Want("networking.istio.io", "VirtualService"),
    Want("networking.istio.io", "DestinationRule"),
    Want("networking.istio.io", "Gateway"),
    Want("networking.istio.io", "ServiceEntry"),
    Want("networking.istio.io", "Sidecar"),
    Want("networking.istio.io", "WorkloadEntry"),
    Want("networking.istio.io", "WorkloadGroup"),
    Want("networking.istio.io", "EnvoyFilter"),
    Want("networking.istio.io", "ProxyConfig"),
    Want("security.istio.io", "PeerAuthentication"),
    Want("security.istio.io", "RequestAuthentication"),
    Want("security.istio.io", "AuthorizationPolicy"),
    Want("telemetry.istio.io", "Telemetry"),
    Want("extensions.istio.io", "WasmPlugin"),
    Want("gateway.networking.k8s.io", "GatewayClass", namespaced=False),
    Want("gateway.networking.k8s.io", "Gateway"),
    Want("gateway.networking.k8s.io", "HTTPRoute"),
    Want("gateway.networking.k8s.io", "GRPCRoute"),
    Want("gateway.networking.k8s.io", "TCPRoute"),
    Want("gateway.networking.k8s.io", "TLSRoute"),
    Want("gateway.networking.k8s.io", "ReferenceGrant"),
)
ENDPOINTS_FALLBACK = Want("", "Endpoints")


def _resources(client: KubeClient, group: str, version: str) -> dict[str, tuple[str, bool]]:
    """kind -> (plural, namespaced) served at group/version (subresources skipped)."""
    path = f"/apis/{group}/{version}" if group else "/api/v1"
    body = client.request("GET", path, verb="get", resource=f"discovery {path}")
    out: dict[str, tuple[str, bool]] = {}
    for r in body.get("resources") or []:
        if "/" in r.get("name", ""):
            continue
        out.setdefault(r["kind"], (r["name"], bool(r.get("namespaced"))))
    return out


def discover(client: KubeClient, wanted: tuple[Want, ...] = WANTED) -> tuple[list[Kind], list[str]]:
    """The served kinds among ``wanted`` and notes about those skipped (not served by this cluster)."""
    groups = client.request("GET", "/apis", verb="get", resource="discovery /apis")
    preferred: dict[str, list[str]] = {}
    for g in groups.get("groups") or []:
        pv = (g.get("preferredVersion") or {}).get("version")
        vs = [v["version"] for v in g.get("versions") or []]
        preferred[g["name"]] = [pv] + [v for v in vs if v != pv] if pv else vs
    preferred[""] = ["v1"]
    kinds: list[Kind] = []
    notes: list[str] = []
    served: dict[tuple[str, str], dict[str, tuple[str, bool]]] = {}
    wanted_list = list(wanted)
    if not any(w.group == "discovery.k8s.io" for w in wanted_list) or "discovery.k8s.io" not in preferred:
        wanted_list.append(ENDPOINTS_FALLBACK)
    missing_groups: dict[str, list[str]] = {}
    for w in wanted_list:
        versions = preferred.get(w.group)
        if not versions:
            missing_groups.setdefault(w.group, []).append(w.kind)
            continue
        found = None
        for v in versions:
            if (w.group, v) not in served:
                try:
                    served[(w.group, v)] = _resources(client, w.group, v)
                except KubeApiError as e:
                    if e.status == 404:
                        served[(w.group, v)] = {}
                    else:
                        raise
            if w.kind in served[(w.group, v)]:
                plural, namespaced = served[(w.group, v)][w.kind]
                found = Kind(w.group, v, w.kind, plural, namespaced, w.istio_ns_only, w.names)
                break
        if found is None:
            notes.append(f"{w.kind}.{w.group or 'core'} is not served by this cluster: skipped")
        else:
            kinds.append(found)
    for group, ks in missing_groups.items():
        if group == "discovery.k8s.io":
            continue  # Endpoints are read instead
        why = " (Istio CRDs not installed?)" if group in ISTIO_GROUPS else " (CRDs not installed)"
        notes.append(f"API group {group} is not served{why}: skipped {', '.join(ks)}")
    return kinds, notes
