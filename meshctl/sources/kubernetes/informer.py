"""An informer-like cache of a live cluster: list, then watch every kind; events feed consumers incrementally.

Per (kind, namespace scope) a reflector thread lists (paginated), then watches from the list's
resourceVersion with bookmarks, keeping the newest resourceVersion it saw. A watch that ends is resumed from
there; ``410 Gone`` (history compacted) triggers a relist whose *difference* to the cache becomes events, so
consumers see no lost and no duplicate objects; connection failures reconnect with jittered exponential
backoff. Consumers get :class:`ResourceEvent` objects through :meth:`ClusterSource.subscribe` (callbacks,
serialized, in order) or the :meth:`ClusterSource.events` iterator; :meth:`ClusterSource.resources` is a
snapshot of the same :class:`~meshctl.sources.Resource` objects the file loader produces.
"""

from __future__ import annotations

import json
import queue
import random
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from meshctl.sources.kubernetes.client import KubeClient, iter_lines
from meshctl.sources.kubernetes.errors import (
    KubeApiError,
    KubeAuthError,
    KubeError,
    KubeForbiddenError,
    KubeUnreachableError,
)
from meshctl.sources.kubernetes.kinds import WANTED, Kind, Want, discover
from meshctl.sources.resource import Resource

Key = tuple[str, str, str, str]  # Resource.key: (group, kind, namespace, name)
Handler = Callable[["ResourceEvent"], None]

ADDED, MODIFIED, DELETED = "ADDED", "MODIFIED", "DELETED"


@dataclass(frozen=True)
class ResourceEvent:
    """One change: ``type`` is ADDED, MODIFIED or DELETED; ``old`` is the previous version (None for ADDED).

    For DELETED, ``resource`` is the object's last state. ``relist`` is True when the event was derived from a
    relist (after 410 Gone or a reconnect) rather than from a watch notification.
    """

    type: str
    resource: Resource
    old: Resource | None = None
    relist: bool = False


def resource_file(context: str, kind: str, namespace: str | None, name: str) -> str:
    """Where a live object "comes from" in messages: ``kube://<context>/<namespace>/<Kind>/<name>``."""
    return f"kube://{context}/{namespace}/{kind}/{name}" if namespace else f"kube://{context}/{kind}/{name}"


def to_resource(kind: Kind, obj: dict[str, Any], context: str, index: int) -> Resource:
    """The :class:`Resource` for an API object (``managedFields`` dropped; ``apiVersion``/``kind`` filled in)."""
    md = dict(obj.get("metadata") or {})
    md.pop("managedFields", None)
    body = dict(obj)
    body["apiVersion"] = kind.api_version
    body["kind"] = kind.kind
    body["metadata"] = md
    name = str(md.get("name", ""))
    ns = md.get("namespace") if kind.namespaced else None
    return Resource(
        api_version=kind.api_version,
        kind=kind.kind,
        name=name,
        namespace=ns,
        obj=body,
        file=resource_file(context, kind.kind, ns, name),
        line=None,
        index=index,
        namespace_explicit=True,
        origin="kube",
        extra={"resourceVersion": md.get("resourceVersion", ""), "uid": md.get("uid", "")},
    )


class _Gone(Exception):
    """The watch's resourceVersion is too old (410): relist."""


@dataclass
class Stats:
    lists: int = 0
    relists: int = 0
    watches: int = 0
    reconnects: int = 0
    events: int = 0
    errors: list[str] = field(default_factory=list)


