"""Resources defined more than once across the inputs: kubectl-apply semantics, the last definition wins.

Every consumer (model, translator, analyzer, xDS server) resolves duplicates through :func:`resolve_duplicates`,
so they agree on which definition is intended; the dropped ones are returned so commands can warn about them
(the analyzer reports them as MSH0009).
"""

from __future__ import annotations

from dataclasses import dataclass

from meshctl.sources.resource import Resource


@dataclass(frozen=True)
class Duplicate:
    """``dropped`` was replaced by ``kept`` (same group, kind, namespace and name; ``kept`` came later)."""

    kept: Resource
    dropped: Resource

    def message(self) -> str:
        return f"{self.kept.ref} is defined more than once: {self.kept.pos()} replaces {self.dropped.pos()} (the last definition wins, as with kubectl apply)"


def resolve_duplicates(resources: list[Resource]) -> tuple[list[Resource], list[Duplicate]]:
    """The resources with each key kept once (its last definition, at the position of its first), and what was dropped.

    Keeping the first position keeps load order stable for everything else; the winner is the last body.
    """
    last: dict[tuple[str, str, str, str], Resource] = {}
    for r in resources:
        last[r.key] = r
    if len(last) == len(resources):
        return resources, []
    out: list[Resource] = []
    seen: set[tuple[str, str, str, str]] = set()
    dups: list[Duplicate] = []
    for r in resources:
        winner = last[r.key]
        if r is not winner:
            dups.append(Duplicate(kept=winner, dropped=r))
        if r.key in seen:
            continue
        seen.add(r.key)
        out.append(winner)
    return out, dups
