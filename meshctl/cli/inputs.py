"""Build the mesh model from a command's inputs: ``-f`` files, or the live cluster (``-k``) with files on top.

Shared by every command that translates or inspects the model, so they read inputs, MeshConfig and
duplicate warnings the same way.
"""

from __future__ import annotations

from typing import Any

import click


def mesh_from_inputs(
    filenames: tuple[str, ...] | list[str],
    *,
    use_kube: bool = False,
    kubeconfig: str | None = None,
    kube_context: str | None = None,
    meshconfig: str | None = None,
) -> Any:
    """The Mesh for ``-f`` files (or the cluster with ``-k``; MeshConfig from the istio ConfigMap unless
    ``--meshconfig``), printing one warning line per duplicate definition on stderr."""
    from meshctl.model import build_mesh, load_mesh_config

    if use_kube:  # docs/kubernetes.md
        from meshctl.sources.kubernetes.inputs import load_inputs, print_notes

        inp = load_inputs(filenames, kube=True, kubeconfig=kubeconfig, context=kube_context, meshconfig=meshconfig)
        print_notes(inp.notes)
        mesh = build_mesh(inp.resources, inp.mesh_config)
    else:
        from meshctl.sources import load_paths

        mc = load_mesh_config(meshconfig) if meshconfig else None
        mesh = build_mesh(load_paths(filenames), mc)
    for w in mesh.duplicate_warnings():
        click.echo(f"Warning: {w}", err=True)
    return mesh
