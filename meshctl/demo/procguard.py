"""Child processes that cannot outlive the demo: own process group + ``PR_SET_PDEATHSIG`` + cleanup on exit.

The demo starts seven Envoys. If ``meshctl demo`` is killed with SIGKILL (or crashes past its ``finally``),
nothing in Python runs, so each child asks the kernel (``prctl(PR_SET_PDEATHSIG, SIGKILL)`` in ``preexec_fn``)
to kill it when its parent goes away. The kernel ties that signal to the *thread* that forked the child,
so children must be spawned from a thread that lives as long as the demo (the main thread): :func:`spawn_envoy`
only forks; waiting for readiness may happen on worker threads.
"""

from __future__ import annotations

import atexit
import ctypes
import json
import os
import shutil
import signal
import subprocess
import tempfile
import threading
from collections.abc import Callable, Iterable
from typing import Any

from meshctl.envoy.runner import EnvoyProcess, envoy_binary

PR_SET_PDEATHSIG = 1

_libc: Any = None


def _prctl_pdeathsig(sig: int) -> int:
    """Call ``prctl(PR_SET_PDEATHSIG, sig)``; returns 0 on success (non-Linux: -1, harmless)."""
    global _libc
    try:
        if _libc is None:
            _libc = ctypes.CDLL(None, use_errno=True)
        return int(_libc.prctl(PR_SET_PDEATHSIG, sig, 0, 0, 0))
    except (OSError, AttributeError):
        return -1


def die_with_parent_preexec(parent_pid: int) -> Callable[[], None]:
    """A ``preexec_fn``: new session (own process group) and SIGKILL when the parent dies.

    ``parent_pid`` closes the race where the parent died between fork and prctl: then we exit at once.
    """

    def _preexec() -> None:
        os.setsid()
        _prctl_pdeathsig(signal.SIGKILL)
        if os.getppid() != parent_pid:
            os._exit(1)

    return _preexec


class ProcessRegistry:
    """Every child the demo started, killed (by process group) on :meth:`kill_all`, at exit and on signals."""

    def __init__(self) -> None:
        self._procs: list[subprocess.Popen[bytes]] = []
        self._tempdirs: list[str] = []
        self._lock = threading.Lock()
        self._atexit_registered = False

    def add(self, proc: subprocess.Popen[bytes]) -> None:
        with self._lock:
            self._procs.append(proc)
            if not self._atexit_registered:
                atexit.register(self.kill_all)
                self._atexit_registered = True

    def add_tempdir(self, path: str) -> None:
        """A directory (configs, logs) to remove once every child is gone."""
        with self._lock:
            self._tempdirs.append(path)

    def pids(self) -> list[int]:
        with self._lock:
            return [p.pid for p in self._procs if p.poll() is None]

    def kill_all(self, timeout: float = 5.0) -> None:
        """SIGTERM every live child's group, then SIGKILL whatever is left after ``timeout``."""
        with self._lock:
            procs = list(self._procs)
        for p in procs:
            if p.poll() is None:
                _killpg(p.pid, signal.SIGTERM)
        for p in procs:
            try:
                p.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                _killpg(p.pid, signal.SIGKILL)
                p.wait(timeout=timeout)
        with self._lock:
            self._procs = [p for p in self._procs if p.poll() is None]
            dirs, self._tempdirs = (self._tempdirs, []) if not self._procs else ([], self._tempdirs)
        for d in dirs:
            shutil.rmtree(d, ignore_errors=True)


def _killpg(pid: int, sig: int) -> None:
    try:
        os.killpg(pid, sig)
    except (ProcessLookupError, PermissionError):
        pass


def spawn_envoy(
    bootstrap: dict[str, Any],
    *,
    admin_address: str,
    admin_port: int,
    registry: ProcessRegistry,
    log_level: str = "warning",
    base_id: int | None = None,
    extra_args: Iterable[str] = (),
    workdir: str | None = None,
    name: str = "envoy",
) -> EnvoyProcess:
    """Fork one Envoy (``--concurrency 1``) on ``bootstrap`` with its admin on ``admin_address:admin_port``.

    Returns at once; call :meth:`EnvoyProcess.wait_ready` (from any thread) to wait for it.
    """
    cfg = json.loads(json.dumps(bootstrap))
    cfg["admin"] = {"address": {"socket_address": {"address": admin_address, "port_value": admin_port}}}
    directory = workdir
    if directory is None:
        directory = tempfile.mkdtemp(prefix="meshctl-envoy-")
        registry.add_tempdir(directory)
    config_path = os.path.join(directory, f"{name}.json")
    log_path = os.path.join(directory, f"{name}.log")
    with open(config_path, "w") as fh:
        json.dump(cfg, fh)
    args = [
        envoy_binary(),
        "-c",
        config_path,
        "-l",
        log_level,
        "--disable-hot-restart",
        "--log-path",
        log_path,
    ]
    args += ["--concurrency", "1"]
    if base_id is not None:
        args += ["--base-id", str(base_id)]
    args += list(extra_args)
    proc = subprocess.Popen(  # noqa: S603 - our own Envoy binary
        args,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        preexec_fn=die_with_parent_preexec(os.getpid()),  # noqa: PLW1509 - the point: prctl before exec
    )
    registry.add(proc)
    return EnvoyProcess(
        proc, admin_port, admin_address=admin_address, config_path=config_path, log_path=log_path
    )


def children_pids(parent: int | None = None) -> list[int]:
    """PIDs whose parent is ``parent`` (default: this process), from ``/proc`` (no psutil)."""
    parent = os.getpid() if parent is None else parent
    out: list[int] = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as fh:
                stat = fh.read()
        except OSError:
            continue
        # comm may contain spaces/parens: the fields after the last ')' are fixed.
        rest = stat[stat.rfind(")") + 2 :].split()
        if len(rest) > 1 and int(rest[1]) == parent and rest[0] != "Z":
            out.append(int(entry))
    return out


def process_name(pid: int) -> str:
    try:
        with open(f"/proc/{pid}/comm") as fh:
            return fh.read().strip()
    except OSError:
        return ""
