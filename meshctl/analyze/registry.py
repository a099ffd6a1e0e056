"""Analyzer API and registry: built-in analyzers and third-party ones from the ``meshctl.analyzers`` entry point.

Plugin API (documented in docs/analyze.md): an entry point in group ``meshctl.analyzers`` names either
an :class:`Analyzer` subclass, an instance of one, or a list of them. An analyzer has a unique ``name``,
a one-line ``description``, the ``codes`` it may emit, and ``analyze(ctx)`` which reads
``ctx.resources``/``ctx.kind(...)`` (and ``ctx.mesh`` when the model is available) and calls
``ctx.report(code, resource, *args, path=...)``. New codes are declared with
:func:`meshctl.analyze.messages.register_message`.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterable
from importlib.metadata import entry_points
from typing import TYPE_CHECKING, ClassVar

from meshctl.errors import InputError

if TYPE_CHECKING:
    from meshctl.analyze.context import AnalysisContext

ENTRY_POINT_GROUP = "meshctl.analyzers"

#: Built-in analyzer modules, each defining ``ANALYZERS`` (a list of Analyzer instances).
BUILTIN_MODULES = (
    "schema",
    "annotations",
    "virtualservice",
    "destinationrule",
    "gateway",
    "serviceentry",
    "sidecar",
    "service",
    "deployment",
    "injection",
    "envoyfilter",
    "telemetry",
    "authz",
    "authn",
    "k8sgateway",
    "conditions",
    "deprecation",
    "webhook",
    "multicluster",
    "meshctl_checks",
)


class Analyzer:
    """Base class: subclass, set ``name``/``description``/``codes`` and implement :meth:`analyze`."""

    name: ClassVar[str] = ""
    description: ClassVar[str] = ""
    codes: ClassVar[tuple[str, ...]] = ()
    #: "builtin" or the distribution name of the plugin that provided it
    source: str = "builtin"

    def analyze(self, ctx: AnalysisContext) -> None:  # pragma: no cover - interface
        raise NotImplementedError


def _as_analyzers(obj: object, where: str) -> list[Analyzer]:
    if isinstance(obj, type) and issubclass(obj, Analyzer):
        return [obj()]
    if isinstance(obj, Analyzer):
        return [obj]
    if isinstance(obj, (list, tuple)):
        out: list[Analyzer] = []
        for o in obj:
            out.extend(_as_analyzers(o, where))
        return out
    raise InputError(f"analyzer plugin {where} must provide an Analyzer subclass, instance or list of them, got {type(obj).__name__}")


def builtin_analyzers() -> list[Analyzer]:
    out: list[Analyzer] = []
    for mod in BUILTIN_MODULES:
        m = importlib.import_module(f"meshctl.analyze.analyzers.{mod}")
        out.extend(m.ANALYZERS)
    return out


def plugin_analyzers() -> list[Analyzer]:
    """Analyzers from installed plugins; a broken plugin is an error naming it, not a traceback."""
    out: list[Analyzer] = []
    for ep in sorted(entry_points(group=ENTRY_POINT_GROUP), key=lambda e: e.name):
        where = f"{ep.name} ({ep.value})"
        try:
            obj = ep.load()
        except Exception as e:  # noqa: BLE001 - a third-party import can fail in any way
            raise InputError(f"cannot load analyzer plugin {where}: {type(e).__name__}: {e}") from None
        for a in _as_analyzers(obj, where):
            a.source = ep.dist.name if ep.dist is not None else ep.name
            out.append(a)
    return out


def all_analyzers(include_plugins: bool = True) -> list[Analyzer]:
    analyzers = builtin_analyzers() + (plugin_analyzers() if include_plugins else [])
    seen: dict[str, Analyzer] = {}
    for a in analyzers:
        if not a.name:
            raise InputError(f"analyzer {type(a).__name__} has no name")
        if a.name in seen:
            raise InputError(f"two analyzers are named {a.name!r} ({seen[a.name].source} and {a.source})")
        seen[a.name] = a
    return analyzers


def select(analyzers: Iterable[Analyzer], names: Iterable[str]) -> list[Analyzer]:
    """Analyzers whose name equals, or starts with ``<name>.``, one of ``names`` (``--analyzer``)."""
    wanted = list(names)
    if not wanted:
        return list(analyzers)
    pool = list(analyzers)
    out = [a for a in pool if any(a.name == w or a.name.startswith(w + ".") or a.name.lower() == w.lower() for w in wanted)]
    known = {a.name for a in pool}
    for w in wanted:
        if not any(a.name == w or a.name.startswith(w + ".") or a.name.lower() == w.lower() for a in pool):
            from meshctl.errors import UsageError

            raise UsageError(f"unknown analyzer {w!r}", hints=[f"known: {', '.join(sorted(known))}"])
    return out