class _Reflector:
    """List+watch of one kind in one scope (a namespace, or None for all / cluster-scoped)."""

    def __init__(self, source: ClusterSource, kind: Kind, scope: str | None) -> None:
        self.source, self.kind, self.scope = source, kind, scope
        self.rv = ""
        self._resp: Any = None
        self._thread: threading.Thread | None = None
        self.stopped = threading.Event()  # this reflector only (its kind stopped being served)

    @property
    def label(self) -> str:
        return f"{self.kind.resource}" + (f" in {self.scope}" if self.scope else "")

    def list(self) -> tuple[list[dict[str, Any]], str]:
        client, cont = self.source.client, ""
        items: list[dict[str, Any]] = []
        while True:
            q: list[tuple[str, Any]] = [("limit", self.source.page_size)]
            if cont:
                q.append(("continue", cont))
            body = client.request("GET", self.kind.path(self.scope), query=q, timeout=60, verb="list",
                                  resource=self.kind.resource, namespace=self.scope)
            items.extend(body.get("items") or [])
            md = body.get("metadata") or {}
            cont = md.get("continue") or ""
            if not cont:
                return items, str(md.get("resourceVersion", ""))

    def sync(self, *, relist: bool) -> None:
        items, rv = self.list()
        self.source._replace(self, items, relist=relist)
        self.rv = rv
        with self.source._lock:
            self.source.stats.lists += 1
            if relist:
                self.source.stats.relists += 1

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name=f"meshctl-watch:{self.label}", daemon=True)
        self._thread.start()

    def interrupt(self) -> None:
        resp = self._resp
        if resp is not None:
            try:
                resp.shutdown()
            except Exception:  # noqa: BLE001 - best effort: the thread also checks the stop flag
                pass

    def join(self, timeout: float) -> None:
        if self._thread:
            self._thread.join(timeout)

    def _run(self) -> None:
        src = self.source
        failures = 0
        need_list = False
        while not (src._stopped.is_set() or self.stopped.is_set()):
            try:
                if need_list:
                    self.sync(relist=True)
                    need_list = False
                started = time.monotonic()
                got = self._watch()
                if got:
                    failures = 0
                elif time.monotonic() - started < 1.0:
                    # an empty watch that ended at once (a proxy cutting streams?): do not spin
                    src._stopped.wait(src.backoff(1))
            except _Gone:
                need_list = True
                failures = 0
            except Exception as e:  # noqa: BLE001 - API errors, dropped connections, urllib3 protocol errors: reconnect
                if src._stopped.is_set() or self.stopped.is_set():
                    return
                failures += 1
                src._note_error(self, e)
                src._stopped.wait(src.backoff(failures))
                with src._lock:
                    src.stats.reconnects += 1

    def _watch(self) -> bool:
        """One watch request until it ends; True if it delivered anything. Raises _Gone on 410."""
        src = self.source
        secs = random.randint(*src.watch_timeout)
        q: list[tuple[str, Any]] = [("watch", "true"), ("allowWatchBookmarks", "true"), ("timeoutSeconds", secs)]
        if self.rv:
            q.append(("resourceVersion", self.rv))
        resp = src.client.stream(self.kind.path(self.scope), query=q, timeout=(10.0, secs + 30.0),
                                 resource=self.kind.resource, namespace=self.scope)
        self._resp = resp
        with src._lock:
            src.stats.watches += 1
        got = False
        try:
            for line in iter_lines(resp):
                if src._stopped.is_set() or self.stopped.is_set():
                    return got
                ev = json.loads(line)
                etype, obj = ev.get("type"), ev.get("object") or {}
                got = True
                if etype == "ERROR":
                    code = obj.get("code")
                    if code == 410:
                        raise _Gone()
                    raise KubeApiError(int(code or 500), obj.get("message", "watch error"))
                rv = (obj.get("metadata") or {}).get("resourceVersion")
                if etype == "BOOKMARK":
                    if rv:
                        self.rv = str(rv)
                    continue
                if etype in (ADDED, MODIFIED, DELETED):
                    src._apply(self, etype, obj)
                    if rv:
                        self.rv = str(rv)
        finally:
            self._resp = None
            try:
                resp.release_conn()
            except Exception:  # noqa: BLE001
                pass
        return got


