"""The project's error types and exit codes.

Every failure a user can cause ends as a :class:`MeshctlError` carrying an exit code and, where known, the
file, line and field path of the offending input. The CLI prints it as one clear line and never a traceback.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

EXIT_OK = 0
EXIT_DRIFT = 1  # proxy-config diff found drift, documented "findings" exits
EXIT_USAGE = 64  # EX_USAGE: bad flags or arguments
EXIT_DATAERR = 65  # EX_DATAERR: bad input files / dumps
EXIT_UNAVAILABLE = 69  # EX_UNAVAILABLE: a service (admin endpoint, API server, xDS server) could not be reached
EXIT_NOPERM = 77  # EX_NOPERM: the API server refused the credentials (401) or the permission (403)
EXIT_SOFTWARE = 70  # EX_SOFTWARE: an internal error (a bug in meshctl)
EXIT_ANALYZE_FINDINGS = 79  # istioctl analyze's exit code when messages reach the failure threshold


@dataclass
class SourcePos:
    """Where something came from: a file (or ``<stdin>``) and a 1-based line, when known."""

    file: str | None = None
    line: int | None = None

    def __str__(self) -> str:
        if self.file is None:
            return ""
        return f"{self.file}:{self.line}" if self.line else self.file


@dataclass
class MeshctlError(Exception):
    """A user-facing error. ``str()`` gives ``file:line: field: message``."""

    message: str
    file: str | None = None
    line: int | None = None
    field: str | None = None
    exit_code: int = EXIT_DATAERR
    hints: list[str] = dataclasses.field(default_factory=list)

    def __post_init__(self) -> None:
        super().__init__(self.message)

    def __str__(self) -> str:
        parts = []
        pos = str(SourcePos(self.file, self.line))
        if pos:
            parts.append(pos)
        if self.field:
            parts.append(self.field)
        parts.append(self.message)
        return ": ".join(parts)


class UsageError(MeshctlError):
    """Bad flags/arguments (exit 64)."""

    def __init__(self, message: str, **kw: object) -> None:
        super().__init__(message, exit_code=EXIT_USAGE, **kw)  # type: ignore[arg-type]


class InputError(MeshctlError):
    """Bad input data: YAML, resources, dumps (exit 65)."""

    def __init__(self, message: str, **kw: object) -> None:
        kw.setdefault("exit_code", EXIT_DATAERR)
        super().__init__(message, **kw)  # type: ignore[arg-type]


class UnavailableError(MeshctlError):
    """A service could not be reached: Envoy admin, API server, xDS server (exit 69)."""

    def __init__(self, message: str, **kw: object) -> None:
        super().__init__(message, exit_code=EXIT_UNAVAILABLE, **kw)  # type: ignore[arg-type]


class ErrorList(MeshctlError):
    """Several input errors found in one pass, reported together (exit 65)."""

    def __init__(self, errors: list[MeshctlError]) -> None:
        self.errors = errors
        super().__init__("\n".join(str(e) for e in errors), exit_code=EXIT_DATAERR)

    def __str__(self) -> str:
        return "\n".join(str(e) for e in self.errors)
