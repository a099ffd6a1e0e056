"""Files -> model -> translator -> per-node snapshots, for ``meshctl xds serve -f``.

:class:`MeshSource` is the cache's resolver: it maps an Istio node id (``sidecar~<ip>~<pod>.<ns>~...``) to a
proxy of the model (pod name, deployment name with or without pod hashes, workload entry, or IP) and
translates it. :meth:`MeshSource.reload` rebuilds the model and re-translates every node the cache serves; the
cache only notifies nodes whose content changed, so unrelated proxies see no push and no new version.
"""

from __future__ import annotations

import dataclasses
import logging
import re
import threading
import time
from collections.abc import Sequence
from typing import Any

from meshctl.errors import MeshctlError
from meshctl.model.types import Proxy
from meshctl.xds.cache import SnapshotCache, UnknownNodeError
from meshctl.xds.snapshot import Snapshot

log = logging.getLogger("meshctl.xds")

#: ``<deployment>-<replicaset hash>-<pod suffix>`` or ``<statefulset>-<ordinal>``: how pod names derive from owners.
_POD_SUFFIXES = (
    re.compile(r"^(.+)-[a-z0-9]{5,10}-[a-z0-9]{5}$"),
    re.compile(r"^(.+)-[a-z0-9]{5}$"),
    re.compile(r"^(.+)-\d+$"),
)


def parse_node_id(node_id: str) -> tuple[str, str, str, str]:
    """``(type, ip, pod, namespace)`` from ``type~ip~pod.ns~domain``; UnknownNodeError if it is not that shape."""
    parts = node_id.split("~")
    if len(parts) != 4 or "." not in parts[2] or parts[0] not in ("sidecar", "router"):
        raise UnknownNodeError(
            f"node id {node_id!r} is not Istio's '<sidecar|router>~<ip>~<pod>.<namespace>~<namespace>.svc.cluster.local'"
        )
    pod, _, ns = parts[2].rpartition(".")
    return parts[0], parts[1], pod, ns


