"""``DemoMesh``: bring up, change, report on and tear down the local demo mesh (the library behind ``meshctl demo``).

Order of start-up: load the example and give each Deployment a Pod with its own loopback IP; start the
control plane (xDS + debug) on ``127.0.<subnet>.1`` and publish a snapshot per proxy; start the apps where the
translated config says the sidecars forward to; fork one Envoy per pod (all from this thread, so the
``PR_SET_PDEATHSIG`` guard holds), wait for them in parallel and until every proxy has ACKed; then the control
endpoint, the load generator and the status file. :meth:`close` undoes it all in reverse and is safe to call
twice, from ``finally``, ``atexit`` or a signal handler.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import threading
import time
from collections import deque
from concurrent.futures import ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from meshctl.demo import addresses
from meshctl.demo.apps import AppServer, AppSpec, Upstream
from meshctl.demo.control import ControlServer, default_status_path
from meshctl.demo.controlplane import ControlPlane, DemoSource
from meshctl.demo.loadgen import LoadGenerator
from meshctl.demo.procguard import ProcessRegistry, spawn_envoy
from meshctl.demo.topology import CONTROL_HOST_OCTET, DemoWorkload, layer_pods, plan_workloads, subnet_ip
from meshctl.envoy.runner import EnvoyProcess
from meshctl.errors import InputError, MeshctlError, UnavailableError
from meshctl.sources import Resource, load_paths, load_text
from meshctl.xds.cache import UnknownNodeError

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "bookinfo"


#: a proxy whose Envoy dies more than CRASH_LOOP_RESTARTS times within CRASH_LOOP_WINDOW seconds stops the demo
CRASH_LOOP_RESTARTS = 3
CRASH_LOOP_WINDOW = 30.0


class DemoCancelled(Exception):
    """Start-up was cancelled (Ctrl-C / SIGTERM while starting); everything started so far is stopped."""


class CrashLoopError(UnavailableError):
    """One proxy's Envoy keeps dying right after the supervisor restarts it: the demo stops (exit 69)."""


@dataclass
class DemoOptions:
    """Everything ``meshctl demo`` can be told; defaults give the documented addresses."""

    paths: list[str] = field(default_factory=lambda: [str(EXAMPLE)])
    subnet: int = 1
    xds_port: int = 15010
    debug_port: int = 15014
    control_port: int = 15080
    admin_port: int = 15000
    load: bool = True
    rate: float = 2.0
    status_file: str | None = None
    log_level: str = "warning"
    ready_timeout: float = 60.0
    xds_mode: str = "delta"  # "delta" | "sotw"
    mesh_config: str | None = None  # MeshConfig file (istio ConfigMap or MeshConfig YAML)
    log_dir: str | None = (
        None  # keep each Envoy's bootstrap and log here (default: a temp dir removed on exit)
    )


@dataclass
class DemoProxy:
    """One running pod of the demo: its Envoy and (for sidecars) its app."""

    workload: DemoWorkload
    envoy: EnvoyProcess | None = None
    app: AppServer | None = None
    #: the xDS bootstrap this pod's Envoy runs on (a restart reuses it, and the same admin address)
    bootstrap: dict[str, Any] | None = None
    #: monotonic times of the supervisor's restarts (only the recent ones are kept)
    restarts: deque[float] = field(default_factory=deque)
    restart_count: int = 0

    @property
    def name(self) -> str:
        return f"{self.workload.pod}.{self.workload.namespace}"

    def info(self) -> dict[str, Any]:
        w = self.workload
        out: dict[str, Any] = {
            "name": self.name,
            "pod": w.pod,
            "namespace": w.namespace,
            "workload": w.deployment,
            "app": w.app,
            "version": w.version,
            "type": w.node_type,
            "ip": w.ip,
            "node_id": w.node_id,
            "admin_url": self.envoy.admin_url if self.envoy else None,
            "envoy_pid": self.envoy.process.pid if self.envoy else None,
            "restarts": self.restart_count,
        }
        if self.app is not None:
            out["app_address"] = f"{self.app.spec.listen_ip}:{self.app.spec.listen_port}"
        return out


