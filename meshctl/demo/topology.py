"""The demo's topology: one Pod per Deployment of the example, each with its own loopback IP.

The bookinfo example only has Deployments (pod templates, no IPs). A real cluster gives every pod an IP;
the demo gives each one ``127.0.<subnet>.<10+i>`` by generating Pod objects (``status.podIP``) in memory and
layering them over the example, so the model and translator treat them exactly like pods read from a
cluster. ``127.0.<subnet>.1`` is the control plane (xDS server and the demo's control endpoint). The example
files are never changed.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from meshctl.errors import UsageError
from meshctl.sources import Resource, load_text

CONTROL_HOST_OCTET = 1
FIRST_WORKLOAD_OCTET = 10
GATEWAY_LABEL = "istio"


@dataclass
class DemoWorkload:
    """One demo pod: where its Envoy and app live and what it is in the mesh."""

    pod: str
    namespace: str
    deployment: str
    ip: str
    labels: dict[str, str]
    service_account: str
    container_ports: list[int]
    gateway: bool = False
    annotations: dict[str, str] = field(default_factory=dict)
    source_file: str | None = None  # the manifest of the Deployment, for error messages

    @property
    def app(self) -> str:
        return self.labels.get("app", self.deployment)

    @property
    def version(self) -> str:
        return self.labels.get("version", "")

    @property
    def node_type(self) -> str:
        return "router" if self.gateway else "sidecar"

    @property
    def node_id(self) -> str:
        """Istio's node id for this pod (same format as :attr:`meshctl.model.types.Proxy.node_id`)."""
        return f"{self.node_type}~{self.ip}~{self.pod}.{self.namespace}~{self.namespace}.svc.cluster.local"


def subnet_ip(subnet: int, host: int) -> str:
    if not 0 <= subnet <= 255 or not 1 <= host <= 254:
        raise UsageError(f"--subnet must be 0..255 (got {subnet})")
    return f"127.0.{subnet}.{host}"


def _is_gateway(template_meta: dict[str, Any], labels: dict[str, str]) -> bool:
    inject = str((template_meta.get("annotations") or {}).get("sidecar.istio.io/inject", "")).lower()
    return GATEWAY_LABEL in labels or (labels.get("app", "").endswith("gateway") and inject == "false")


def plan_workloads(resources: list[Resource], subnet: int) -> list[DemoWorkload]:
    """One :class:`DemoWorkload` per Deployment (replicas ignored: one pod each), IPs in load order."""
    out: list[DemoWorkload] = []
    deployments = [r for r in resources if r.kind == "Deployment"]
    if len(deployments) > 254 - FIRST_WORKLOAD_OCTET:
        raise UsageError(
            f"the demo supports at most {254 - FIRST_WORKLOAD_OCTET} deployments (got {len(deployments)})"
        )
    for i, dep in enumerate(sorted(deployments, key=lambda r: r.index)):
        template = (dep.spec or {}).get("template") or {}
        meta = template.get("metadata") or {}
        labels = {str(k): str(v) for k, v in (meta.get("labels") or {}).items()}
        pod_spec = template.get("spec") or {}
        ports = [
            int(p["containerPort"])
            for c in pod_spec.get("containers") or []
            for p in c.get("ports") or []
            if isinstance(p, dict) and "containerPort" in p
        ]
        out.append(
            DemoWorkload(
                pod=f"{dep.name}-0",
                namespace=dep.namespace or "default",
                deployment=dep.name,
                ip=subnet_ip(subnet, FIRST_WORKLOAD_OCTET + i),
                labels=labels,
                service_account=str(pod_spec.get("serviceAccountName") or "default"),
                container_ports=ports,
                gateway=_is_gateway(meta, labels),
                annotations={str(k): str(v) for k, v in (meta.get("annotations") or {}).items()},
                source_file=dep.file,
            )
        )
    return out


def pod_manifest(w: DemoWorkload, deployment: Resource) -> dict[str, Any]:
    """A Pod object as the API server would return it for this workload (running, ready, with its IP)."""
    template = (deployment.spec or {}).get("template") or {}
    spec = json.loads(json.dumps(template.get("spec") or {}))
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": w.pod,
            "namespace": w.namespace,
            "labels": dict(w.labels),
            "annotations": dict(w.annotations),
            "ownerReferences": [
                {"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": f"{w.deployment}-demo"}
            ],
        },
        "spec": spec,
        "status": {
            "phase": "Running",
            "podIP": w.ip,
            "podIPs": [{"ip": w.ip}],
            "hostIP": w.ip,
            "conditions": [{"type": "Ready", "status": "True"}],
        },
    }


def layer_pods(
    resources: list[Resource], workloads: list[DemoWorkload], drop_deployments: bool = False
) -> list[Resource]:
    """``resources`` plus one generated Pod per workload (optionally without the Deployments they replace)."""
    by_name = {(r.namespace, r.name): r for r in resources if r.kind == "Deployment"}
    docs = [pod_manifest(w, by_name[(w.namespace, w.deployment)]) for w in workloads]
    text = json.dumps({"apiVersion": "v1", "kind": "List", "items": docs})
    pods = load_text(text, "<meshctl demo: generated pods>", start_index=len(resources))
    for pod in pods:
        pod.origin = "generated"  # the demo's stand-ins for what a cluster creates, not config a user wrote
    kept = [r for r in resources if not (drop_deployments and r.kind == "Deployment")]
    return kept + pods
