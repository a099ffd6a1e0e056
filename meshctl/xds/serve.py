"""``meshctl xds serve``: the file-backed control plane, as a library function the CLI wraps.

Starts the ADS server and the debug endpoint, maps connecting Envoys to proxies of the model, reloads on
file changes (debounced) and shuts down gracefully on SIGINT/SIGTERM (streams get a short grace period).
"""

from __future__ import annotations

import asyncio
import logging
import signal
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from meshctl.errors import MeshctlError
from meshctl.xds.cache import SnapshotCache
from meshctl.xds.debug import DebugServer
from meshctl.xds.server import TlsFiles, XdsServer
from meshctl.xds.source import MeshSource
from meshctl.xds.status import SyncStatus
from meshctl.xds.watch import watch_files

log = logging.getLogger("meshctl.xds")


@dataclass
class ServeOptions:
    paths: Sequence[str]
    address: str = "127.0.0.1"
    port: int = 15010
    debug_port: int | None = None  # None: port + 4 (15014 like istiod's); 0: any free port; -1: off
    watch: bool = True
    tls: TlsFiles | None = None
    mesh_config: str | None = None
    loopback: bool = False
    debounce: float = 0.1
    #: Called once serving, with (grpc port, debug port or 0): tests and the demo learn the ports this way.
    on_ready: Callable[[int, int], None] | None = None
    stop: asyncio.Event | None = field(default=None, repr=False)
    #: Read the live cluster (list + watch) instead of / under the files: ``meshctl xds serve -k``.
    kube: bool = False
    kubeconfig: str | None = None
    kube_context: str | None = None
    namespace: str | None = None  # None: all namespaces


async def serve(opts: ServeOptions) -> None:
    """Serve until SIGINT/SIGTERM (or ``opts.stop`` is set). Bad input files raise before anything listens."""
    cluster = None
    if opts.kube:
        from meshctl.sources.kubernetes import ClusterSource
        from meshctl.sources.kubernetes.xds import KubeMeshSource

        def connect() -> ClusterSource:
            return ClusterSource(
                kubeconfig=opts.kubeconfig, context=opts.kube_context, namespace=opts.namespace
            ).start()

        cluster = await asyncio.to_thread(connect)
        source: MeshSource = KubeMeshSource(
            cluster, paths=opts.paths, mesh_config=opts.mesh_config, loopback=opts.loopback
        )
    else:
        source = MeshSource(opts.paths, mesh_config=opts.mesh_config, loopback=opts.loopback)
    try:
        await asyncio.to_thread(source.load)
    except BaseException:
        if cluster is not None:
            await asyncio.to_thread(cluster.stop)
        raise
    cache = SnapshotCache(resolver=source.resolve)
    source.cache = cache
    status = SyncStatus()
    server = XdsServer(cache, status)
    port = await server.start(opts.address, opts.port, opts.tls)
    debug = None
    debug_port = opts.debug_port if opts.debug_port is not None else (opts.port + 4 if opts.port else 0)
    if debug_port >= 0:
        debug = DebugServer(cache, status)
        try:
            debug_port = await debug.start(opts.address, debug_port)
        except BaseException:
            await server.stop(0)
            raise
    if opts.address not in ("127.0.0.1", "::1", "localhost") and opts.tls is None:
        log.warning(
            "xds: serving plaintext on %s: anyone who can reach it can read the mesh config", opts.address
        )
    stop = opts.stop or asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        try:
            loop.add_signal_handler(sig, stop.set)
        except (NotImplementedError, RuntimeError, ValueError):  # not the main thread / platform
            pass

    async def reload() -> None:
        try:
            changed = await asyncio.to_thread(source.reload)
        except MeshctlError as e:
            log.error("xds: reload failed, still serving the previous config: %s", e)
            return
        except Exception:  # keep watching whatever went wrong
            log.exception("xds: reload failed (internal error), still serving the previous config")
            return
        log.info(
            "xds: reloaded %s: %d proxies updated%s",
            source.version,
            len(changed),
            f" ({', '.join(changed)})" if changed else "",
        )

    watchers = []
    if opts.watch and opts.paths:
        watchers.append(asyncio.create_task(watch_files(opts.paths, reload, debounce=opts.debounce)))
    if cluster is not None:  # a live cluster is always followed: that is the point of reading it
        from meshctl.sources.kubernetes.xds import watch_cluster

        watchers.append(asyncio.create_task(watch_cluster(cluster, reload, debounce=opts.debounce)))
    proxies = len(source.mesh.proxies())
    log.info(
        "xds: serving ADS (SotW and delta) on %s:%d%s for %d proxies of the model%s%s",
        opts.address,
        port,
        " with TLS" + (" (mTLS)" if opts.tls and opts.tls.client_ca else "") if opts.tls else "",
        proxies,
        f"; debug http://{opts.address}:{debug_port}/debug/syncz" if debug else "",
        ("; following the cluster" if cluster is not None else "")
        + ("; watching files" if opts.watch and opts.paths else ""),
    )
    if opts.on_ready:
        opts.on_ready(port, debug_port if debug else 0)
    try:
        await stop.wait()
    finally:
        log.info("xds: shutting down")
        for w in watchers:
            w.cancel()
        for sig in (signal.SIGINT, signal.SIGTERM):
            try:
                loop.remove_signal_handler(sig)
            except (NotImplementedError, RuntimeError, ValueError):
                pass
        await server.stop(1.0)
        if debug:
            await debug.stop()
        if cluster is not None:
            await asyncio.to_thread(cluster.stop)


def setup_logging(level: str = "info") -> None:
    """Log lines to stderr: ``2026-01-01T00:00:00 info  xds: ...``."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)-7s %(message)s", "%Y-%m-%dT%H:%M:%S"))
    lg = logging.getLogger("meshctl")
    lg.handlers[:] = [handler]
    lg.setLevel(level.upper())
    lg.propagate = False
