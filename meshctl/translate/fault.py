"""VirtualService ``fault`` and ``corsPolicy`` -> per-route typed filter configs (Istio ``route.go``).

Both filters sit empty in the HCM chain; the behaviour lives in ``Route.typed_per_filter_config`` under
``envoy.filters.http.fault`` and ``envoy.filters.http.cors``.
"""

from __future__ import annotations

from typing import Any

from envoy.extensions.filters.common.fault.v3 import fault_pb2 as common_fault
from envoy.extensions.filters.http.cors.v3 import cors_pb2
from envoy.extensions.filters.http.fault.v3 import fault_pb2

from meshctl.translate.protoutil import (
    boolv,
    duration,
    duration_ns,
    fractional_hundred,
    fractional_million,
    percent_value,
)
from meshctl.translate.route_match import string_matcher

FAULT_FILTER = "envoy.filters.http.fault"
CORS_FILTER = "envoy.filters.http.cors"

#: gRPC status names Istio accepts in ``abort.grpcStatus`` (``SupportedGRPCStatus``).
GRPC_STATUS = {
    "OK": 0, "CANCELLED": 1, "UNKNOWN": 2, "INVALID_ARGUMENT": 3, "DEADLINE_EXCEEDED": 4, "NOT_FOUND": 5,
    "ALREADY_EXISTS": 6, "PERMISSION_DENIED": 7, "RESOURCE_EXHAUSTED": 8, "FAILED_PRECONDITION": 9, "ABORTED": 10,
    "OUT_OF_RANGE": 11, "UNIMPLEMENTED": 12, "INTERNAL": 13, "UNAVAILABLE": 14, "DATA_LOSS": 15, "UNAUTHENTICATED": 16,
}  # fmt: skip


def _percentage(obj: Any) -> Any:
    pct = percent_value(getattr(obj, "percentage", None))
    if pct is not None:
        return fractional_million(pct)
    legacy = getattr(obj, "percent", None)
    return fractional_hundred(int(legacy or 0))


def translate_fault(fault: Any | None) -> fault_pb2.HTTPFault | None:
    """``HTTPFault`` or None; exponential delays and http2Error aborts are unsupported (dropped, like Istio)."""
    if fault is None:
        return None
    out = fault_pb2.HTTPFault()
    has = False
    delay = getattr(fault, "delay", None)
    if delay is not None and getattr(delay, "fixed_delay", None) is not None:
        d = common_fault.FaultDelay(percentage=_percentage(delay))
        d.fixed_delay.CopyFrom(duration(delay.fixed_delay))
        out.delay.CopyFrom(d)
        has = True
    abort = getattr(fault, "abort", None)
    if abort is not None:
        a = fault_pb2.FaultAbort()
        pct = percent_value(getattr(abort, "percentage", None))
        if pct is not None:
            a.percentage.CopyFrom(fractional_million(pct))
        http_status = getattr(abort, "http_status", None)
        grpc_status = getattr(abort, "grpc_status", None)
        if http_status:
            a.http_status = int(http_status)
            out.abort.CopyFrom(a)
            has = True
        elif grpc_status:
            code = GRPC_STATUS.get(str(grpc_status).upper())
            if code is None and str(grpc_status).isdigit():
                code = int(grpc_status)
            if code is not None:
                a.grpc_status = code
                out.abort.CopyFrom(a)
                has = True
    return out if has else None


def translate_cors(cors: Any | None) -> cors_pb2.CorsPolicy | None:
    """Istio ``translateCORSPolicy``: origins as string matchers, lists comma-joined, max_age in seconds."""
    if cors is None:
        return None
    out = cors_pb2.CorsPolicy()
    unmatched = getattr(cors, "unmatched_preflights", None)
    out.forward_not_matching_preflights.CopyFrom(boolv(str(unmatched or "").upper() != "IGNORE"))
    origins = getattr(cors, "allow_origins", None)
    legacy = getattr(cors, "allow_origin", None)
    if origins:
        for o in origins:
            m = string_matcher(o)
            if m is not None:
                out.allow_origin_string_match.append(m)
    elif legacy:
        for o in legacy if isinstance(legacy, list) else [legacy]:
            out.allow_origin_string_match.add(exact=o)
    out.filter_enabled.default_value.CopyFrom(fractional_hundred(100))
    out.filter_enabled.ClearField("runtime_key")
    creds = getattr(cors, "allow_credentials", None)
    if creds is not None:
        out.allow_credentials.CopyFrom(boolv(bool(creds)))
    for attr in ("allow_headers", "allow_methods", "expose_headers"):
        vals = getattr(cors, attr, None)
        if vals:
            setattr(out, attr, ",".join(vals))
    max_age = getattr(cors, "max_age", None)
    if max_age is not None:
        out.max_age = str(duration_ns(max_age) // 10**9)
    return out