class MeshSource:
    """The model built from ``paths`` and the snapshots the translator makes of it."""

    def __init__(
        self, paths: Sequence[str], *, mesh_config: str | None = None, loopback: bool = False
    ) -> None:
        self.paths = list(paths)
        self.mesh_config_path = mesh_config
        self.loopback = loopback
        self.cache: SnapshotCache | None = None
        self.mesh: Any = None
        self.generation = 0
        self.version = ""
        self._stdin_text: str | None = None
        self.ca: Any = None  # MeshCA, made on first use (issuing workload certificates for SDS)
        self._lock = threading.Lock()

    def read_resources(self) -> list[Any]:
        """The resources the model is built from. Sources other than files (a live cluster, the demo's
        in-memory config) override this hook (and :meth:`read_mesh_config`) rather than :meth:`load`."""
        from meshctl.sources import load_paths, load_text

        resources = load_paths([p for p in self.paths if p != "-"])
        if "-" in self.paths:
            # stdin can be read once: keep its text, so reloads (other files changed) see the same documents.
            if self._stdin_text is None:
                import sys

                self._stdin_text = sys.stdin.read()
            resources += load_text(self._stdin_text, "<stdin>", start_index=len(resources))
        return resources

    def read_mesh_config(self, resources: list[Any]) -> Any:
        """The MeshConfig (``--meshconfig`` file), or None for Istio's defaults."""
        if not self.mesh_config_path:
            return None
        from meshctl.model.meshconfig import load_mesh_config

        return load_mesh_config(self.mesh_config_path)

    def load(self) -> None:
        """(Re)build the model; raises MeshctlError (file:line: field: message) on bad input, keeping the old one."""
        from meshctl.model.mesh import build_mesh

        resources = self.read_resources()
        mesh = build_mesh(resources, self.read_mesh_config(resources))
        with self._lock:
            self.mesh = mesh
            self.generation += 1
            self.version = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()) + f"/{self.generation}"

    def proxy_for(self, node_id: str) -> Proxy:
        """The model's proxy for an Istio node id; UnknownNodeError naming the known proxies if none matches."""
        ptype, ip, pod, ns = parse_node_id(node_id)
        mesh = self.mesh
        proxy = None
        candidates = [f"pod/{pod}", f"deploy/{pod}", f"sts/{pod}", f"workloadentry/{pod}", pod]
        for rx in _POD_SUFFIXES:
            m = rx.match(pod)
            if m:
                candidates += [f"deploy/{m.group(1)}", f"sts/{m.group(1)}"]
        for target in candidates:
            try:
                proxy = mesh.proxy(target, ns)
                break
            except MeshctlError:
                continue
        if proxy is None and ip not in ("", "127.0.0.1", "0.0.0.0"):
            proxy = next((p for p in mesh.proxies() if p.workload.ip == ip and p.namespace == ns), None)
        if proxy is None:
            known = ", ".join(sorted(p.id for p in mesh.proxies())) or "(none)"
            raise UnknownNodeError(
                f"node {node_id!r} matches no workload of the model in namespace {ns!r}; known proxies: {known}"
            )
        if proxy.type.node_prefix != ptype:
            log.warning(
                "xds: node %s says %s but the model makes %s a %s", node_id, ptype, proxy.id, proxy.type.value
            )
        workload = proxy.workload
        if ip and workload.ip != ip and (workload.ip is None or self.loopback):
            # The proxy runs at the node's address (a deployment template has none; the demo mesh uses 127.0.0.x).
            workload = dataclasses.replace(workload, ip=ip)
        return dataclasses.replace(proxy, workload=workload, loopback=self.loopback)

    def secrets(self, proxy: Proxy, resources: list[Any]) -> list[Any]:
        """SDS secrets pilot-agent would serve this proxy: its workload cert, the root, and file-based ones referenced."""
        from meshctl.xds.certs import MeshCA
        from meshctl.xds.secrets import file_secret, file_secret_names, workload_secrets

        trust_domain = (
            getattr(getattr(self.mesh, "mesh_config", None), "trust_domain", None) or "cluster.local"
        )
        with self._lock:
            if self.ca is None or self.ca.trust_domain != trust_domain:
                self.ca = MeshCA(trust_domain)
            ca = self.ca
        out = workload_secrets(ca, proxy.namespace, proxy.workload.service_account or "default")
        for name in sorted(file_secret_names(resources)):
            sec = file_secret(name)
            if sec is not None:
                out.append(sec)
        return out

    def snapshot(self, node_id: str) -> Snapshot:
        from meshctl.translate import translate

        proxy = self.proxy_for(node_id)
        pc = translate(self.mesh, proxy)
        secrets = self.secrets(proxy, [*pc.clusters, *pc.listeners])
        snap = Snapshot.build(
            self.version,
            clusters=pc.clusters,
            endpoints=pc.endpoints,
            listeners=pc.listeners,
            routes=pc.routes,
            secrets=secrets,
        )
        for problem in snap.inconsistencies():
            log.warning("xds: %s: %s", node_id, problem)
        return snap

    def resolve(self, node_id: str, metadata: dict[str, Any]) -> Snapshot:
        """The cache's resolver hook."""
        return self.snapshot(node_id)

    def reload(self) -> list[str]:
        """Rebuild the model and update every served node; returns the nodes whose config changed.

        A bad file keeps the previous model (the error is logged with file:line and re-raised).
        """
        self.load()
        changed: list[str] = []
        cache = self.cache
        if cache is None:
            return changed
        done: set[str] = set()
        # Two passes: a proxy that connected while the first pass ran may have been translated from the
        # previous model; the second pass catches it.
        for _ in range(2):
            for node in cache.nodes():
                if node in done:
                    continue
                done.add(node)
                try:
                    snap = self.snapshot(node)
                except UnknownNodeError as e:
                    log.error("xds: %s", e)
                    continue
                except Exception:  # a translator bug for one proxy must not stop the others' updates
                    log.exception("xds: cannot translate config for %s; it keeps its previous config", node)
                    continue
                if cache.set_snapshot(node, snap):
                    changed.append(node)
        return changed