class ClusterSource:
    """Live mesh config from one cluster; see the module docstring. Use ``with ClusterSource(...) as src:``."""

    def __init__(
        self,
        client: KubeClient | None = None,
        *,
        kubeconfig: str | None = None,
        context: str | None = None,
        namespace: str | None = None,
        istio_namespace: str = "istio-system",
        wanted: tuple[Want, ...] = WANTED,
        watch_timeout: tuple[int, int] = (300, 600),
        backoff_range: tuple[float, float] = (0.1, 5.0),
        page_size: int = 500,
        rediscover_interval: float | None = 30.0,
    ) -> None:
        self.client = client or KubeClient.connect(kubeconfig, context)
        self._own_client = client is None
        self.namespace = namespace  # None: all namespaces
        self.istio_namespace = istio_namespace
        self.wanted = wanted
        self.watch_timeout = watch_timeout
        self.backoff_range = backoff_range
        self.page_size = page_size
        self.kinds: list[Kind] = []
        self.notes: list[str] = []
        self.stats = Stats()
        self._lock = threading.RLock()
        self._cache: dict[Key, Resource] = {}
        self._index = 0
        self._handlers: list[Handler] = []
        self._reflectors: list[_Reflector] = []
        self._stopped = threading.Event()
        self._synced = False
        self.rediscover_interval = rediscover_interval
        self._rediscover_thread: threading.Thread | None = None

    # --- lifecycle -----------------------------------------------------------------------------------------
    def scopes(self, kind: Kind) -> list[str | None]:
        if not kind.namespaced:
            return [None]
        if kind.istio_ns_only:
            return [self.istio_namespace]
        if self.namespace is None:
            return [None]
        return list(dict.fromkeys([self.namespace, self.istio_namespace]))

    def sync(self) -> ClusterSource:
        """Discover kinds and list each once (in parallel); raises a KubeError (all 403s merged) on failure."""
        self.kinds, self.notes = discover(self.client, self.wanted)
        self._reflectors = [_Reflector(self, k, s) for k in self.kinds for s in self.scopes(k)]
        errors: list[BaseException] = []
        with ThreadPoolExecutor(max_workers=min(8, max(1, len(self._reflectors)))) as pool:
            for fut in [pool.submit(r.sync, relist=False) for r in self._reflectors]:
                try:
                    fut.result()
                except BaseException as e:  # noqa: BLE001 - gathered and re-raised below
                    errors.append(e)
        if errors:
            raise merge_errors(errors)
        self._synced = True
        return self

    def start(self) -> ClusterSource:
        """Sync (if not yet), then watch every kind in background threads."""
        if not self._synced:
            self.sync()
        for r in self._reflectors:
            r.start()
        if self.rediscover_interval:
            self._rediscover_thread = threading.Thread(target=self._rediscover_loop, name="meshctl-rediscover", daemon=True)
            self._rediscover_thread.start()
        return self

    def _rediscover_loop(self) -> None:
        assert self.rediscover_interval
        while not self._stopped.wait(self.rediscover_interval):
            try:
                self.rediscover()
            except Exception as e:  # noqa: BLE001 - discovery failing now and then is like a dropped watch
                with self._lock:
                    self.stats.errors.append(f"discovery: {e}")

    def rediscover(self) -> tuple[list[Kind], list[Kind]]:
        """Re-run API discovery: start reflectors for kinds now served (CRDs installed since), stop those no
        longer served (their objects leave the cache as DELETED events). Returns (added, removed) kinds."""
        kinds, notes = discover(self.client, self.wanted)
        old = {(k.group, k.kind): k for k in self.kinds}
        new = {(k.group, k.kind): k for k in kinds}
        added = [k for key, k in new.items() if key not in old or old[key].version != k.version]
        removed = [k for key, k in old.items() if key not in new or new[key].version != k.version]
        for k in removed:
            for r in [r for r in self._reflectors if r.kind == k]:
                r.stopped.set()
                r.interrupt()
                self._reflectors.remove(r)
                self._replace(r, [], relist=True)
        for k in added:
            for scope in self.scopes(k):
                r = _Reflector(self, k, scope)
                r.sync(relist=True)
                self._reflectors.append(r)
                r.start()
        with self._lock:
            self.kinds, self.notes = kinds, notes
        return added, removed

    def stop(self) -> None:
        self._stopped.set()
        if self._rediscover_thread is not None:
            self._rediscover_thread.join(5)
        reflectors = list(self._reflectors)
        for r in reflectors:
            r.interrupt()
        for r in reflectors:
            r.join(5)
        if self._own_client:
            self.client.close()

    def __enter__(self) -> ClusterSource:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def backoff(self, failures: int) -> float:
        lo, hi = self.backoff_range
        return min(hi, lo * 2 ** (failures - 1)) * random.uniform(0.5, 1.0)

    # --- consumers ---------------------------------------------------------------------------------------------
    @property
    def synced(self) -> bool:
        return self._synced

    def resources(self) -> list[Resource]:
        """A snapshot of the cache in first-seen order."""
        with self._lock:
            return sorted(self._cache.values(), key=lambda r: r.index)

    def get(self, key: Key) -> Resource | None:
        with self._lock:
            return self._cache.get(key)

    def subscribe(self, handler: Handler) -> Callable[[], None]:
        """Call ``handler(event)`` for every later change (serialized, in order, on a watcher thread: keep it quick).

        Returns a function that unsubscribes.
        """
        with self._lock:
            self._handlers.append(handler)

        def unsubscribe() -> None:
            with self._lock:
                if handler in self._handlers:
                    self._handlers.remove(handler)

        return unsubscribe

    def events(self, timeout: float | None = None) -> Iterator[ResourceEvent]:
        """Iterate over later changes; stops after ``timeout`` seconds without an event, or when the source stops."""
        q: queue.Queue[ResourceEvent] = queue.Queue()
        unsubscribe = self.subscribe(q.put)
        try:
            while not self._stopped.is_set():
                try:
                    yield q.get(timeout=timeout if timeout is not None else 0.5)
                except queue.Empty:
                    if timeout is not None:
                        return
        finally:
            unsubscribe()

    def wait_for(self, predicate: Callable[[ClusterSource], bool], timeout: float = 10.0) -> bool:
        """Poll ``predicate(self)`` until true or ``timeout``; for tests and scripted waits."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if predicate(self):
                return True
            time.sleep(0.01)
        return predicate(self)

    # --- cache updates (reflector threads) --------------------------------------------------------------------
    def _dispatch(self, ev: ResourceEvent) -> None:
        self.stats.events += 1
        for h in list(self._handlers):
            try:
                h(ev)
            except Exception as e:  # noqa: BLE001 - one bad consumer must not stop the watch
                self.stats.errors.append(f"handler {h!r} failed on {ev.type} {ev.resource.ref}: {e}")

    def _apply(self, r: _Reflector, etype: str, obj: dict[str, Any]) -> None:
        name = (obj.get("metadata") or {}).get("name", "")
        if not r.kind.keeps(name):
            return
        with self._lock:
            self._index += 1
            res = to_resource(r.kind, obj, self.client.context, self._index)
            old = self._cache.get(res.key)
            if etype == DELETED:
                if old is None:
                    return
                del self._cache[res.key]
                res.index = old.index
                self._dispatch(ResourceEvent(DELETED, res, old))
                return
            if old is not None:
                if old.extra.get("resourceVersion") == res.extra.get("resourceVersion"):
                    return  # already seen (e.g. replayed after a reconnect)
                res.index = old.index
            self._cache[res.key] = res
            self._dispatch(ResourceEvent(MODIFIED if old is not None else ADDED, res, old))

    def _replace(self, r: _Reflector, items: list[dict[str, Any]], *, relist: bool) -> None:
        """Make the cache's (kind, scope) part equal to ``items``; the differences become events."""
        kind = r.kind
        with self._lock:
            seen: set[Key] = set()
            for obj in items:
                name = (obj.get("metadata") or {}).get("name", "")
                if not kind.keeps(name):
                    continue
                self._index += 1
                res = to_resource(kind, obj, self.client.context, self._index)
                seen.add(res.key)
                old = self._cache.get(res.key)
                if old is not None and old.extra.get("resourceVersion") == res.extra.get("resourceVersion"):
                    continue
                if old is not None:
                    res.index = old.index
                self._cache[res.key] = res
                self._dispatch(ResourceEvent(MODIFIED if old else ADDED, res, old, relist=relist))
            for key, old in list(self._cache.items()):
                if key[0] == kind.group and key[1] == kind.kind and key not in seen and (r.scope is None or key[2] == r.scope):
                    del self._cache[key]
                    self._dispatch(ResourceEvent(DELETED, old, old, relist=relist))

    def _note_error(self, r: _Reflector, e: BaseException) -> None:
        with self._lock:
            self.stats.errors.append(f"{r.label}: {e}")
            del self.stats.errors[:-50]


def merge_errors(errors: list[BaseException]) -> BaseException:
    """One error for a failed sync: unreachable first, then 401, then all 403s merged into one message."""
    for cls in (KubeUnreachableError,):
        for e in errors:
            if isinstance(e, cls):
                return e
    forbidden = [e for e in errors if isinstance(e, KubeForbiddenError)]
    for e in errors:
        if isinstance(e, KubeAuthError) and not isinstance(e, KubeForbiddenError):
            return e
    if forbidden:
        missing = [m for f in forbidden for m in f.missing]
        msgs = forbidden[0].message.split("(API server: ", 1)
        detail = msgs[1].rstrip(")") if len(msgs) > 1 else ""
        return KubeForbiddenError(missing, detail if len(forbidden) == 1 else "")
    for e in errors:
        if isinstance(e, KubeError):
            return e
    return errors[0]
