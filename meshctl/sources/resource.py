"""A Kubernetes-style object as loaded from a file or a cluster, with where it came from.

Every later stage (model, translator, analyzer, diff) can point a user back to ``file:line`` of the
field that caused a message, because the loader keeps a line for every mapping key (see
:mod:`meshctl.sources.lines`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from meshctl.errors import SourcePos
from meshctl.sources.lines import line_of

#: Kinds that have no namespace. Anything else gets the default namespace when the file leaves it out.
CLUSTER_SCOPED_KINDS = frozenset(
    {
        "Namespace",
        "Node",
        "CustomResourceDefinition",
        "ClusterRole",
        "ClusterRoleBinding",
        "MutatingWebhookConfiguration",
        "ValidatingWebhookConfiguration",
        "PersistentVolume",
        "StorageClass",
        "GatewayClass",
        "MeshConfig",
        "PriorityClass",
    }
)


@dataclass(eq=False)
class Resource:
    """One object: ``apiVersion``/``kind``/``metadata`` plus the whole body as loaded.

    ``obj`` keeps the loader's line-aware mappings so :meth:`pos` can locate any field.
    ``namespace`` is the effective namespace (the file's, else the default one); ``namespace_explicit``
    says whether the file set it. ``index`` is the load order, used as a stable tie-breaker.
    """

    api_version: str
    kind: str
    name: str
    namespace: str | None
    obj: dict[str, Any]
    file: str | None = None
    line: int | None = None
    index: int = 0
    namespace_explicit: bool = True
    origin: str = "file"  # "file" | "kube" | "stdin" | "generated"
    extra: dict[str, Any] = field(default_factory=dict)

    # --- identity -------------------------------------------------------------------------------------
    @property
    def group(self) -> str:
        return self.api_version.rpartition("/")[0] if "/" in self.api_version else ""

    @property
    def version(self) -> str:
        return self.api_version.rpartition("/")[2]

    @property
    def key(self) -> tuple[str, str, str, str]:
        """(group, kind, namespace, name): two resources with the same key are duplicates."""
        return (self.group, self.kind, self.namespace or "", self.name)

    @property
    def ref(self) -> str:
        """``Kind ns/name`` (or ``Kind name`` when cluster-scoped), as istioctl prints an origin."""
        return f"{self.kind} {self.namespace}/{self.name}" if self.namespace else f"{self.kind} {self.name}"

    @property
    def full_name(self) -> str:
        return f"{self.namespace}/{self.name}" if self.namespace else self.name

    # --- common fields ----------------------------------------------------------------------------------
    @property
    def metadata(self) -> dict[str, Any]:
        md = self.obj.get("metadata")
        return md if isinstance(md, dict) else {}

    @property
    def spec(self) -> dict[str, Any]:
        spec = self.obj.get("spec")
        return spec if isinstance(spec, dict) else {}

    @property
    def labels(self) -> dict[str, str]:
        v = self.metadata.get("labels")
        return v if isinstance(v, dict) else {}

    @property
    def annotations(self) -> dict[str, str]:
        v = self.metadata.get("annotations")
        return v if isinstance(v, dict) else {}

    @property
    def creation_timestamp(self) -> str:
        """RFC3339 string or "" (files rarely carry one; load order then decides)."""
        v = self.metadata.get("creationTimestamp")
        return str(v) if v else ""

    def sort_key(self) -> tuple[str, str, str, int]:
        """Istio's config precedence: creation time, then name, then namespace (then load order)."""
        return (self.creation_timestamp, self.name, self.namespace or "", self.index)

    # --- positions ----------------------------------------------------------------------------------------
    def pos(self, path: str | None = None) -> SourcePos:
        """File and line of ``path`` (``spec.http[0].route[1].weight``), or of the object itself."""
        if not path:
            return SourcePos(self.file, self.line)
        line = line_of(self.obj, path)
        return SourcePos(self.file, line if line is not None else self.line)

    def __repr__(self) -> str:
        where = f" @{self.pos()}" if self.file else ""
        return f"<Resource {self.api_version} {self.ref}{where}>"
