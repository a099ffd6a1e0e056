"""Turn a loaded :class:`Resource` into its typed Istio message, or a precise :class:`InputError`.

Why here and not in pydantic: users need ``file:line: spec.http[0].route[1].weight: must be an integer``,
so pydantic's error locations are mapped back onto the keys the user actually wrote (camelCase or
snake_case) and looked up in the line-aware body.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from pydantic import BaseModel, ValidationError

from meshctl.errors import ErrorList, InputError, MeshctlError
from meshctl.model.api import networking as net
from meshctl.model.api import security as sec
from meshctl.model.api.base import has_nulls, proto_json_name, strip_nulls
from meshctl.sources.resource import Resource

#: kind -> (API group, spec model)
KINDS: dict[str, tuple[str, type[BaseModel]]] = {
    "VirtualService": ("networking.istio.io", net.VirtualService),
    "DestinationRule": ("networking.istio.io", net.DestinationRule),
    "Gateway": ("networking.istio.io", net.Gateway),
    "ServiceEntry": ("networking.istio.io", net.ServiceEntry),
    "Sidecar": ("networking.istio.io", net.Sidecar),
    "WorkloadEntry": ("networking.istio.io", net.WorkloadEntry),
    "WorkloadGroup": ("networking.istio.io", net.WorkloadGroup),
    "PeerAuthentication": ("security.istio.io", sec.PeerAuthentication),
    "AuthorizationPolicy": ("security.istio.io", sec.AuthorizationPolicy),
    "RequestAuthentication": ("security.istio.io", sec.RequestAuthentication),
}

_CACHE_KEY = "typed_spec"


def spec_model(resource: Resource) -> type[BaseModel] | None:
    """The typed model for ``resource``'s kind, or None when it is not an Istio config kind meshctl types."""
    entry = KINDS.get(resource.kind)
    if entry is None or resource.group != entry[0]:
        return None
    return entry[1]


def is_istio_config(resource: Resource) -> bool:
    return spec_model(resource) is not None


def validate(resource: Resource) -> Any:
    """The typed spec of an Istio config resource (cached on the resource).

    Raises InputError (one problem) or ErrorList (several), each naming file, line and field path.
    """
    cached = resource.extra.get(_CACHE_KEY)
    if cached is not None:
        return cached
    model = spec_model(resource)
    if model is None:
        raise InputError(
            f"{resource.kind} ({resource.api_version}) is not a typed Istio config kind",
            file=resource.file,
            line=resource.line,
        )
    raw = resource.obj.get("spec")
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise InputError(
            "must be a mapping", file=resource.file, line=resource.pos("spec").line, field="spec"
        )
    try:
        typed = _validate_lenient_nulls(model, raw)
    except ValidationError as exc:
        raise errors_from_pydantic(exc, resource, prefix="spec", data=raw) from None
    resource.extra[_CACHE_KEY] = typed
    return typed


def validate_data(
    model: type[BaseModel], data: Any, *, file: str | None = None, prefix: str = "", lines: Any = None
) -> Any:
    """Validate plain (optionally line-aware) data against ``model`` with the same error mapping (MeshConfig)."""
    try:
        return _validate_lenient_nulls(model, data if data is not None else {})
    except ValidationError as exc:
        fake = Resource(
            api_version="v1",
            kind="Data",
            name="",
            namespace=None,
            obj=lines if lines is not None else {},
            file=file,
        )
        raise errors_from_pydantic(exc, fake, prefix=prefix, data=data) from None


def _validate_lenient_nulls(model: type[BaseModel], data: Any) -> Any:
    """Validate; on failure retry once with ``null`` values removed (protojson: null = unset)."""
    try:
        return model.model_validate(data)
    except ValidationError:
        if not has_nulls(data):
            raise
    return model.model_validate(strip_nulls(data))


def _message(err: dict[str, Any]) -> str:
    t = err["type"]
    if t == "extra_forbidden":
        return "unknown field"
    if t == "missing":
        return "required field is missing"
    if t == "literal_error":
        expected = err.get("ctx", {}).get("expected", "")
        return f"invalid value {err.get('input')!r}: must be one of {expected}"
    if t in ("model_type", "model_attributes_type", "dict_type"):
        return "must be a mapping"
    if t == "list_type":
        return "must be a list"
    if t in ("bool_type", "bool_parsing"):
        return "must be true or false"
    if t in ("string_type",):
        return "must be a string"
    if t == "string_pattern_mismatch":
        return f"invalid duration {err.get('input')!r} (expected e.g. 1s, 1.5s, 100ms, 5m, 1h)"
    msg = str(err.get("msg", "invalid value"))
    return msg.removeprefix("Value error, ")


def _real_path(data: Any, loc: tuple[Any, ...]) -> list[str | int]:
    """Map pydantic's loc (aliases) onto the keys present in ``data`` (the user may write snake_case)."""
    out: list[str | int] = []
    cur = data
    for part in loc:
        if part == "[key]":
            continue
        if isinstance(part, int) and isinstance(cur, list):
            out.append(part)
            cur = cur[part] if 0 <= part < len(cur) else None
            continue
        key: Any = part
        if isinstance(cur, dict):
            if key not in cur:
                for cand in (str(part), proto_json_name(str(part)), _snake(str(part))):
                    if cand in cur:
                        key = cand
                        break
                else:
                    for k in cur:
                        if str(k) == str(part):
                            key = k
                            break
            out.append(str(key) if not isinstance(key, int) else key)
            cur = cur.get(key)
        else:
            out.append(str(part))
            cur = None
    return out


def _snake(name: str) -> str:
    return "".join("_" + c.lower() if c.isupper() else c for c in name)


def _format(parts: Sequence[str | int]) -> str:
    s = ""
    for p in parts:
        s += f"[{p}]" if isinstance(p, int) else (f".{p}" if s else p)
    return s


def errors_from_pydantic(exc: ValidationError, resource: Resource, *, prefix: str, data: Any) -> MeshctlError:
    errs: list[MeshctlError] = []
    for err in exc.errors():
        loc = tuple(p for p in err["loc"] if not (isinstance(p, str) and p.startswith("function-")))
        parts = _real_path(data, loc)
        head: list[str | int] = [prefix] if prefix else []
        path = _format(head + parts)
        pos = resource.pos(path) if path else resource.pos()
        errs.append(InputError(_message(dict(err)), file=pos.file, line=pos.line, field=path or None))
    if len(errs) == 1:
        return errs[0]
    return ErrorList(errs)
