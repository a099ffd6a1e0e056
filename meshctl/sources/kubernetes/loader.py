"""One-shot cluster load for commands like ``analyze -k`` and ``translate -k``: discover, list once, return resources."""

from __future__ import annotations

from meshctl.sources.kubernetes.client import KubeClient
from meshctl.sources.kubernetes.informer import ClusterSource
from meshctl.sources.kubernetes.kinds import WANTED, Want
from meshctl.sources.resource import Resource


class ClusterResources(list[Resource]):
    """The loaded resources (a plain list) plus ``notes`` (skipped kinds) and the ``context`` they came from."""

    notes: list[str]
    context: str
    namespace: str | None  # the scope read (None: all namespaces)
    namespace_default: str  # the kubeconfig context's namespace (else "default")


def load_cluster(
    kubeconfig: str | None = None,
    context: str | None = None,
    namespace: str | None = None,
    all_namespaces: bool = False,
    *,
    istio_namespace: str = "istio-system",
    client: KubeClient | None = None,
    wanted: tuple[Want, ...] = WANTED,
) -> ClusterResources:
    """Every resource meshctl needs from one cluster, as :class:`~meshctl.sources.Resource` objects.

    By default (``namespace`` None, or ``all_namespaces``) everything is read, as ``istioctl analyze -k`` does:
    routing crosses namespaces, so commands filter their *output* by namespace, not their input. A
    ``namespace`` restricts the read to it plus the Istio namespace, whose config (mesh-wide policies,
    ingress gateways, the ``istio`` ConfigMap) applies to every namespace. The context's own namespace is
    ``KubeClient.namespace`` (and ``.namespace_default`` of the result). Absent CRDs are skipped and listed in ``.notes``. Raises KubeError subclasses:
    unreachable (exit 69), 401/403 (exit 77, naming each missing verb and resource), bad kubeconfig (64/65).
    """
    own = client is None
    kc = client or KubeClient.connect(kubeconfig, context)
    try:
        ns = None if all_namespaces else namespace
        src = ClusterSource(kc, namespace=ns, istio_namespace=istio_namespace, wanted=wanted).sync()
        out = ClusterResources(src.resources())
        out.notes = src.notes
        out.context = kc.context
        out.namespace = ns
        out.namespace_default = kc.namespace
        return out
    finally:
        if own:
            kc.close()
