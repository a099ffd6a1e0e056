"""MeshConfig from a cluster: the ``istio`` ConfigMap (``data.mesh``) in the Istio namespace, as istiod reads it."""

from __future__ import annotations

from typing import Any

import yaml

from meshctl.sources.resource import Resource


def istio_configmap(resources: list[Resource], istio_namespace: str = "istio-system", revision: str | None = None) -> Resource | None:
    """The ``istio`` (or ``istio-<revision>``) ConfigMap among ``resources``, if any."""
    name = f"istio-{revision}" if revision else "istio"
    return next((r for r in resources if r.kind == "ConfigMap" and r.name == name and r.namespace == istio_namespace), None)


def mesh_config_from_cluster(resources: list[Resource], istio_namespace: str = "istio-system", revision: str | None = None) -> Any:
    """The model's MeshConfig parsed from the cluster's ConfigMap (errors name ``kube://…/ConfigMap/istio``), or None."""
    cm = istio_configmap(resources, istio_namespace, revision)
    if cm is None or not (cm.obj.get("data") or {}).get("mesh"):
        return None
    from meshctl.model.meshconfig import parse_mesh_config

    text = yaml.safe_dump({"apiVersion": "v1", "kind": "ConfigMap", "metadata": cm.metadata, "data": cm.obj.get("data")}, sort_keys=False)
    return parse_mesh_config(text, cm.file or "kube://ConfigMap/istio")
