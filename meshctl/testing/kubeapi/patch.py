"""PATCH bodies: JSON merge patch (RFC 7386), JSON patch (RFC 6902), strategic merge patch and server-side apply.

Strategic merge patch is implemented for what ``kubectl apply``/``kubectl patch`` send: maps merge, lists of
objects merge by their patch key (``name``, ``containerPort``/``port``, ...) and ``$patch``/``$retainKeys``/
``$setElementOrder``/``$deleteFromPrimitiveList`` directives are honoured or dropped. Lists without a known
merge key are replaced, as for CRDs (Kubernetes uses JSON merge patch for custom resources).
"""

from __future__ import annotations

import copy
from typing import Any

from meshctl.testing.kubeapi.store import ApiError

#: Merge keys of built-in list fields (field name -> key) that kubectl's strategic merge patches rely on.
MERGE_KEYS = {
    "containers": "name",
    "initContainers": "name",
    "ephemeralContainers": "name",
    "volumes": "name",
    "volumeMounts": "mountPath",
    "env": "name",
    "ports": "port",  # Service ports (container ports use containerPort, handled below)
    "imagePullSecrets": "name",
    "tolerations": "key",
    "conditions": "type",
    "hostAliases": "ip",
}


def merge_patch(target: Any, patch: Any) -> Any:
    """RFC 7386: null deletes, maps merge recursively, everything else replaces."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    out = dict(target) if isinstance(target, dict) else {}
    for k, v in patch.items():
        if v is None:
            out.pop(k, None)
        else:
            out[k] = merge_patch(out.get(k), v)
    return out


def _merge_key(field: str, items: list[Any]) -> str | None:
    if field == "ports" and items and isinstance(items[0], dict) and "containerPort" in items[0]:
        return "containerPort"
    return MERGE_KEYS.get(field)


def strategic_merge(target: Any, patch: Any, field: str = "") -> Any:
    """Strategic merge patch (the subset kubectl uses); see module docstring."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    if patch.get("$patch") == "replace":
        return {k: copy.deepcopy(v) for k, v in patch.items() if k != "$patch"}
    if patch.get("$patch") == "delete":
        return None
    out = dict(target) if isinstance(target, dict) else {}
    retain = patch.get("$retainKeys")
    for k, v in patch.items():
        if k.startswith("$setElementOrder/") or k in ("$retainKeys", "$patch"):
            continue
        if k.startswith("$deleteFromPrimitiveList/"):
            name = k.split("/", 1)[1]
            if isinstance(out.get(name), list):
                out[name] = [x for x in out[name] if x not in v]
            continue
        if v is None:
            out.pop(k, None)
        elif isinstance(v, list):
            key = _merge_key(k, v) or _merge_key(k, out.get(k) or [])
            cur = out.get(k)
            if key and isinstance(cur, list) and all(isinstance(x, dict) for x in v):
                merged = [copy.deepcopy(x) for x in cur]
                index = {x.get(key): i for i, x in enumerate(merged) if isinstance(x, dict)}
                for item in v:
                    if item.get("$patch") == "delete":
                        merged = [x for x in merged if not (isinstance(x, dict) and x.get(key) == item.get(key))]
                        index = {x.get(key): i for i, x in enumerate(merged) if isinstance(x, dict)}
                    elif item.get(key) in index:
                        i = index[item[key]]
                        merged[i] = strategic_merge(merged[i], item, k)
                    else:
                        merged.append(strategic_merge({}, item, k))
                        index[item.get(key)] = len(merged) - 1
                out[k] = merged
            else:
                out[k] = [strategic_merge({}, x, k) if isinstance(x, dict) else copy.deepcopy(x) for x in v]
        else:
            res = strategic_merge(out.get(k), v, k)
            if res is None:
                out.pop(k, None)
            else:
                out[k] = res
    if isinstance(retain, list):
        out = {k: v for k, v in out.items() if k in retain}
    return out


def _pointer(path: str) -> list[str]:
    if path == "":
        return []
    if not path.startswith("/"):
        raise ApiError(422, "Invalid", f"invalid JSON pointer {path!r}")
    return [p.replace("~1", "/").replace("~0", "~") for p in path[1:].split("/")]


def json_patch(doc: Any, ops: Any) -> Any:
    """RFC 6902 (add, remove, replace, move, copy, test)."""
    if not isinstance(ops, list):
        raise ApiError(400, "BadRequest", "a JSON patch must be a list of operations")
    doc = copy.deepcopy(doc)

    def parent(path: str) -> tuple[Any, str]:
        parts = _pointer(path)
        if not parts:
            raise ApiError(422, "Invalid", "cannot operate on the document root")
        cur = doc
        for p in parts[:-1]:
            cur = cur[int(p)] if isinstance(cur, list) else cur[p]
        return cur, parts[-1]

    def get(path: str) -> Any:
        cur = doc
        for p in _pointer(path):
            cur = cur[int(p)] if isinstance(cur, list) else cur[p]
        return cur

    for op in ops:
        try:
            kind, path = op["op"], op["path"]
            if kind in ("add", "replace"):
                cont, last = parent(path)
                val = copy.deepcopy(op["value"])
                if isinstance(cont, list):
                    if last == "-":
                        cont.append(val)
                    elif kind == "add":
                        cont.insert(int(last), val)
                    else:
                        cont[int(last)] = val
                else:
                    if kind == "replace" and last not in cont:
                        raise KeyError(last)
                    cont[last] = val
            elif kind == "remove":
                cont, last = parent(path)
                del cont[int(last) if isinstance(cont, list) else last]
            elif kind in ("move", "copy"):
                val = get(op["from"])
                if kind == "move":
                    src, key = parent(op["from"])
                    del src[int(key) if isinstance(src, list) else key]
                doc = json_patch(doc, [{"op": "add", "path": path, "value": val}])
            elif kind == "test":
                if get(path) != op["value"]:
                    raise ApiError(422, "Invalid", f"the test operation failed at {path}")
            else:
                raise ApiError(422, "Invalid", f"unknown JSON patch operation {kind!r}")
        except ApiError:
            raise
        except (KeyError, IndexError, ValueError, TypeError) as e:
            raise ApiError(422, "Invalid", f"the JSON patch operation {op!r} cannot be applied: {e}") from None
    return doc


def apply_patch(content_type: str, current: dict[str, Any] | None, body: Any, *, crd: bool) -> dict[str, Any]:
    """The object after applying ``body`` of ``content_type`` to ``current`` (None: server-side apply creates)."""
    ct = content_type.split(";")[0].strip()
    if ct == "application/json-patch+json":
        return json_patch(current or {}, body)  # type: ignore[no-any-return]
    if ct == "application/merge-patch+json":
        return merge_patch(current or {}, body)  # type: ignore[no-any-return]
    if ct == "application/strategic-merge-patch+json":
        if crd:
            raise ApiError(415, "UnsupportedMediaType", "strategic merge patch is not supported for custom resources")
        return strategic_merge(current or {}, body)  # type: ignore[no-any-return]
    if ct == "application/apply-patch+yaml":
        if not isinstance(body, dict):
            raise ApiError(400, "BadRequest", "apply patch must be an object")
        if current is None:
            return copy.deepcopy(body)
        # Server-side apply (simplified): the applied fields win, other owners' fields stay.
        return merge_patch(current, body)  # type: ignore[no-any-return]
    raise ApiError(415, "UnsupportedMediaType", f"the body of the request was in an unknown format: {ct}")
