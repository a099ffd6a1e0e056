"""The resource types the emulator serves: built-in Kubernetes kinds plus CRD-defined ones (Istio's by default).

A :class:`ResourceType` is what discovery advertises for one (group, plural); every served version maps to
the same stored objects (the emulator does no schema conversion: Istio's versions share one schema).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

ALL_VERBS = ("create", "delete", "deletecollection", "get", "list", "patch", "update", "watch")


@dataclass(frozen=True)
class Column:
    """One Table column (server-side printing); ``path`` is a simple JSONPath like ``.spec.hosts``."""

    name: str
    type: str = "string"
    path: str = ""
    priority: int = 0
    description: str = ""
    format: str = ""


@dataclass(frozen=True)
class ResourceType:
    group: str
    versions: tuple[str, ...]  # served versions, preferred first
    kind: str
    plural: str
    namespaced: bool = True
    short_names: tuple[str, ...] = ()
    categories: tuple[str, ...] = ()
    columns: tuple[Column, ...] = ()  # extra columns between NAME and AGE
    subresources: tuple[str, ...] = ()
    builtin: bool = True

    @property
    def singular(self) -> str:
        return self.kind.lower()

    @property
    def key(self) -> tuple[str, str]:
        return (self.group, self.plural)

    @property
    def storage_version(self) -> str:
        return self.versions[0]

    def api_version(self, version: str | None = None) -> str:
        v = version or self.storage_version
        return f"{self.group}/{v}" if self.group else v

    @property
    def qualified(self) -> str:
        """``virtualservices.networking.istio.io`` (or ``pods`` for the core group), as Kubernetes names it in errors."""
        return f"{self.plural}.{self.group}" if self.group else self.plural

    def discovery_entry(self) -> list[dict[str, Any]]:
        entry: dict[str, Any] = {
            "name": self.plural,
            "singularName": self.singular,
            "namespaced": self.namespaced,
            "kind": self.kind,
            "verbs": list(ALL_VERBS),
        }
        if self.short_names:
            entry["shortNames"] = list(self.short_names)
        if self.categories:
            entry["categories"] = list(self.categories)
        out = [entry]
        for sub in self.subresources:
            verbs = ["create", "get"] if sub in ("portforward", "exec", "proxy") else ["get", "patch", "update"]
            kind = "PodPortForwardOptions" if sub == "portforward" else self.kind
            out.append({"name": f"{self.plural}/{sub}", "singularName": "", "namespaced": self.namespaced, "kind": kind, "verbs": verbs})
        return out


def _c(name: str, path: str = "", type: str = "string", priority: int = 0) -> Column:
    return Column(name=name, path=path, type=type, priority=priority)


BUILTIN_TYPES: tuple[ResourceType, ...] = (
    ResourceType("", ("v1",), "Namespace", "namespaces", namespaced=False, short_names=("ns",), columns=(_c("Status", ".status.phase"),), subresources=("status",)),
    ResourceType("", ("v1",), "Service", "services", short_names=("svc",), categories=("all",), subresources=("status",)),
    ResourceType("", ("v1",), "Endpoints", "endpoints", short_names=("ep",)),
    ResourceType("", ("v1",), "Pod", "pods", short_names=("po",), categories=("all",), subresources=("status", "portforward")),
    ResourceType("", ("v1",), "ConfigMap", "configmaps", short_names=("cm",)),
    ResourceType("", ("v1",), "Secret", "secrets"),
    ResourceType("", ("v1",), "ServiceAccount", "serviceaccounts", short_names=("sa",)),
    ResourceType("", ("v1",), "Event", "events", short_names=("ev",)),
    ResourceType("", ("v1",), "Node", "nodes", namespaced=False, short_names=("no",), subresources=("status",)),
    ResourceType("discovery.k8s.io", ("v1",), "EndpointSlice", "endpointslices"),
    ResourceType("apps", ("v1",), "Deployment", "deployments", short_names=("deploy",), categories=("all",), subresources=("status", "scale")),
    ResourceType("apps", ("v1",), "StatefulSet", "statefulsets", short_names=("sts",), categories=("all",), subresources=("status", "scale")),
    ResourceType("apps", ("v1",), "DaemonSet", "daemonsets", short_names=("ds",), categories=("all",), subresources=("status",)),
    ResourceType("apps", ("v1",), "ReplicaSet", "replicasets", short_names=("rs",), categories=("all",), subresources=("status", "scale")),
    ResourceType(
        "apiextensions.k8s.io", ("v1",), "CustomResourceDefinition", "customresourcedefinitions", namespaced=False,
        short_names=("crd", "crds"), columns=(_c("Created At", ".metadata.creationTimestamp"),), subresources=("status",),
    ),
)


@dataclass(frozen=True)
class CrdSpec:
    """A compact description of one Istio CRD, expanded to a full CustomResourceDefinition object."""

    group: str
    kind: str
    plural: str
    versions: tuple[str, ...]
    short_names: tuple[str, ...] = ()
    columns: tuple[Column, ...] = field(default=())
    namespaced: bool = True



ISTIO_CRDS: tuple[CrdSpec, ...] = (
    CrdSpec("networking.istio.io", "VirtualService", "virtualservices", ("v1", "v1beta1", "v1alpha3"), ("vs",),
            (_c("Gateways", ".spec.gateways"), _c("Hosts", ".spec.hosts"))),
    CrdSpec("networking.istio.io", "DestinationRule", "destinationrules", ("v1", "v1beta1", "v1alpha3"), ("dr",),
            (_c("Host", ".spec.host"),)),
    CrdSpec("networking.istio.io", "Gateway", "gateways", ("v1", "v1beta1", "v1alpha3"), ("gw",)),
    CrdSpec("networking.istio.io", "ServiceEntry", "serviceentries", ("v1", "v1beta1", "v1alpha3"), ("se",),
            (_c("Hosts", ".spec.hosts"), _c("Location", ".spec.location"), _c("Resolution", ".spec.resolution"))),
    CrdSpec("networking.istio.io", "Sidecar", "sidecars", ("v1", "v1beta1", "v1alpha3")),
    CrdSpec("networking.istio.io", "WorkloadEntry", "workloadentries", ("v1", "v1beta1", "v1alpha3"), ("we",),
            (_c("Address", ".spec.address"),)),
    CrdSpec("networking.istio.io", "WorkloadGroup", "workloadgroups", ("v1", "v1beta1", "v1alpha3"), ("wg",)),
    CrdSpec("networking.istio.io", "EnvoyFilter", "envoyfilters", ("v1alpha3",)),
    CrdSpec("networking.istio.io", "ProxyConfig", "proxyconfigs", ("v1beta1",)),
    CrdSpec("security.istio.io", "PeerAuthentication", "peerauthentications", ("v1", "v1beta1"), ("pa",),
            (_c("Mode", ".spec.mtls.mode"),)),
    CrdSpec("security.istio.io", "RequestAuthentication", "requestauthentications", ("v1", "v1beta1"), ("ra",)),
    CrdSpec("security.istio.io", "AuthorizationPolicy", "authorizationpolicies", ("v1", "v1beta1"), ("ap",),
            (_c("Action", ".spec.action"),)),
    CrdSpec("telemetry.istio.io", "Telemetry", "telemetries", ("v1", "v1alpha1"), ("telemetry",)),
    CrdSpec("extensions.istio.io", "WasmPlugin", "wasmplugins", ("v1alpha1",)),
)


def crd_object(spec: CrdSpec) -> dict[str, Any]:
    """A CustomResourceDefinition object for ``spec`` (as ``kubectl get crd -o yaml`` would show it, trimmed)."""
    cols = [{"name": c.name, "type": c.type, "jsonPath": c.path} for c in spec.columns] + [
        {"name": "Age", "type": "date", "jsonPath": ".metadata.creationTimestamp"}
    ]
    versions = [
        {
            "name": v,
            "served": True,
            "storage": i == 0,
            "additionalPrinterColumns": cols,
            "schema": {"openAPIV3Schema": {"type": "object", "x-kubernetes-preserve-unknown-fields": True}},
            "subresources": {"status": {}},
        }
        for i, v in enumerate(spec.versions)
    ]
    return {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": f"{spec.plural}.{spec.group}", "labels": {"app": "istio-pilot", "chart": "istio"}},
        "spec": {
            "group": spec.group,
            "names": {
                "kind": spec.kind,
                "listKind": f"{spec.kind}List",
                "plural": spec.plural,
                "singular": spec.kind.lower(),
                "shortNames": list(spec.short_names),
                "categories": ["istio-io", f"{spec.group.split('.')[0]}-istio-io"],
            },
            "scope": "Namespaced" if spec.namespaced else "Cluster",
            "versions": versions,
        },
    }


def type_from_crd(crd: dict[str, Any]) -> ResourceType:
    """The served type a CustomResourceDefinition object defines (raises ValueError when it is malformed)."""
    spec = crd.get("spec") or {}
    names = spec.get("names") or {}
    group, kind, plural = spec.get("group"), names.get("kind"), names.get("plural")
    if not (isinstance(group, str) and group and isinstance(kind, str) and kind and isinstance(plural, str) and plural):
        raise ValueError("spec.group, spec.names.kind and spec.names.plural are required")
    versions = [v for v in spec.get("versions") or [] if isinstance(v, dict) and v.get("served", True)]
    if not versions:
        raise ValueError("spec.versions must list at least one served version")
    # The storage version is preferred (Kubernetes sorts by version priority; storage first is close enough here).
    versions.sort(key=lambda v: (not v.get("storage", False)))
    cols: list[Column] = []
    for c in versions[0].get("additionalPrinterColumns") or []:
        if c.get("jsonPath") == ".metadata.creationTimestamp":
            continue
        cols.append(Column(name=c.get("name", ""), type=c.get("type", "string"), path=c.get("jsonPath", ""), priority=int(c.get("priority", 0))))
    return ResourceType(
        group=group,
        versions=tuple(str(v["name"]) for v in versions),
        kind=kind,
        plural=plural,
        namespaced=spec.get("scope", "Namespaced") != "Cluster",
        short_names=tuple(names.get("shortNames") or ()),
        categories=tuple(names.get("categories") or ()),
        columns=tuple(cols),
        subresources=("status",),
        builtin=False,
    )
