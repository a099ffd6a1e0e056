"""Shared building blocks of the typed Istio API models: the base class, durations, protojson-like scalars.

Why a base class: every Istio message must accept both the proto field name (``snake_case``) and its JSON
name (``camelCase``), and reject unknown fields, exactly as Istio's own validation (protojson) does.
"""

from __future__ import annotations

import re
from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, StrictBool, StrictStr, StringConstraints


def proto_json_name(name: str) -> str:
    """``consecutive_5xx_errors`` -> ``consecutive5xxErrors`` (protoc's JSON name rule, unlike pydantic's to_camel)."""
    head, *rest = name.rstrip("_").split("_")
    return head + "".join(p[:1].upper() + p[1:] for p in rest)


class IstioModel(BaseModel):
    """Base of all Istio API messages: camelCase aliases, snake_case accepted, unknown fields rejected.

    A field written as ``null`` (``hosts:`` with nothing after it) means "unset", as in protojson: see
    :func:`strip_nulls`, applied by ``validate`` only when a first validation fails (keeps the common path fast)."""

    model_config = ConfigDict(
        alias_generator=proto_json_name,
        populate_by_name=True,
        extra="forbid",
        frozen=False,
        revalidate_instances="never",
        protected_namespaces=(),
    )


def strip_nulls(data: Any) -> Any:
    """``data`` without ``null`` mapping values, recursively (protojson treats them as unset)."""
    if isinstance(data, dict):
        return {k: strip_nulls(v) for k, v in data.items() if v is not None}
    if isinstance(data, list):
        return [strip_nulls(v) for v in data]
    return data


def has_nulls(data: Any) -> bool:
    if isinstance(data, dict):
        return any(v is None or has_nulls(v) for v in data.values())
    if isinstance(data, list):
        return any(has_nulls(v) for v in data)
    return False


class LooseModel(BaseModel):
    """For messages meshctl only carries through (AuthorizationPolicy rules, ProxyConfig, providers)."""

    model_config = ConfigDict(
        alias_generator=proto_json_name, populate_by_name=True, extra="allow", protected_namespaces=()
    )


# --- durations --------------------------------------------------------------------------------------------
_DURATION_RE = re.compile(r"^(?:(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|ms|s|m|h))+$")
_DURATION_PART = re.compile(r"(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|ms|s|m|h)")
_UNIT_SECONDS = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}


def parse_duration(s: str) -> float:
    """Seconds in an Istio duration string (Go/protobuf style: ``1s``, ``1.5s``, ``100ms``, ``1h30m``).

    Raises ValueError for anything else, so callers and validators share one definition.
    """
    if not isinstance(s, str) or not _DURATION_RE.match(s.strip()):
        raise ValueError(f"invalid duration {s!r} (expected e.g. 1s, 1.5s, 100ms, 5m, 1h)")
    return sum(float(n) * _UNIT_SECONDS[u] for n, u in _DURATION_PART.findall(s.strip()))


#: A duration kept as its string, validated natively against Go's duration syntax (no surrounding spaces).
#: Use :func:`parse_duration` to get seconds. Errors read "invalid duration" (see validate._message).
Duration = Annotated[StrictStr, StringConstraints(pattern=_DURATION_RE.pattern)]


# --- scalars as protojson reads them ----------------------------------------------------------------------
def _int_like(v: Any) -> Any:
    """protojson accepts JSON numbers and quoted integers for int fields; never booleans or fractions."""
    if isinstance(v, bool):
        raise ValueError("must be an integer")
    if isinstance(v, int):
        return v
    if isinstance(v, float) and v.is_integer():
        return int(v)
    if isinstance(v, str) and re.fullmatch(r"\s*-?\d+\s*", v):
        return int(v)
    raise ValueError("must be an integer")


def _uint_like(v: Any) -> Any:
    n = _int_like(v)
    if n < 0:
        raise ValueError("must be a non-negative integer")
    return n


def _int_range(lo: int, hi: int, what: str) -> Any:
    """An int-like check for [lo, hi]; a plain in-range int (the common case) costs one comparison."""

    def check(v: Any) -> Any:
        if type(v) is int and lo <= v <= hi:
            return v
        n = _int_like(v)
        if lo == 0 and n < 0:
            raise ValueError("must be a non-negative integer")
        if not lo <= n <= hi:
            raise ValueError(what)
        return n

    return check


_int32 = _int_range(-(2**31), 2**31 - 1, "out of range for a 32-bit integer")
_uint32 = _int_range(0, 2**32 - 1, "out of range for a 32-bit unsigned integer")
_uint64 = _int_range(0, 2**64 - 1, "out of range for a 64-bit unsigned integer")
_weight = _int_range(0, 2**31 - 1, "out of range for a 32-bit integer")  # Istio: "weight %d < 0"
_non_negative_int32 = _weight
_http_status = _int_range(200, 599, "HTTP status must be between 200 and 599")  # Istio's validateHTTPStatus


def _float_like(v: Any) -> Any:
    if isinstance(v, bool):
        raise ValueError("must be a number")
    if isinstance(v, (int, float)):
        return float(v)
    if isinstance(v, str):
        try:
            return float(v)
        except ValueError:
            pass
    raise ValueError("must be a number")


def _percent(v: Any) -> Any:
    if type(v) in (int, float) and 0 <= v <= 100:
        return float(v)
    f = _float_like(v)
    if not 0.0 <= f <= 100.0:  # Istio's validatePercentage
        raise ValueError("must be between 0 and 100")
    return f


#: proto int32 / uint32 / uint64 as protojson reads them (range-checked: protobuf would raise otherwise)
Int = Annotated[int, BeforeValidator(_int32)]
UInt = Annotated[int, BeforeValidator(_uint32)]
UInt64 = Annotated[int, BeforeValidator(_uint64)]
#: a route destination weight (int32, never negative)
Weight = Annotated[int, BeforeValidator(_weight)]
NonNegInt = Annotated[int, BeforeValidator(_non_negative_int32)]
Percentage = Annotated[float, BeforeValidator(_percent)]
HTTPStatus = Annotated[int, BeforeValidator(_http_status)]
Float = Annotated[float, BeforeValidator(_float_like)]
Bool = StrictBool
Str = StrictStr  # native (fast): rejects numbers/bools like protojson


def _port_number(v: Any) -> Any:
    n = _uint_like(v)
    if not 0 < n <= 65535:
        raise ValueError("port number must be between 1 and 65535")
    return n


PortNumber = Annotated[int, BeforeValidator(_port_number)]
