"""Serve xDS from a live cluster: a :class:`~meshctl.xds.source.MeshSource` whose model is the informer cache.

``KubeMeshSource`` builds the model from :meth:`ClusterSource.resources` (plus optional ``-f`` files layered on
top, and the cluster's ``istio`` ConfigMap as MeshConfig unless ``--meshconfig`` is given);
:func:`watch_cluster` turns watch events into debounced reloads, so a VirtualService changed with
``kubectl apply`` reaches connected Envoys within ~debounce + translate time. The model is rebuilt per reload
(the model has no incremental API yet); the snapshot cache only pushes to nodes whose config changed.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Sequence

from meshctl.sources.kubernetes.informer import ClusterSource, ResourceEvent
from meshctl.sources.kubernetes.meshconfig import mesh_config_from_cluster
from meshctl.xds.source import MeshSource

log = logging.getLogger("meshctl.xds")


class KubeMeshSource(MeshSource):
    """MeshSource fed by a started :class:`ClusterSource` (see module docstring)."""

    def __init__(self, cluster: ClusterSource, *, paths: Sequence[str] = (), mesh_config: str | None = None,
                 loopback: bool = False) -> None:
        super().__init__(list(paths), mesh_config=mesh_config, loopback=loopback)
        self.cluster = cluster

    def load(self) -> None:
        from meshctl.model.mesh import build_mesh
        from meshctl.sources import load_paths

        resources = self.cluster.resources()
        if self.paths:
            extra = load_paths(self.paths)
            for i, r in enumerate(extra):
                r.index = len(resources) + i
            resources = resources + extra
        if self.mesh_config_path:
            from meshctl.model.meshconfig import load_mesh_config

            mesh_config = load_mesh_config(self.mesh_config_path)
        else:
            mesh_config = mesh_config_from_cluster(resources, self.cluster.istio_namespace)
        mesh = build_mesh(resources, mesh_config)
        with self._lock:
            self.mesh = mesh
            self.generation += 1
            self.version = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()) + f"/{self.generation}"


async def watch_cluster(cluster: ClusterSource, on_change: Callable[[], Awaitable[None]], *, debounce: float = 0.1) -> None:
    """Call ``on_change()`` once events stop arriving for ``debounce`` seconds (a burst becomes one reload)."""
    loop = asyncio.get_running_loop()
    flag = asyncio.Event()
    pending: list[ResourceEvent] = []

    def handler(ev: ResourceEvent) -> None:
        pending.append(ev)
        loop.call_soon_threadsafe(flag.set)

    unsubscribe = cluster.subscribe(handler)
    try:
        while True:
            await flag.wait()
            while True:
                flag.clear()
                try:
                    await asyncio.wait_for(flag.wait(), debounce)
                except TimeoutError:
                    break
            batch, pending[:] = list(pending), []
            log.info("xds: cluster changed: %s", ", ".join(f"{e.type.lower()} {e.resource.ref}" for e in batch[:5])
                     + (f" and {len(batch) - 5} more" if len(batch) > 5 else ""))
            await on_change()
    finally:
        unsubscribe()
