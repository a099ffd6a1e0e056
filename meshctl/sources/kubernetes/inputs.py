"""Inputs for commands with ``-k``: the live cluster with ``-f`` files layered on top, plus the cluster's MeshConfig.

One function every command uses (``translate -k``, ``x model -k``, ...), so they all read a cluster the same way:
cluster resources first, files after them (a file's object with the same key is a change on top of the
cluster: it replaces the live one), MeshConfig from ``--meshconfig`` else the cluster's ``istio`` ConfigMap.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from meshctl.sources.kubernetes.loader import load_cluster
from meshctl.sources.kubernetes.meshconfig import mesh_config_from_cluster
from meshctl.sources.resource import Resource


@dataclass
class Inputs:
    resources: list[Resource]
    mesh_config: Any = None  # the model's MeshConfig, or None for Istio's defaults
    notes: list[str] = field(default_factory=list)
    context_namespace: str = "default"  # the kubeconfig context's namespace (for -k without -n)


def load_inputs(
    filenames: Sequence[str] = (),
    *,
    kube: bool = False,
    kubeconfig: str | None = None,
    context: str | None = None,
    meshconfig: str | None = None,
    istio_namespace: str = "istio-system",
    default_namespace: str = "default",
) -> Inputs:
    """Resources from the cluster (when ``kube``) and ``filenames``; see the module docstring."""
    from meshctl.sources import load_paths

    resources: list[Resource] = []
    notes: list[str] = []
    ctx_ns = default_namespace
    cluster_mc = None
    if kube:
        live = load_cluster(kubeconfig, context, istio_namespace=istio_namespace)
        notes = list(live.notes)
        ctx_ns = live.namespace_default
        cluster_mc = mesh_config_from_cluster(live, istio_namespace) if not meshconfig else None
        resources.extend(live)
    if filenames:
        files = load_paths(list(filenames), default_namespace=default_namespace)
        keys = {r.key for r in files}
        resources = [r for r in resources if r.key not in keys] + files
    for i, r in enumerate(resources):
        r.index = i  # load order: the cluster's objects, then the files' (Istio's last tie-breaker)
    if meshconfig:
        from meshctl.model.meshconfig import load_mesh_config

        mc: Any = load_mesh_config(meshconfig)
    else:
        mc = cluster_mc
    return Inputs(resources, mc, notes, ctx_ns)


def print_notes(notes: Sequence[str], file: Any = None) -> None:
    """Warn about what matters to a mesh user: Istio kinds the cluster does not serve (others stay quiet)."""
    out = file or sys.stderr
    for n in notes:
        if "istio.io" in n:
            print(f"Warning: {n}", file=out)
