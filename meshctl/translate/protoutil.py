"""Small protobuf helpers shared by the route/listener/gateway builders.

Builders create protos directly (never via ``json_format``) because translation of thousands of services
must stay well under a second; these helpers keep the few repeated idioms (durations from Istio duration
strings, packing typed configs, ``istio.config`` blame metadata) in one place.
"""

from __future__ import annotations

from typing import Any

from envoy.config.core.v3 import base_pb2
from envoy.type.v3 import percent_pb2
from google.protobuf import any_pb2, duration_pb2, wrappers_pb2
from google.protobuf.message import Message

from meshctl.model.api import parse_duration


def duration_ns(value: Any) -> int:
    """Nanoseconds of an Istio duration (``"1.5s"``, ``"100ms"``, ``"1h30m"``: the model's
    :func:`~meshctl.model.api.parse_duration`), a number of seconds, or a timedelta."""
    if value is None:
        return 0
    if hasattr(value, "total_seconds"):
        return int(round(value.total_seconds() * 1e9))
    if isinstance(value, (int, float)):
        return int(round(value * 1e9))
    return int(round(parse_duration(str(value)) * 1e9))


_DURATIONS: dict[Any, duration_pb2.Duration] = {}


def duration(value: Any) -> duration_pb2.Duration:
    """A protobuf Duration from an Istio duration value (see :func:`duration_ns`); parsed strings are cached."""
    cached = _DURATIONS.get(value) if isinstance(value, (str, int)) else None
    if cached is None:
        ns = duration_ns(value)
        cached = duration_pb2.Duration(seconds=ns // 10**9, nanos=ns % 10**9)
        if isinstance(value, (str, int)) and len(_DURATIONS) < 4096:
            _DURATIONS[value] = cached
    out = duration_pb2.Duration()
    out.CopyFrom(cached)
    return out


def seconds(n: int) -> duration_pb2.Duration:
    return duration_pb2.Duration(seconds=n)


def pack(msg: Message) -> any_pb2.Any:
    """``Any`` with Envoy's ``type.googleapis.com/`` prefix."""
    a = any_pb2.Any()
    a.Pack(msg)
    return a


def u32(v: int) -> wrappers_pb2.UInt32Value:
    return wrappers_pb2.UInt32Value(value=v)


def boolv(v: bool) -> wrappers_pb2.BoolValue:
    return wrappers_pb2.BoolValue(value=v)


def istio_config_metadata(config_path: str, extra: dict[str, str] | None = None) -> base_pb2.Metadata:
    """``metadata.filter_metadata.istio.config = <path>``: how istioctl and ``x describe`` find the Istio config."""
    md = base_pb2.Metadata()
    fields = md.filter_metadata["istio"].fields
    fields["config"].string_value = config_path
    for k, v in (extra or {}).items():
        fields[k].string_value = v
    return md


def percent_value(p: Any) -> float | None:
    """The float of an Istio ``Percent`` (object with ``.value``, a dict, or a number); None if unset."""
    if p is None:
        return None
    if isinstance(p, (int, float)):
        return float(p)
    if isinstance(p, dict):
        v = p.get("value")
        return float(v) if v is not None else 0.0
    v = getattr(p, "value", None)
    return float(v) if v is not None else 0.0


def fractional_million(pct: float) -> percent_pb2.FractionalPercent:
    """Istio ``translatePercentToFractionalPercent``: value*10000 per MILLION."""
    return percent_pb2.FractionalPercent(
        numerator=int(pct * 10000), denominator=percent_pb2.FractionalPercent.MILLION
    )


def fractional_hundred(n: int) -> percent_pb2.FractionalPercent:
    return percent_pb2.FractionalPercent(numerator=n, denominator=percent_pb2.FractionalPercent.HUNDRED)
