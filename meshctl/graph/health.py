"""Kiali's default request-health thresholds, applied to an edge's or node's response codes.

Kiali (``config.go`` ``AddHealthDefault``): HTTP 5xx -- any share > 0 is Degraded, >= 10 % is Failure;
HTTP 4xx -- >= 10 % Degraded, >= 20 % Failure; no response (code 0 / "-", e.g. UH, NR, UO) like 5xx.
A node or edge without requests is ``idle``; without any data at all ``na``.
"""

from __future__ import annotations

from collections.abc import Mapping

HEALTHY, DEGRADED, FAILURE, IDLE, NA = "healthy", "degraded", "failure", "idle", "na"
_ORDER = {NA: 0, IDLE: 1, HEALTHY: 2, DEGRADED: 3, FAILURE: 4}

#: (code class, degraded threshold %, failure threshold %, degraded when strictly above the threshold)
THRESHOLDS = (("5xx", 0.0, 10.0, True), ("0", 0.0, 10.0, True), ("4xx", 10.0, 20.0, False))


def health_of(total: float, codes: Mapping[str, float]) -> str:
    """Health of a request count (or rate) ``total`` with ``codes`` (class "2xx"/"4xx"/"5xx"/"0" -> count)."""
    if total <= 0:
        return IDLE
    status = HEALTHY
    for cls, degraded, failure, strict in THRESHOLDS:
        pct = 100.0 * codes.get(cls, 0.0) / total
        if pct >= failure:
            return FAILURE
        if (pct > degraded) if strict else (pct >= degraded):
            status = DEGRADED
    return status


def worst(*states: str) -> str:
    """The worse of several health states (failure > degraded > healthy > idle > na)."""
    return max(states, key=lambda s: _ORDER.get(s, 0)) if states else NA
