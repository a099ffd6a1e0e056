"""Run ``meshctl demo`` as a child process and wait until it is up: for tests, screenshots and scripts.

The demo announces readiness by writing its status file (after every proxy ACKed), so waiting for that file
is the whole protocol. Leaving the ``with`` block sends SIGINT (the demo's normal Ctrl-C shutdown) and waits.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from meshctl.errors import UnavailableError

ROOT = Path(__file__).resolve().parent.parent.parent


@dataclass
class DemoProcess:
    """A running ``meshctl demo`` child: its process, status file, and the status it wrote."""

    proc: subprocess.Popen[str]
    status_file: Path
    log_path: Path
    info: dict[str, Any]

    def stop(self, timeout: float = 20.0) -> int:
        """Ctrl-C the demo and wait; SIGKILL if it does not stop within ``timeout``. Returns the exit code."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                return self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
        return self.proc.wait()


@contextmanager
def demo_process(
    status_file: str | Path,
    args: Sequence[str] = (),
    *,
    log_path: str | Path | None = None,
    timeout: float = 90.0,
) -> Iterator[DemoProcess]:
    """``python -m meshctl demo --status-file STATUS_FILE ARGS...``; yields once the demo is up."""
    status = Path(status_file)
    log = Path(log_path) if log_path else status.with_suffix(".log")
    with open(log, "w+") as fh:
        proc = subprocess.Popen(
            [sys.executable, "-m", "meshctl", "demo", "--status-file", str(status), *args],
            cwd=ROOT,
            stdout=fh,
            stderr=subprocess.STDOUT,
            text=True,
            env={**os.environ, "MESHCTL_PLAIN": "1"},
        )
        running = DemoProcess(proc, status, log, {})
        try:
            deadline = time.monotonic() + timeout
            while not status.exists():
                if proc.poll() is not None or time.monotonic() > deadline:
                    fh.seek(0)
                    raise UnavailableError(
                        f"meshctl demo did not come up (exit {proc.poll()}):\n{fh.read()[-4000:]}"
                    )
                time.sleep(0.1)
            running.info = json.loads(status.read_text())
            yield running
        finally:
            running.stop()
