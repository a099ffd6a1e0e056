"""The emulator's state: typed objects with resourceVersions, an event history for watch resume, and CRD types.

One global resourceVersion counter (like etcd's revision) orders every write. Each write appends a
``(rv, type, key, object)`` event to a bounded history; a watch resuming from an rv older than the history
gets ``410 Gone`` (the client must relist), exactly the contract informers rely on. Stored objects are never
mutated in place, so events and list results can share them without copying.
"""

from __future__ import annotations

import bisect
import builtins
import copy
import datetime as _dt
import secrets
import threading
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from meshctl.testing.kubeapi.types import BUILTIN_TYPES, ISTIO_CRDS, ResourceType, crd_object, type_from_crd

TypeKey = tuple[str, str]  # (group, plural)
ObjKey = tuple[str, str]  # (namespace or "", name)


class ApiError(Exception):
    """An API failure rendered as a ``Status`` object with an HTTP code."""

    def __init__(self, code: int, reason: str, message: str, details: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.code, self.reason, self.message, self.details = code, reason, message, details or {}

    def status(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": self.message,
            "reason": self.reason,
            "code": self.code,
        }
        if self.details:
            out["details"] = self.details
        return out


def not_found(rt: ResourceType, name: str) -> ApiError:
    return ApiError(404, "NotFound", f'{rt.qualified} "{name}" not found', {"name": name, "group": rt.group, "kind": rt.plural})


def now_rfc3339() -> str:
    return _dt.datetime.now(_dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass(frozen=True)
class Event:
    rv: int
    type: str  # ADDED | MODIFIED | DELETED
    tkey: TypeKey
    okey: ObjKey
    obj: dict[str, Any]
    old: dict[str, Any] | None = None  # the previous version (MODIFIED), for selector-aware watches


class Store:
    """Thread-safe object store with a bounded event history (``history`` events kept for watch resume)."""

    def __init__(self, *, istio_crds: bool = True, history: int = 20000) -> None:
        self.lock = threading.RLock()
        self.changed = threading.Condition(self.lock)
        self.types: dict[TypeKey, ResourceType] = {}
        self.objects: dict[TypeKey, dict[ObjKey, dict[str, Any]]] = {}
        self.rv = 1
        self.log: list[Event] = []
        self.compacted_rv = 1  # a watch from an rv below this gets 410 Gone
        self.history = history
        self.strict_namespaces = True
        self.generation = 0  # bumped on every write; watchers wait on it
        self._next_ip = 0
        self.on_write: Callable[[Event], None] | None = None  # the controllers' hook (called under the lock)
        for rt in BUILTIN_TYPES:
            self._register(rt)
        for name in ("default", "kube-system", "kube-public", "istio-system"):
            self.create(self.types[("", "namespaces")], None, {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}})
        if istio_crds:
            self.install_istio_crds()

    # --- types ------------------------------------------------------------------------------------------
    def _register(self, rt: ResourceType) -> None:
        self.types[rt.key] = rt
        self.objects.setdefault(rt.key, {})

    def install_istio_crds(self) -> None:
        crd_t = self.types[("apiextensions.k8s.io", "customresourcedefinitions")]
        for spec in ISTIO_CRDS:
            obj = crd_object(spec)
            if ("", obj["metadata"]["name"]) not in self.objects[crd_t.key]:
                self.create(crd_t, None, obj)

    def type_for(self, group: str, version: str, plural: str) -> ResourceType | None:
        rt = self.types.get((group, plural))
        if rt is None or version not in rt.versions:
            return None
        return rt

    def type_for_kind(self, api_version: str, kind: str) -> ResourceType | None:
        group, _, version = api_version.rpartition("/")
        for rt in self.types.values():
            if rt.group == group and rt.kind == kind and version in rt.versions:
                return rt
        return None

    def groups(self) -> dict[str, list[str]]:
        """group -> served versions (preferred first), in registration order."""
        out: dict[str, list[str]] = {}
        for rt in self.types.values():
            vs = out.setdefault(rt.group, [])
            for v in rt.versions:
                if v not in vs:
                    vs.append(v)
        return out

    # --- reads -----------------------------------------------------------------------------------------
    def get(self, rt: ResourceType, namespace: str | None, name: str) -> dict[str, Any]:
        with self.lock:
            obj = self.objects[rt.key].get((namespace or "", name))
            if obj is None:
                raise not_found(rt, name)
            return obj

    def list(self, rt: ResourceType, namespace: str | None) -> tuple[builtins.list[dict[str, Any]], int]:
        """Objects of ``rt`` (in ``namespace`` or all) sorted by namespace/name, and the list's resourceVersion."""
        with self.lock:
            objs = self.objects[rt.key]
            if namespace:
                items = [o for (ns, _), o in objs.items() if ns == namespace]
            else:
                items = list(objs.values())
            rv = self.rv
        items.sort(key=lambda o: (o["metadata"].get("namespace", ""), o["metadata"]["name"]))
        return items, rv

    def events_after(self, rv: int, tkey: TypeKey) -> tuple[builtins.list[Event], int]:
        """Events of ``tkey`` with resourceVersion > ``rv`` and the newest rv seen; raises ApiError(410) if too old."""
        with self.lock:
            if rv < self.compacted_rv:
                raise ApiError(410, "Expired", f"too old resource version: {rv} ({self.compacted_rv})")
            if rv > self.rv:
                # A resourceVersion from the future: this server lost its state (a fresh emulator on the same
                # port). Gone makes clients relist instead of silently waiting for the counter to catch up.
                raise ApiError(410, "Expired", f"too large resource version: {rv}, current: {self.rv}")
            i = bisect.bisect_right(self.log, rv, key=lambda e: e.rv)
            return [e for e in self.log[i:] if e.tkey == tkey], self.rv

    # --- writes ----------------------------------------------------------------------------------------
    def _ensure_namespace(self, rt: ResourceType, namespace: str | None) -> None:
        if not rt.namespaced:
            return
        if not namespace:
            raise ApiError(400, "BadRequest", "the namespace of the object does not match the namespace on the request")
        if self.strict_namespaces and ("", namespace) not in self.objects[("", "namespaces")]:
            ns_t = self.types[("", "namespaces")]
            raise ApiError(404, "NotFound", f'namespaces "{namespace}" not found', {"name": namespace, "kind": ns_t.plural})

    def _emit(self, etype: str, rt: ResourceType, okey: ObjKey, obj: dict[str, Any], old: dict[str, Any] | None = None) -> None:
        self.log.append(Event(self.rv, etype, rt.key, okey, obj, old))
        if len(self.log) > self.history * 2:
            cut = len(self.log) - self.history
            self.compacted_rv = self.log[cut - 1].rv  # a watch from below this missed a dropped event
            del self.log[:cut]
        self.generation += 1
        self.changed.notify_all()
        if self.on_write is not None:
            self.on_write(self.log[-1])

    def _next_rv(self) -> int:
        self.rv += 1
        return self.rv

    def create(self, rt: ResourceType, namespace: str | None, body: dict[str, Any]) -> dict[str, Any]:
        obj = copy.deepcopy(body)
        md = obj.setdefault("metadata", {})
        if not isinstance(md, dict):
            raise ApiError(400, "BadRequest", "metadata must be an object")
        name = md.get("name")
        if not name and md.get("generateName"):
            name = md["generateName"] + secrets.token_hex(3)[:5]
        if not isinstance(name, str) or not name:
            raise ApiError(422, "Invalid", f"{rt.kind}.{rt.group or 'core'} \"\" is invalid: metadata.name: Required value: name or generateName is required")
        body_ns = md.get("namespace")
        if rt.namespaced:
            if body_ns and namespace and body_ns != namespace:
                raise ApiError(400, "BadRequest", "the namespace of the provided object does not match the namespace sent on the request")
            namespace = namespace or body_ns
        else:
            namespace = None
        with self.lock:
            self._ensure_namespace(rt, namespace)
            okey = (namespace or "", name)
            if okey in self.objects[rt.key]:
                raise ApiError(409, "AlreadyExists", f'{rt.qualified} "{name}" already exists', {"name": name, "group": rt.group, "kind": rt.plural})
            if rt.key == ("apiextensions.k8s.io", "customresourcedefinitions"):
                self._register_crd(obj)
            md["name"] = name
            if namespace:
                md["namespace"] = namespace
            md["uid"] = str(uuid.uuid4())
            md.setdefault("creationTimestamp", now_rfc3339())
            md["generation"] = 1
            md["resourceVersion"] = str(self._next_rv())
            obj["apiVersion"] = rt.api_version()
            obj["kind"] = rt.kind
            if rt.key == ("", "namespaces"):
                obj.setdefault("status", {"phase": "Active"})
            if rt.key == ("", "services"):
                self._allocate_cluster_ip(obj)
            self.objects[rt.key][okey] = obj
            self._emit("ADDED", rt, okey, obj)
            return obj

    def _allocate_cluster_ip(self, obj: dict[str, Any]) -> None:
        """Give a Service a ClusterIP from 10.96.0.0/16 like the real allocator (None/ExternalName stay as they are)."""
        spec = obj.setdefault("spec", {})
        if spec.get("type") == "ExternalName" or spec.get("clusterIP"):
            return
        self._next_ip += 1
        ip = f"10.96.{self._next_ip // 254}.{self._next_ip % 254 + 1}"
        spec["clusterIP"] = ip
        spec["clusterIPs"] = [ip]

    def update(self, rt: ResourceType, namespace: str | None, name: str, body: dict[str, Any], *, subresource: str = "") -> dict[str, Any]:
        """Replace an object (PUT). A body resourceVersion that is not current is a 409 Conflict."""
        with self.lock:
            okey = ((namespace or "") if rt.namespaced else "", name)
            old = self.objects[rt.key].get(okey)
            if old is None:
                raise not_found(rt, name)
            new = copy.deepcopy(body)
            md = new.setdefault("metadata", {})
            want_rv = md.get("resourceVersion")
            if want_rv and str(want_rv) != old["metadata"]["resourceVersion"]:
                raise ApiError(
                    409, "Conflict",
                    f'Operation cannot be fulfilled on {rt.qualified} "{name}": the object has been modified; '
                    "please apply your changes to the latest version and try again",
                    {"name": name, "group": rt.group, "kind": rt.plural},
                )
            if subresource == "status":
                merged = dict(old)
                merged["status"] = new.get("status")
                new, md = merged, dict(old["metadata"])
                new["metadata"] = md
            for keep in ("uid", "creationTimestamp", "name", "namespace"):
                if keep in old["metadata"]:
                    md[keep] = old["metadata"][keep]
            gen = old["metadata"].get("generation", 1)
            if new.get("spec") != old.get("spec") or (rt.key == ("", "configmaps") and new.get("data") != old.get("data")):
                gen += 1
            md["generation"] = gen
            if rt.key == ("apiextensions.k8s.io", "customresourcedefinitions"):
                self._register_crd(new)
            new["apiVersion"] = rt.api_version()
            new["kind"] = rt.kind
            md["resourceVersion"] = str(self._next_rv())
            self.objects[rt.key][okey] = new
            self._emit("MODIFIED", rt, okey, new, old)
            return new

    def delete(self, rt: ResourceType, namespace: str | None, name: str) -> dict[str, Any]:
        with self.lock:
            okey = ((namespace or "") if rt.namespaced else "", name)
            old = self.objects[rt.key].pop(okey, None)
            if old is None:
                raise not_found(rt, name)
            gone = dict(old)
            gone["metadata"] = dict(old["metadata"], resourceVersion=str(self._next_rv()))
            self._emit("DELETED", rt, okey, gone)
            if rt.key == ("", "namespaces"):
                for tkey, objs in self.objects.items():
                    t = self.types[tkey]
                    if t.namespaced:
                        for k in [k for k in objs if k[0] == name]:
                            self.delete(t, name, k[1])
            if rt.key == ("apiextensions.k8s.io", "customresourcedefinitions"):
                self._unregister_crd(old)
            return gone

    def apply(self, objects: Iterable[dict[str, Any]]) -> builtins.list[dict[str, Any]]:
        """Create or replace each object by its apiVersion/kind (seeding, tests); namespaces are created as needed."""
        out = []
        ns_t = self.types[("", "namespaces")]
        for body in objects:
            rt = self.type_for_kind(body.get("apiVersion", ""), body.get("kind", ""))
            if rt is None:
                raise ApiError(404, "NotFound", f"no matches for kind \"{body.get('kind')}\" in version \"{body.get('apiVersion')}\"")
            md = body.get("metadata") or {}
            ns = (md.get("namespace") or "default") if rt.namespaced else None
            with self.lock:
                if ns and ("", ns) not in self.objects[ns_t.key]:
                    self.create(ns_t, None, {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}})
                if ((ns or ""), md.get("name")) in self.objects[rt.key]:
                    b = copy.deepcopy(body)
                    b.setdefault("metadata", {}).pop("resourceVersion", None)
                    out.append(self.update(rt, ns, md["name"], b))
                else:
                    out.append(self.create(rt, ns, body))
        return out

    def compact(self) -> int:
        """Forget the whole event history: every watch resuming from an older rv gets 410 Gone."""
        with self.lock:
            self.log.clear()
            self.compacted_rv = self.rv  # watching from the current rv loses nothing; anything older is Gone
            self.generation += 1
            self.changed.notify_all()
            return self.compacted_rv

    # --- CRDs ------------------------------------------------------------------------------------------
    def _register_crd(self, obj: dict[str, Any]) -> None:
        try:
            rt = type_from_crd(obj)
        except ValueError as e:
            raise ApiError(422, "Invalid", f"CustomResourceDefinition.apiextensions.k8s.io is invalid: {e}") from None
        expected = f"{rt.plural}.{rt.group}"
        if obj.get("metadata", {}).get("name") != expected:
            raise ApiError(422, "Invalid", f'CustomResourceDefinition.apiextensions.k8s.io is invalid: metadata.name: must be spec.names.plural+"."+spec.group ({expected})')
        self._register(rt)

    def _unregister_crd(self, obj: dict[str, Any]) -> None:
        try:
            rt = type_from_crd(obj)
        except ValueError:
            return
        cur = self.types.get(rt.key)
        if cur is None or cur.builtin:
            return
        for ns, name in list(self.objects.get(rt.key, {})):
            self.delete(cur, ns or None, name)
        self.types.pop(rt.key, None)
        self.objects.pop(rt.key, None)
