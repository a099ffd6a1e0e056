"""Effective PeerAuthentication mTLS mode per workload and port: mesh (root namespace) -> namespace -> workload
(selector), port-level settings of the workload policy last; ``UNSET`` inherits. Default PERMISSIVE.
Source: ``pilot/pkg/security/authn/policy_applier.go``, ``pilot/pkg/model/authentication.go``.
"""

from __future__ import annotations

from meshctl.model.api import PeerAuthentication
from meshctl.model.config import Config
from meshctl.model.hosts import labels_match
from meshctl.model.types import Service, Workload

PERMISSIVE, STRICT, DISABLE = "PERMISSIVE", "STRICT", "DISABLE"


class PeerAuthIndex:
    def __init__(self, configs: list[Config[PeerAuthentication]], root_namespace: str) -> None:
        self.root_namespace = root_namespace
        self.configs = configs  # precedence order
        self._ns_cache: dict[str, str] = {}
        self._mode_cache: dict[tuple[int, int | None], str] = {}

    def _ns_policy(self, ns: str) -> Config[PeerAuthentication] | None:
        return next(
            (
                c
                for c in self.configs
                if c.namespace == ns and not (c.spec.selector and c.spec.selector.match_labels)
            ),
            None,
        )

    def _mode(self, pa: Config[PeerAuthentication] | None, mode: str) -> str:
        if pa is not None and pa.spec.mtls is not None and pa.spec.mtls.mode != "UNSET":
            return pa.spec.mtls.mode
        return mode

    def namespace_mode(self, ns: str) -> str:
        cached = self._ns_cache.get(ns)
        if cached is not None:
            return cached
        mode = self._mode(self._ns_policy(self.root_namespace), PERMISSIVE)
        if ns != self.root_namespace:
            mode = self._mode(self._ns_policy(ns), mode)
        self._ns_cache[ns] = mode
        return mode

    def workload_policy(self, w: Workload) -> Config[PeerAuthentication] | None:
        return next(
            (
                c
                for c in self.configs
                if c.namespace == w.namespace
                and c.spec.selector
                and c.spec.selector.match_labels
                and labels_match(c.spec.selector.match_labels, w.labels)
            ),
            None,
        )

    def mode(self, w: Workload, port: int | None = None) -> str:
        """Effective mode for inbound traffic to ``w`` on workload port ``port``."""
        key = (id(w), port)
        cached = self._mode_cache.get(key)
        if cached is not None:
            return cached
        self._mode_cache[key] = mode = self._compute_mode(w, port)
        return mode

    def _compute_mode(self, w: Workload, port: int | None) -> str:
        mode = self.namespace_mode(w.namespace)
        pa = self.workload_policy(w)
        mode = self._mode(pa, mode)
        if pa is not None and port is not None and port in pa.spec.port_level_mtls:
            pl = pa.spec.port_level_mtls[port].mode
            if pl != "UNSET":
                mode = pl
        return mode

    def service_mode(self, svc: Service) -> str:
        """Best-effort service-level mode for client-side auto mTLS (namespace, then mesh policy)."""
        if svc.mesh_external:
            return DISABLE
        return self.namespace_mode(svc.namespace)
