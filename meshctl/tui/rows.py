"""Table rows for the overview screen, straight from the graph (library code, so tests can check numbers)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import networkx as nx

KIND_FILTERS = {
    "all": None,
    "svc": ("service", "serviceentry"),
    "wl": ("workload",),
    "gw": ("gateway",),
}
COLUMNS = ("KIND", "NAMESPACE", "NAME", "HEALTH", "RPS IN", "RPS OUT", "ERR %", "P95 MS", "BADGES")


@dataclass
class Row:
    node: str
    kind: str
    namespace: str
    name: str
    health: str
    rps_in: float
    rps_out: float
    errpct: float
    p95: float | None
    badges: str

    def cells(self) -> tuple[str, ...]:
        return (
            self.kind,
            self.namespace,
            self.name,
            self.health,
            f"{self.rps_in:.2f}",
            f"{self.rps_out:.2f}",
            f"{self.errpct:.1f}",
            "-" if self.p95 is None else f"{self.p95:.0f}",
            self.badges,
        )

    def sort_value(self, column: str) -> Any:
        return {
            "KIND": self.kind, "NAMESPACE": self.namespace, "NAME": self.name,
            "HEALTH": ("failure", "degraded", "healthy", "idle", "na").index(self.health) if self.health in
            ("failure", "degraded", "healthy", "idle", "na") else 9,
            "RPS IN": -self.rps_in, "RPS OUT": -self.rps_out, "ERR %": -self.errpct,
            "P95 MS": -(self.p95 or 0.0), "BADGES": self.badges,
        }[column]


def _p95_in(g: nx.DiGraph, n: str) -> float | None:
    best: float | None = None
    for _, _, e in g.in_edges(n, data=True):
        v = (e.get("latency_ms") or {}).get("p95")
        if v is not None:
            best = v if best is None else max(best, v)
    return best


def overview_rows(g: nx.DiGraph, kind: str = "all", text: str = "") -> list[Row]:
    """One row per node, filtered by kind (``all``/``svc``/``wl``/``gw``) and a substring (``/`` filter)."""
    want = KIND_FILTERS.get(kind)
    rows = []
    needle = text.lower().strip()
    for n, d in g.nodes(data=True):
        ntype = d.get("node_type", "")
        label_kind = "gateway" if d.get("is_gateway") else ntype
        if want is not None:
            if kind == "gw":
                if not d.get("is_gateway"):
                    continue
            elif ntype not in want:
                continue
        row = Row(
            node=n,
            kind=label_kind,
            namespace=d.get("namespace") or "",
            name=d.get("name") or n,
            health=d.get("health", "na"),
            rps_in=float(d.get("rps_in", 0.0)),
            rps_out=float(d.get("rps_out", 0.0)),
            errpct=float(d.get("errpct", 0.0)),
            p95=_p95_in(g, n),
            badges=",".join(b for b in d.get("badges", []) if b != "trafficsource"),
        )
        if needle and needle not in " ".join(row.cells()).lower() and needle not in n.lower():
            continue
        rows.append(row)
    return rows


def sort_rows(rows: list[Row], column: str, reverse: bool = False) -> list[Row]:
    return sorted(rows, key=lambda r: (r.sort_value(column), r.namespace, r.name), reverse=reverse)
