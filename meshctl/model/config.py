"""Typed Istio configs as the model holds them, and VirtualService preparation (shortnames, delegation).

A :class:`Config` pairs the loaded :class:`Resource` (file/line, metadata) with its typed spec and a
:class:`ConfigRef` for blame metadata. VirtualServices are stored *resolved* like Pilot stores them:
hosts, destination hosts and gateway names are fully qualified relative to the VS namespace, and
delegate VSs are merged into their roots (``pilot/pkg/model/virtualservice.go``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from meshctl.model.api import HTTPMatchRequest, HTTPRoute, VirtualService
from meshctl.model.hosts import export_visible, resolve_gateway_name, resolve_shortname
from meshctl.model.types import ConfigRef
from meshctl.sources.resource import Resource

T = TypeVar("T")


@dataclass(eq=False)
class Config(Generic[T]):
    """One Istio config object: ``resource`` (as loaded), ``spec`` (typed), ``ref`` (for blame)."""

    resource: Resource
    spec: T
    ref: ConfigRef
    #: exportTo when the spec sets none (MeshConfig defaultVirtualServiceExportTo / defaultDestinationRuleExportTo)
    default_export_to: tuple[str, ...] = ("*",)

    @property
    def name(self) -> str:
        return self.resource.name

    @property
    def namespace(self) -> str:
        return self.resource.namespace or "default"

    @property
    def kind(self) -> str:
        return self.resource.kind

    @property
    def key(self) -> str:
        """``ns/name``."""
        return f"{self.namespace}/{self.name}"

    @property
    def export_to(self) -> list[str]:
        return list(getattr(self.spec, "export_to", None) or self.default_export_to)

    def visible_to(self, namespace: str) -> bool:
        return export_visible(self.export_to, self.namespace, namespace)

    def __repr__(self) -> str:
        return f"<Config {self.kind} {self.key}>"


def make_config(resource: Resource, spec: Any, default_export_to: tuple[str, ...] = ("*",)) -> Config[Any]:
    group = resource.group or "networking.istio.io"
    return Config(
        default_export_to=default_export_to,
        resource=resource,
        spec=spec,
        ref=ConfigRef(
            kind=resource.kind,
            name=resource.name,
            namespace=resource.namespace or "default",
            group=group,
            version="v1",
            file=resource.file,
            line=resource.line,
        ),
    )


# ------------------------------------------------------------------------------------------ VS resolution
def _cp(m: Any, **update: Any) -> Any:
    """A shallow copy with some fields replaced (no deep copy: resolution must stay cheap at 10k VSs).

    Equivalent to ``m.model_copy(update=update)`` for our extra="forbid" models, without its per-call overhead."""
    if not update:
        return m
    new = m.__class__.__new__(m.__class__)
    object.__setattr__(new, "__dict__", {**m.__dict__, **update})
    object.__setattr__(new, "__pydantic_fields_set__", m.__pydantic_fields_set__ | update.keys())
    object.__setattr__(new, "__pydantic_extra__", None)
    object.__setattr__(new, "__pydantic_private__", None)
    return new


def resolve_virtual_service(cfg: Config[VirtualService]) -> Config[VirtualService]:
    """A copy of ``cfg`` with hosts, destinations and gateways fully qualified in the VS namespace.

    Only the touched messages are copied; the loaded spec (``cfg.spec``) is left as the user wrote it.
    """
    ns = cfg.namespace
    vs = cfg.spec

    def dest(d: Any) -> Any:
        h = resolve_shortname(d.host, ns)
        return d if h == d.host else _cp(d, host=h)

    def gws(names: list[str]) -> list[str]:
        return [resolve_gateway_name(g, ns) for g in names]

    http = []
    for r in vs.http:
        upd: dict[str, Any] = {}
        if any(m.gateways for m in r.match):
            upd["match"] = [_cp(m, gateways=gws(m.gateways)) if m.gateways else m for m in r.match]
        if r.route:
            upd["route"] = [_cp(d, destination=dest(d.destination)) for d in r.route]
        if r.mirror is not None:
            upd["mirror"] = dest(r.mirror)
        if r.mirrors:
            upd["mirrors"] = [_cp(mp, destination=dest(mp.destination)) for mp in r.mirrors]
        if r.delegate is not None and not r.delegate.namespace:
            upd["delegate"] = _cp(r.delegate, namespace=ns)
        http.append(_cp(r, **upd))

    def l4(routes: list[Any]) -> list[Any]:
        out = []
        for tr in routes:
            upd: dict[str, Any] = {"route": [_cp(d, destination=dest(d.destination)) for d in tr.route]}
            if any(m.gateways for m in tr.match):
                upd["match"] = [_cp(m, gateways=gws(m.gateways)) if m.gateways else m for m in tr.match]
            out.append(_cp(tr, **upd))
        return out

    resolved = _cp(
        vs,
        hosts=[resolve_shortname(h, ns) for h in vs.hosts],
        gateways=gws(vs.gateways) or ["mesh"],
        http=http,
        tcp=l4(vs.tcp),
        tls=l4(vs.tls),
    )
    return Config(resource=cfg.resource, spec=resolved, ref=cfg.ref, default_export_to=cfg.default_export_to)


# ------------------------------------------------------------------------------------------ delegation
def _string_match_conflict(root: Any, leaf: Any) -> bool:
    """``stringMatchConflict``: may ``leaf`` narrow ``root``? (regex only alone; exact == exact; prefix extends)."""
    if root is None or leaf is None:
        return False
    if root.regex and (leaf.regex or leaf.prefix or leaf.exact):
        return True
    if leaf.regex and (root.regex or root.prefix or root.exact):
        return True
    if root.exact:
        return bool(leaf.prefix) or leaf.exact != root.exact
    if root.prefix:
        if leaf.prefix:
            return not leaf.prefix.startswith(root.prefix)
        if leaf.exact:
            return not leaf.exact.startswith(root.prefix)
    return True


def _match_conflict(root: HTTPMatchRequest, leaf: HTTPMatchRequest) -> bool:
    """``hasConflict`` between a root match and a delegate match."""
    for f in ("uri", "scheme", "method", "authority"):
        if _string_match_conflict(getattr(root, f), getattr(leaf, f)):
            return True
    for f in ("headers", "without_headers", "query_params"):
        rmap = getattr(root, f)
        if any(_string_match_conflict(rmap.get(k), v) for k, v in getattr(leaf, f).items()):
            return True
    if root.ignore_uri_case != leaf.ignore_uri_case:
        return True
    if root.port and leaf.port and root.port != leaf.port:
        return True
    if root.source_namespace and leaf.source_namespace != root.source_namespace:
        return True
    if any(k in root.source_labels and root.source_labels[k] != v for k, v in leaf.source_labels.items()):
        return True
    if root.gateways and leaf.gateways:
        return len(root.gateways) < len(leaf.gateways) or not set(leaf.gateways) <= set(root.gateways)
    return False


def _joined_name(root: str | None, leaf: str | None) -> str | None:
    if not leaf:
        return root
    return f"{root}-{leaf}" if root else leaf


def _merge_match(root: HTTPMatchRequest, leaf: HTTPMatchRequest) -> HTTPMatchRequest:
    """``mergeHTTPMatchRequest``: the delegate's match, completed by the root's (delegate wins on keys)."""
    upd: dict[str, Any] = {"name": _joined_name(root.name, leaf.name)}
    for f in ("uri", "scheme", "method", "authority", "source_namespace", "stat_prefix", "port"):
        if not getattr(leaf, f):
            upd[f] = getattr(root, f)
    for f in ("headers", "without_headers", "query_params", "source_labels"):
        upd[f] = {**getattr(root, f), **getattr(leaf, f)}
    if not leaf.gateways:
        upd["gateways"] = list(root.gateways)
    return _cp(leaf, **upd)


def merge_http_route(root: HTTPRoute, dele: HTTPRoute) -> HTTPRoute | None:
    """``mergeHTTPRoute``: the delegate route under the root's match; None when a delegate match fits no root
    match (Istio drops the whole route then)."""
    if not root.match:
        matches = list(dele.match)
    elif not dele.match:
        matches = list(root.match)
    else:
        matches = []
        for leaf in dele.match:
            fits = [_merge_match(r, leaf) for r in root.match if not _match_conflict(r, leaf)]
            if not fits:
                return None
            matches.extend(fits)
    upd: dict[str, Any] = {"match": matches, "name": _joined_name(root.name, dele.name)}
    for f in (
        "rewrite",
        "direct_response",
        "timeout",
        "retries",
        "fault",
        "mirror",
        "mirror_percent",
        "mirror_percentage",
        "cors_policy",
        "headers",
    ):
        if getattr(dele, f) is None:
            upd[f] = getattr(root, f)
    if not dele.mirrors:
        upd["mirrors"] = list(root.mirrors)
    return _cp(dele, **upd)


def merge_delegates(
    roots: list[Config[VirtualService]], delegates: dict[str, Config[VirtualService]]
) -> list[Config[VirtualService]]:
    """Root VSs with every ``http[].delegate`` replaced by the delegate's merged routes (missing/hidden → dropped)."""
    out = []
    for cfg in roots:
        if not any(r.delegate for r in cfg.spec.http):
            out.append(cfg)
            continue
        vs = cfg.spec.model_copy(deep=False)
        routes: list[HTTPRoute] = []
        for r in cfg.spec.http:
            if r.delegate is None:
                routes.append(r)
                continue
            d = delegates.get(f"{r.delegate.namespace or cfg.namespace}/{r.delegate.name}")
            if d is None or not d.visible_to(cfg.namespace):
                continue
            for dr in d.spec.http:
                m = merge_http_route(r, dr)
                if m is not None:
                    routes.append(m)
        vs.http = routes
        out.append(
            Config(resource=cfg.resource, spec=vs, ref=cfg.ref, default_export_to=cfg.default_export_to)
        )
    return out
