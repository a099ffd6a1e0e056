"""Where a graph comes from: config files, a running demo mesh, admin URLs, Prometheus -- one interface.

The CLI takes one :class:`GraphSnapshot`; the TUI calls :meth:`GraphSource.snapshot` every refresh. Live
sources re-read config files when they change on disk and take route weights from the proxies, so a
change applied to a running mesh shows up on the next refresh. :class:`StaticSource` replays fixed traffic
windows: the deterministic source the TUI tests and snapshots use.
"""

from __future__ import annotations

import os
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol

import networkx as nx

from meshctl.errors import UnavailableError, UsageError
from meshctl.graph.build import build_graph
from meshctl.graph.envoy_source import ProxyTarget, StatsPoller, target_from_admin
from meshctl.graph.topology import Topology, topology_from_resources
from meshctl.graph.traffic import TrafficWindow
from meshctl.graph.weights import fetch_weights
from meshctl.sources import load_paths
from meshctl.sources.resource import Resource

BOOKINFO = os.path.join(os.path.dirname(os.path.dirname(__file__)), "examples", "bookinfo")


@dataclass
class GraphSnapshot:
    """One refresh: the workload graph (finished), the config behind it, the traffic window, the proxies."""

    graph: nx.DiGraph
    topo: Topology
    resources: list[Resource]
    window: TrafficWindow | None
    proxies: list[ProxyTarget]
    taken_at: float
    errors: list[str] = field(default_factory=list)
    source: str = ""


class GraphSource(Protocol):
    description: str

    def snapshot(self) -> GraphSnapshot: ...

    def close(self) -> None: ...


class _Config:
    """Config files, re-read when any file's mtime changes (cheap stat() per refresh)."""

    def __init__(self, paths: Sequence[str]) -> None:
        self.paths = list(paths)
        self._stamp: tuple[tuple[str, float], ...] | None = None
        self.resources: list[Resource] = []
        self.topo = Topology()

    def _mtimes(self) -> tuple[tuple[str, float], ...]:
        out = []
        for p in self.paths:
            if p == "-":
                continue
            for root, _, files in os.walk(p) if os.path.isdir(p) else [("", [], [p])]:
                for f in files:
                    fp = os.path.join(root, f) if root else f
                    try:
                        out.append((fp, os.stat(fp).st_mtime))
                    except OSError:
                        pass
        return tuple(sorted(out))

    def load(self) -> Topology:
        stamp = self._mtimes()
        if stamp != self._stamp or not self.resources:
            self.resources = load_paths(self.paths) if self.paths else []
            self.topo = topology_from_resources(self.resources)
            self._stamp = stamp
        return self.topo


class DemoConfig:
    """The config a running ``meshctl demo`` serves now (``GET <control>/resources``), re-fetched when it changes.

    After ``meshctl demo apply`` the demo runs on config no file on disk holds, so its nodes and badges must
    come from the demo itself. Each refresh is one conditional GET (``If-None-Match``: a 304 until the next
    apply/delete); the topology is rebuilt only on a new version. If the demo stops answering, the last
    config is kept and the error reported with the snapshot.
    """

    def __init__(self, control_url: str) -> None:
        self.control_url = control_url.rstrip("/")
        self.paths: list[str] = []  # nothing on disk to translate: the demo's xDS server says what it intends
        self.version: str | None = None
        self.resources: list[Resource] = []
        self.topo = Topology()
        self.error: str | None = None

    def load(self) -> Topology:
        from meshctl.demo.control import get_resources

        try:
            got = get_resources(self.control_url, self.version)
        except UnavailableError as e:
            if self.version is None:
                raise
            self.error = e.message
            return self.topo
        self.error = None
        if got is not None:
            self.version, self.resources = got
            self.topo = topology_from_resources(self.resources)
        return self.topo


class StaticSource:
    """Config plus a fixed list of traffic windows, replayed in order (the last one repeats)."""

    def __init__(self, resources: list[Resource], windows: Sequence[TrafficWindow] = (),
                 weights: Sequence[dict[str, dict[str, float]]] = (), clock: float = 1_700_000_000.0,
                 description: str = "static") -> None:
        self.resources = resources
        self.topo = topology_from_resources(resources)
        self.windows = list(windows)
        self.weights = list(weights)
        self.i = 0
        self.clock = clock
        self.description = description

    def snapshot(self) -> GraphSnapshot:
        w = self.windows[min(self.i, len(self.windows) - 1)] if self.windows else None
        weights = self.weights[min(self.i, len(self.weights) - 1)] if self.weights else None
        self.i += 1
        g = build_graph(self.topo, w, weights)
        return GraphSnapshot(g, self.topo, self.resources, w, [], self.clock + self.i, source=self.description)

    def close(self) -> None:
        pass