class DemoMesh:
    """The running demo. Use as a context manager: ``with DemoMesh(opts) as demo: demo.start(); ...``."""

    def __init__(
        self, options: DemoOptions | None = None, progress: Any = None, cancel: threading.Event | None = None
    ) -> None:
        self.options = options or DemoOptions()
        #: set (e.g. by a signal handler) to abort a start-up in progress at its next step
        self.cancel = cancel or threading.Event()
        self._progress = progress or (lambda msg: None)
        self.registry = ProcessRegistry()
        self.control_ip = subnet_ip(self.options.subnet, CONTROL_HOST_OCTET)
        self.resources: list[Resource] = []
        self.workloads: list[DemoWorkload] = []
        self.proxies: list[DemoProxy] = []
        self.plane: ControlPlane | None = None
        self.control: ControlServer | None = None
        self.load: LoadGenerator | None = None
        self.ingress_url: str | None = None
        self.applied: list[dict[str, Any]] = []
        if self.options.log_dir:  # kept after exit: Envoy configs and logs for a post-mortem
            os.makedirs(self.options.log_dir, exist_ok=True)
            self.workdir = os.path.abspath(self.options.log_dir)
        else:
            self.workdir = tempfile.mkdtemp(prefix="meshctl-demo-")
        self.started_at = time.time()
        self._apply_lock = threading.Lock()
        self._closed = False
        self._status_path = self.options.status_file or default_status_path()
        self._wrote_status = False
        self._published: tuple[str, list[Resource]] | None = None

    # ------------------------------------------------------------------------------------------------ start
    def start(self) -> DemoMesh:
        try:
            self._start()
        except BaseException:
            self.close()
            raise
        return self

    def _checkpoint(self) -> None:
        if self.cancel.is_set():
            raise DemoCancelled("start-up cancelled")

    def _start(self) -> None:
        opts = self.options
        self._progress("loading mesh config")
        base = load_paths(opts.paths)
        self.workloads = plan_workloads(base, opts.subnet)
        if not self.workloads:
            raise InputError("the demo needs at least one Deployment to run", file=", ".join(opts.paths))
        self.resources = layer_pods(base, self.workloads)
        source = DemoSource(self.resources, opts.mesh_config)
        source.load()
        for w in self.workloads:
            try:
                source.proxy_for(w.node_id)
            except UnknownNodeError as e:
                raise InputError(f"demo pod {w.pod} is not a proxy of the model: {e}") from e

        self._checkpoint()
        self._progress(f"starting the xDS server on {self.control_ip}:{opts.xds_port}")
        try:
            self.plane = ControlPlane(source, self.control_ip, opts.xds_port, opts.debug_port).start()
        except UnavailableError as e:
            raise UnavailableError(
                e.message,
                hints=[f"is another demo running on 127.0.{opts.subnet}.x? stop it or pass --subnet N"],
            ) from e
        snaps = self.plane.serve([w.node_id for w in self.workloads])
        self._publish()
        configs = {node: _resources_of(snap) for node, snap in snaps.items()}

        self._checkpoint()
        self._progress("starting the apps")
        self.proxies = [DemoProxy(w) for w in self.workloads]
        for p in self.proxies:
            p.app = self._start_app(p.workload, configs[p.workload.node_id])

        self._checkpoint()
        self._progress(f"starting {len(self.proxies)} Envoys")
        from meshctl.xds.bootstrap import xds_bootstrap

        for p in self.proxies:
            w = p.workload
            p.bootstrap = xds_bootstrap(
                w.node_id,
                xds_host=self.control_ip,
                xds_port=self.plane.server.port,
                delta=opts.xds_mode == "delta",
                metadata={"NAME": w.pod, "LABELS": w.labels, "SERVICE_ACCOUNT": w.service_account},
            )
            self._spawn(p)
        with ThreadPoolExecutor(max_workers=len(self.proxies)) as pool:
            futures = [pool.submit(p.envoy.wait_ready, opts.ready_timeout) for p in self.proxies if p.envoy]
            while not all(f.done() for f in futures):
                self._checkpoint()  # (waiters end by themselves within ready_timeout)
                wait(futures, timeout=0.2)
            for f in futures:
                f.result()
        pending = self.plane.wait_synced(
            [p.workload.node_id for p in self.proxies], opts.ready_timeout, cancel=self.cancel
        )
        self._checkpoint()
        rejected = {n: self.plane.nacks(n) for n in pending if self.plane.nacks(n)}
        if rejected:
            lines = [f"{n}: {t} NACK: {msg}" for n, per in rejected.items() for t, msg in per.items()]
            raise InputError("Envoy rejected the translated config:\n  " + "\n  ".join(lines))
        if pending:
            raise UnavailableError(f"proxies did not sync with the xDS server: {', '.join(pending)}")

        gw = next((p for p in self.proxies if p.workload.gateway), None)
        if gw is not None:
            addr = addresses.gateway_http_address(configs[gw.workload.node_id], gw.workload.ip)
            if addr:
                self.ingress_url = f"http://{addr[0]}:{addr[1]}/productpage"

        self.control = ControlServer(
            self.control_ip, opts.control_port, self.status, self.apply_text, self.delete_text,
            self.current_resources,
        ).start()
        if opts.load and self.ingress_url:
            self.load = LoadGenerator(self.ingress_url, rate=opts.rate).start()
        self.write_status_file()

    def _spawn(self, p: DemoProxy) -> None:
        """Fork ``p``'s Envoy on its bootstrap, admin on the pod IP. Call from the main thread (PDEATHSIG)."""
        assert p.bootstrap is not None
        p.envoy = spawn_envoy(
            p.bootstrap,
            admin_address=p.workload.ip,
            admin_port=self.options.admin_port,
            registry=self.registry,
            log_level=self.options.log_level,
            workdir=self.workdir,
            name=p.workload.pod,
            base_id=None,
        )

    # ------------------------------------------------------------------------------------------- supervise
    def supervise(self, now: float | None = None) -> list[str]:
        """Restart every Envoy that exited, on the same bootstrap and admin address; returns a log line per
        restart. The new Envoy connects to the xDS server with the same node id and gets the current config,
        so it becomes SYNCED again by itself. Raises :class:`CrashLoopError` when one proxy died more than
        ``CRASH_LOOP_RESTARTS`` times within ``CRASH_LOOP_WINDOW`` seconds (restarting would only spin).
        Call from the thread that started the demo (the main thread): children die with that thread.
        """
        if self._closed:
            return []
        now = time.monotonic() if now is None else now
        lines: list[str] = []
        for p in self.proxies:
            if p.envoy is None or p.envoy.process.poll() is None:
                continue
            code = p.envoy.process.returncode
            how = f"killed by signal {-code}" if code < 0 else f"exit code {code}"
            while p.restarts and now - p.restarts[0] > CRASH_LOOP_WINDOW:
                p.restarts.popleft()
            if len(p.restarts) >= CRASH_LOOP_RESTARTS:
                raise CrashLoopError(
                    f"the Envoy of {p.name} keeps crashing ({how}; restarted {len(p.restarts)} times in the "
                    f"last {CRASH_LOOP_WINDOW:.0f} s): stopping the demo",
                    hints=[f"its log: {p.envoy.log_path}" if p.envoy.log_path else "run with --log-dir DIR"],
                )
            p.restarts.append(now)
            p.restart_count += 1
            self._spawn(p)
            lines.append(
                f"Envoy of {p.name} exited ({how}); restarted it (pid {p.envoy.process.pid}, "
                f"admin {p.envoy.admin_url}, restart #{p.restart_count})"
            )
        if lines:
            self.write_status_file()  # new Envoy pids
        return lines

    def _start_app(self, w: DemoWorkload, proxy_config: Any) -> AppServer | None:
        if w.gateway or not w.container_ports:
            return None
        port = w.container_ports[0]
        listen = addresses.inbound_app_address(proxy_config, port) or (w.ip, port)
        upstream = addresses.outbound_listener_address(proxy_config, w.ip, 9080) or (w.ip, 9080)
        taken = addresses.bound_ports(proxy_config, w.ip) | {self.options.admin_port}
        if listen[0] == w.ip and listen[1] in taken:
            raise InputError(
                f"the {w.pod} app would listen on {listen[0]}:{listen[1]}, which its own Envoy uses "
                "(loopback mode puts each app on its target port + 10000)",
                file=w.source_file,
                hints=[
                    "use a containerPort/targetPort outside 5000-5099 (Envoy's 15000-15099), or change --admin-port"
                ],
            )
        spec = AppSpec(
            w.app, w.version or "v1", w.pod, listen[0], listen[1], Upstream(upstream[0], upstream[1])
        )
        try:
            return AppServer(spec).start()
        except OSError as e:
            raise UnavailableError(
                f"cannot start the {w.pod} app on {listen[0]}:{listen[1]}: {e.strerror}"
            ) from e

    # ----------------------------------------------------------------------------------------------- change
    def apply_text(self, text: str, filename: str = "<apply>") -> dict[str, Any]:
        """Layer the resources in ``text`` over the running mesh (replace same kind/namespace/name, else add)."""
        changes = load_text(text, filename, start_index=len(self.resources))
        if not changes:
            raise InputError("no resources to apply", file=filename)
        with self._apply_lock:
            merged, verbs = merge_resources(self.resources, changes)
            lines = [f"{r.ref} {verb}" for r, verb in zip(changes, verbs, strict=True)]
            return self._commit(merged, filename, lines)

    def delete_text(self, text: str, filename: str = "<delete>") -> dict[str, Any]:
        """Remove the resources named in ``text`` (group/kind/namespace/name; their bodies are ignored)."""
        targets = load_text(text, filename)
        if not targets:
            raise InputError("no resources to delete", file=filename)
        with self._apply_lock:
            keys = {_key(r) for r in self.resources}
            for t in targets:
                if _key(t) not in keys:
                    raise InputError(f"{t.ref} is not in the running mesh", file=t.file, line=t.line)
            gone = {_key(t) for t in targets}
            kept = [r for r in self.resources if _key(r) not in gone]
            return self._commit(kept, filename, [f"{t.ref} deleted" for t in targets])

    def _commit(self, resources: list[Resource], filename: str, lines: list[str]) -> dict[str, Any]:
        """Serve ``resources`` (bad config raises file:line: field and changes nothing); wait for the ACKs."""
        assert self.plane is not None
        changed = self.plane.replace(resources)
        self.resources = resources
        self._publish()
        pending = self.plane.wait_synced(changed, timeout=15.0)
        result = {
            "applied": lines,
            "version": self.plane.version,
            "changed_proxies": sorted(changed),
            "synced": not pending,
            "not_synced": pending,
            # Envoy's own messages for proxies that rejected this version (they keep their previous config)
            "rejected": {n: self.plane.nacks(n) for n in pending if self.plane.nacks(n)},
        }
        self.applied.append({"file": filename, "at": time.time(), **result})
        return result

    # ----------------------------------------------------------------------------------------------- report
    def config_tag(self) -> str:
        """Names this demo's current config: changes with every apply/delete and differs between demo runs."""
        version = self.plane.version if self.plane else "0"
        return f"{os.getpid()}-{int(self.started_at * 1000)}-{version}"

    def current_resources(self) -> tuple[str, list[Resource]]:
        """The config the mesh runs on now (the example plus applied changes, without the generated Pods),
        with its :meth:`config_tag` -- what ``GET /resources`` serves to ``graph --demo`` and ``tui --demo``."""
        published = self._published
        if published is None:  # not started yet
            return self.config_tag(), [r for r in self.resources if r.origin != "generated"]
        return published

    def _publish(self) -> None:
        """Pair the resource list with its tag in one attribute (read without the apply lock, which an apply
        holds while waiting for ACKs)."""
        self._published = (self.config_tag(), [r for r in self.resources if r.origin != "generated"])

    def describe(self) -> dict[str, Any]:
        """The static facts scripts need (what ``--status-file`` holds)."""
        assert self.plane is not None
        return {
            "pid": os.getpid(),
            "started_at": self.started_at,
            "xds_address": self.plane.xds_address,
            "xds_mode": self.options.xds_mode,
            "debug_url": self.plane.debug_url,
            "control_url": self.control.url if self.control else None,
            "resources_url": f"{self.control.url}/resources" if self.control else None,
            "ingress_url": self.ingress_url,
            "subnet": self.options.subnet,
            "status_file": self.options.status_file,
            "proxies": [p.info() for p in self.proxies],
        }

    def status(self) -> dict[str, Any]:
        """Live state: :meth:`describe` plus per-proxy liveness and xDS sync, load counts, applied changes."""
        out = self.describe()
        assert self.plane is not None
        for info, p in zip(out["proxies"], self.proxies, strict=True):
            info["alive"] = bool(p.envoy and p.envoy.process.poll() is None)
            info["restarts"] = p.restart_count
            info["sync"] = self.plane.node_sync(p.workload.node_id)
        out["config_version"] = self.plane.version
        out["config_tag"] = self.config_tag()
        out["load"] = self.load.snapshot() if self.load else None
        out["applied"] = [{k: a[k] for k in ("file", "version", "applied", "synced")} for a in self.applied]
        return out

    def write_status_file(self) -> None:
        path = self._status_path
        os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
        tmp = f"{path}.tmp{os.getpid()}"
        with open(tmp, "w") as fh:
            json.dump(self.describe(), fh, indent=2)
        os.replace(tmp, path)
        self._wrote_status = True

    # --------------------------------------------------------------------------------------------- shutdown
    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        if self.load:
            self.load.stop()
        if self.control:
            self.control.close()
        self.registry.kill_all()
        for p in self.proxies:
            if p.app:
                p.app.close()
        if self.plane:
            self.plane.close()
        if self._wrote_status:
            try:
                with open(self._status_path) as fh:
                    mine = json.load(fh).get("pid") == os.getpid()
                if mine:
                    os.unlink(self._status_path)
            except (OSError, ValueError):
                pass
        if not self.options.log_dir:
            shutil.rmtree(self.workdir, ignore_errors=True)

    def __enter__(self) -> DemoMesh:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _resources_of(snap: Any) -> Any:
    """A snapshot's clusters and listeners as a ProxyConfig-like object (for :mod:`.addresses`)."""
    from types import SimpleNamespace

    from meshctl.xds import types as T

    return SimpleNamespace(clusters=snap.messages(T.CLUSTER), listeners=snap.messages(T.LISTENER))


def _key(r: Resource) -> tuple[str, str, str | None, str]:
    """What identifies a resource for apply/delete: group, kind, namespace, name (like kubectl)."""
    return (r.group, r.kind, r.namespace, r.name)


def merge_resources(base: list[Resource], changes: list[Resource]) -> tuple[list[Resource], list[str]]:
    """``base`` with each change replacing the resource of the same group/kind/namespace/name (or appended)."""
    out = list(base)
    verbs: list[str] = []
    for ch in changes:
        idx = next((i for i, r in enumerate(out) if _key(r) == _key(ch)), None)
        if idx is None:
            out.append(ch)
            verbs.append("created")
        else:
            out[idx] = ch
            verbs.append("configured")
    return out, verbs


__all__ = ["CrashLoopError", "DemoCancelled", "DemoMesh", "DemoOptions", "DemoProxy", "MeshctlError", "merge_resources"]
