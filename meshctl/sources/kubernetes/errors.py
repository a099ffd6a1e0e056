"""Errors of the live Kubernetes source, each a :class:`~meshctl.errors.MeshctlError` with its own exit code.

* unreachable API server -> :class:`KubeUnreachableError`, exit 69 (EX_UNAVAILABLE);
* 401 (expired/invalid credentials) -> :class:`KubeAuthError`, exit 77 (EX_NOPERM);
* 403 (RBAC) -> :class:`KubeForbiddenError`, exit 77, naming every missing verb/resource and how to grant it;
* kubeconfig missing or malformed -> :class:`KubeConfigError`, exit 64 (usage) / 65 (bad file).
"""

from __future__ import annotations

from dataclasses import dataclass

# EXIT_NOPERM (sysexits' EX_NOPERM, 77): the API server refused us (credentials or RBAC); re-exported here.
from meshctl.errors import EXIT_DATAERR, EXIT_NOPERM, EXIT_UNAVAILABLE, EXIT_USAGE, MeshctlError


class KubeError(MeshctlError):
    """Base class of live-cluster errors."""


class KubeUnreachableError(KubeError):
    def __init__(self, message: str, **kw: object) -> None:
        super().__init__(message, exit_code=EXIT_UNAVAILABLE, **kw)  # type: ignore[arg-type]


class KubeAuthError(KubeError):
    def __init__(self, message: str, **kw: object) -> None:
        kw.setdefault("exit_code", EXIT_NOPERM)
        super().__init__(message, **kw)  # type: ignore[arg-type]


@dataclass(frozen=True)
class Missing:
    """One permission the API server refused: ``verb`` on ``resource`` (``plural.group``) in ``namespace`` (None: cluster)."""

    verb: str
    resource: str
    namespace: str | None

    def __str__(self) -> str:
        where = f'in namespace "{self.namespace}"' if self.namespace else "at the cluster scope"
        return f"{self.verb} {self.resource} {where}"


class KubeForbiddenError(KubeAuthError):
    """403 Forbidden for one or more (verb, resource) pairs; ``missing`` lists them all."""

    def __init__(self, missing: list[Missing], user_message: str = "", **kw: object) -> None:
        self.missing = missing
        lines = "; ".join(str(m) for m in missing)
        msg = f"forbidden by RBAC (403): cannot {lines}"
        if user_message:
            msg += f" (API server: {user_message})"
        hints: list[str] = list(kw.pop("hints", None) or [])  # type: ignore[call-overload]
        if not hints:
            verbs: dict[str, set[str]] = {}
            for m in missing:
                verbs.setdefault(m.resource, set()).add(m.verb)
            for res, vs in sorted(verbs.items()):
                hints.append(f"grant verbs [{', '.join(sorted(vs))}] on {res} (a ClusterRole for -A, else a Role in the namespace)")
        super().__init__(msg, hints=hints, **kw)


class KubeConfigError(KubeError):
    def __init__(self, message: str, *, usage: bool = False, **kw: object) -> None:
        super().__init__(message, exit_code=EXIT_USAGE if usage else EXIT_DATAERR, **kw)  # type: ignore[arg-type]


class KubeApiError(KubeError):
    """Any other API failure (4xx/5xx) with the server's own message."""

    def __init__(self, status: int, message: str, **kw: object) -> None:
        self.status = status
        super().__init__(f"API server answered {status}: {message}", exit_code=EXIT_UNAVAILABLE if status >= 500 else EXIT_DATAERR, **kw)  # type: ignore[arg-type]