class LiveSource:
    """Config files + live traffic from proxies' admin stats or Prometheus, weights from proxies' routes."""

    def __init__(
        self,
        config_paths: Sequence[str] = (),
        targets: Sequence[ProxyTarget] = (),
        prometheus: str | None = None,
        namespaces: set[str] | None = None,
        prom_window: str = "1m",
        description: str = "live",
        read_weights: bool = True,
        debug_url: str | None = None,
        config: _Config | DemoConfig | None = None,
    ) -> None:
        self.config = config if config is not None else _Config(config_paths)
        self.targets = list(targets)
        self.poller = StatsPoller(self.targets) if self.targets and not prometheus else None
        self.prometheus = prometheus
        self.namespaces = namespaces
        self.prom_window = prom_window
        self.description = description
        self.read_weights = read_weights
        #: an xDS server's debug endpoint (the demo's): the intended config per proxy, for diffs
        self.debug_url = debug_url

    def _weights(self) -> dict[str, dict[str, float]]:
        merged: dict[str, dict[str, float]] = {}
        for t in self.targets:
            if t.kind != "sidecar":
                continue
            for host, split in fetch_weights(t.admin_url).items():
                merged.setdefault(host, split)
        return merged

    def snapshot(self) -> GraphSnapshot:
        errors: list[str] = []
        topo = self.config.load()
        if isinstance(self.config, DemoConfig) and self.config.error:
            errors.append(f"config: {self.config.error} (showing the last config read)")
        window: TrafficWindow | None = None
        if self.prometheus:
            from meshctl.graph.prometheus import window_from_prometheus

            try:
                window = window_from_prometheus(self.prometheus, self.prom_window, self.namespaces)
            except UnavailableError as e:
                errors.append(e.message)
        elif self.poller is not None:
            window = self.poller.poll()
            errors += [f"{url}: {msg}" for url, msg in window.errors.items()]
        weights = self._weights() if self.read_weights and self.targets else None
        g = build_graph(topo, window, weights)
        if self.namespaces:
            g = g.subgraph([n for n, d in g.nodes(data=True) if not d.get("namespace") or d["namespace"] in self.namespaces
                            or any(g.nodes[m].get("namespace") in self.namespaces for m in nx.all_neighbors(g, n))]).copy()
        return GraphSnapshot(g, topo, self.config.resources, window, self.targets, time.time(), errors, self.description)

    def prime(self) -> None:
        """Take the first poll (counters only) so the next snapshot has rates."""
        if self.poller is not None:
            self.poller.poll()

    def close(self) -> None:
        pass


def demo_targets(status_file: str | None = None) -> list[ProxyTarget]:
    """Proxies of a running ``meshctl demo`` from its status file."""
    from meshctl.demo.control import read_status_file

    data = read_status_file(status_file)
    out = []
    for p in data.get("proxies") or []:
        if not p.get("admin_url"):
            continue
        labels = {k: str(p[k]) for k in ("app", "version") if p.get(k)}
        out.append(ProxyTarget(str(p["admin_url"]), str(p.get("namespace") or "default"),
                               str(p.get("workload") or p.get("pod") or p["name"]),
                               "router" if p.get("type") == "router" else "sidecar", str(p.get("name") or ""), labels))
    if not out:
        raise UnavailableError("the demo status file lists no proxies with an admin URL", file=status_file)
    return out


def admin_targets(urls: Sequence[str]) -> list[ProxyTarget]:
    """Identify each admin URL's proxy (node id / metadata from ``/server_info``)."""
    targets = []
    for u in urls:
        if not u.startswith(("http://", "https://")):
            u = "http://" + u
        targets.append(target_from_admin(u))
    return targets


def make_source(
    filenames: Sequence[str] = (),
    demo: bool = False,
    status_file: str | None = None,
    kube: bool = False,
    admin: Sequence[str] = (),
    prometheus: str | None = None,
    namespace: str | None = None,
    kubeconfig: str | None = None,
    context: str | None = None,
    prom_window: str = "1m",
) -> LiveSource:
    """The CLI/TUI flag combination -> one source (clear usage errors for impossible combinations).

    Close it when done: a cluster source holds watches and port-forwards.
    """
    namespaces = {namespace} if namespace else None
    if demo:
        from meshctl.demo.control import read_status_file

        info = read_status_file(status_file)
        debug_url = info.get("debug_url")
        # -f overrides what the demo runs on (e.g. to graph a change before applying it)
        config = None if filenames else DemoConfig(str(info["control_url"]))
        return LiveSource(list(filenames), demo_targets(status_file), prometheus, namespaces, prom_window,
                          description="demo mesh", debug_url=str(debug_url) if debug_url else None, config=config)
    if kube:
        if filenames or admin:
            raise UsageError("-k reads config and proxies from the cluster: leave out -f and --admin")
        from meshctl.sources.kubernetes.graph import kube_live_source

        source: LiveSource = kube_live_source(kubeconfig, context, namespace, prometheus)
        source.prom_window = prom_window
        return source
    if not filenames and not admin and not prometheus:
        raise UsageError("nothing to graph: give -f CONFIG, --demo, --admin URL or --prometheus URL")
    targets = admin_targets(admin) if admin else []
    desc = "files" if not (targets or prometheus) else ("prometheus" if prometheus else "admin")
    return LiveSource(filenames, targets, prometheus, namespaces, prom_window, description=desc)
