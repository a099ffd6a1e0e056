"""The traffic graph from a live cluster: config from the informer cache, proxies' stats through port-forwards.

``kube_live_source()`` returns a :class:`meshctl.graph.source.LiveSource` whose config is the cluster (the
workload of a Pod is its top-level controller, as in Kiali: Deployment, StatefulSet, DaemonSet) and whose
proxies are the cluster's injected sidecars and gateway pods, each reached through its own port-forward to
Envoy's admin port. Closing the source closes the port-forwards and the watches.
"""

from __future__ import annotations

from typing import Any

from meshctl.sources.kubernetes.client import KubeClient
from meshctl.sources.kubernetes.informer import ClusterSource
from meshctl.sources.kubernetes.portforward import ENVOY_ADMIN_PORT, PortForward
from meshctl.sources.resource import Resource

_CONTROLLED = ("ReplicaSet", "StatefulSet", "DaemonSet", "Job")


def _controller(r: Resource) -> dict[str, Any] | None:
    for ref in r.metadata.get("ownerReferences") or []:
        if isinstance(ref, dict) and ref.get("controller"):
            return ref
    return None


def top_workload(pod: Resource, by_key: dict[tuple[str, str, str], Resource]) -> tuple[str, str]:
    """(kind, name) of the workload a Pod belongs to: Deployment via its ReplicaSet, else its controller, else itself."""
    ref = _controller(pod)
    if ref is None:
        return "Pod", pod.name
    if ref.get("kind") == "ReplicaSet":
        rs = by_key.get(("ReplicaSet", pod.namespace or "", str(ref.get("name"))))
        up = _controller(rs) if rs is not None else None
        if up is not None and up.get("kind") == "Deployment":
            return "Deployment", str(up.get("name"))
    return str(ref.get("kind")), str(ref.get("name"))


def graph_resources(resources: list[Resource]) -> list[Resource]:
    """The resources for the graph's topology: controller-owned Pods and ReplicaSets are left out (their
    controller is the workload), as are EndpointSlices/Endpoints (the graph reads Services and workloads)."""
    out = []
    for r in resources:
        if r.kind in ("EndpointSlice", "Endpoints"):
            continue
        if r.kind == "Pod" and _controller(r) is not None:
            continue
        if r.kind == "ReplicaSet" and (_controller(r) or {}).get("kind") == "Deployment":
            continue
        out.append(r)
    return out


def proxy_pods(resources: list[Resource], namespaces: set[str] | None = None) -> list[Resource]:
    """Running pods with an Envoy: injected sidecars (``sidecar.istio.io/status``) and gateways (``istio-proxy``)."""
    out = []
    for r in resources:
        if r.kind != "Pod" or (namespaces and r.namespace not in namespaces):
            continue
        st = r.obj.get("status") or {}
        if st.get("phase") != "Running" or not st.get("podIP"):
            continue
        containers = [c.get("name") for c in (r.spec.get("containers") or []) if isinstance(c, dict)]
        if "sidecar.istio.io/status" in r.annotations or "istio-proxy" in containers:
            out.append(r)
    return out


class _ClusterConfig:
    """The graph's config feed (same interface as ``meshctl.graph.source._Config``) over a ClusterSource."""

    def __init__(self, cluster: ClusterSource) -> None:
        from meshctl.graph.topology import Topology

        self.cluster = cluster
        self.resources: list[Resource] = []
        self.topo = Topology()
        self._seen = -1

    def load(self) -> Any:
        from meshctl.graph.topology import topology_from_resources

        events = self.cluster.stats.events
        if events != self._seen:
            self.resources = graph_resources(self.cluster.resources())
            self.topo = topology_from_resources(self.resources)
            self._seen = events
        return self.topo


def kube_live_source(kubeconfig: str | None = None, context: str | None = None, namespace: str | None = None,
                     prometheus: str | None = None, admin_port: int = ENVOY_ADMIN_PORT) -> Any:
    """A started LiveSource for ``meshctl graph -k`` / ``meshctl tui -k``; ``close()`` it when done."""
    from meshctl.graph.envoy_source import ProxyTarget
    from meshctl.graph.source import LiveSource

    client = KubeClient.connect(kubeconfig, context)
    cluster = ClusterSource(client).start()
    forwards: list[PortForward] = []
    try:
        resources = cluster.resources()
        by_key = {(r.kind, r.namespace or "", r.name): r for r in resources}
        targets = []
        if not prometheus:
            for pod in proxy_pods(resources, {namespace} if namespace else None):
                pf = PortForward(client, pod.name, pod.namespace or "default", admin_port)
                forwards.append(pf)
                labels = {k: v for k, v in pod.labels.items() if k in ("app", "version")}
                istio = pod.labels.get("istio", "")
                kind = "router" if "gateway" in istio or "sidecar.istio.io/status" not in pod.annotations else "sidecar"
                targets.append(ProxyTarget(pf.base_url, pod.namespace or "default", top_workload(pod, by_key)[1], kind, pod.name, labels))
        src = LiveSource((), targets, prometheus, {namespace} if namespace else None, description=f"kubernetes ({client.context})")
    except BaseException:
        for pf in forwards:
            pf.close()
        cluster.stop()
        client.close()
        raise
    src.config = _ClusterConfig(cluster)  # type: ignore[assignment]  # same interface as graph.source._Config
    base_close = src.close

    def close() -> None:
        base_close()
        for pf in forwards:
            pf.close()
        cluster.stop()
        client.close()

    src.close = close  # type: ignore[method-assign]
    return src
