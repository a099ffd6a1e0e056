"""Semantic diff of two Envoy config dumps (intended vs actual, or before vs after).

Resources are compared per type, keyed by name: *missing* (intended only), *extra* (actual only), *changed*
(with every differing field path and both values) and *warming* (the actual proxy has it, not yet active).
Noise is removed by design, never by hiding real differences:

* ``version_info`` / ``last_updated`` are wrapper fields and never compared;
* bodies that are byte-for-byte equal JSON are skipped without parsing (the fast path for big dumps);
* differing bodies are compared as canonical protobuf JSON, so spelling (camelCase vs snake_case, v2 type
  URLs, ``1s`` vs ``1.000s``, explicit defaults) cannot show up as a change;
* EDS: endpoint order and the defaults Envoy fills in when it echoes endpoints are normalized;
* an empty message where its presence means nothing (``filter_chain_match: {}`` matches everything, exactly as
  no match does; see :data:`EMPTY_IS_ABSENT`) equals an absent one. Messages whose mere presence changes
  behaviour (``http2_protocol_options``, ``outlier_detection``, ``tcp_keepalive``, ...) are still compared;
* the demo's loopback bind mode (listener addresses on 127.0.0.0/8 and ``bind_to_port``) is ignored when asked.

For routes and clusters a change is attributed to the Istio config that owns it, from
``metadata.filter_metadata.istio.config`` (a VirtualService per route, a DestinationRule per cluster).
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field
from typing import Any

from meshctl.envoy.dump import ConfigDump, Item, to_envoy_dict
from meshctl.envoy.views.common import config_ref

#: What istiod sends: SDS secrets come from the node agent (and rotate), so they are not compared by default.
KINDS = ("cluster", "listener", "route", "endpoint", "ecds")
LABELS = {
    "cluster": "cluster",
    "listener": "listener",
    "route": "route",
    "endpoint": "endpoints",
    "secret": "secret",
    "ecds": "ecds",
}


#: Message fields whose empty value means exactly what leaving them out means (Envoy reads them field by field,
#: never by presence). Only these lose an empty ``{}``: elsewhere presence alone can switch a feature on.
EMPTY_IS_ABSENT = frozenset(
    {
        "filter_chain_match",  # an empty match matches every connection, as no match does
        "locality",
        "metadata",
        "filter_metadata",
        "health_check_config",
        "common_lb_config",
        "common_http_protocol_options",
    }
)


@dataclass
class FieldChange:
    path: str
    intended: Any
    actual: Any
    owner: str = ""  # "VirtualService ns/name" owning this part, when known


@dataclass
class ResourceDiff:
    kind: str
    name: str
    status: str  # missing | extra | changed | warming
    changes: list[FieldChange] = field(default_factory=list)
    owner: str = ""

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"type": self.kind, "name": self.name, "status": self.status}
        if self.owner:
            out["owner"] = self.owner
        if self.changes:
            out["changes"] = [
                {
                    "path": c.path,
                    "intended": c.intended,
                    "actual": c.actual,
                    **({"owner": c.owner} if c.owner else {}),
                }
                for c in self.changes
            ]
        return out


@dataclass
class DiffResult:
    diffs: list[ResourceDiff] = field(default_factory=list)
    compared: dict[str, int] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    @property
    def drift(self) -> list[ResourceDiff]:
        return [d for d in self.diffs if d.status != "warming"]

    @property
    def warming(self) -> list[ResourceDiff]:
        return [d for d in self.diffs if d.status == "warming"]

    @property
    def in_sync(self) -> bool:
        return not self.drift

    def to_json(self, left: str = "intended", right: str = "actual") -> dict[str, Any]:
        return {
            "intended": left,
            "actual": right,
            "in_sync": self.in_sync,
            "compared": self.compared,
            "differences": [d.to_json() for d in self.drift],
            "warming": [d.to_json() for d in self.warming],
            "notes": self.notes,
        }


# ---------------------------------------------------------------------------------------------------------------
# normalization
# ---------------------------------------------------------------------------------------------------------------


def _is_loopback_or_any(addr: str) -> bool:
    try:
        ip = ipaddress.ip_address(addr)
    except ValueError:
        return False
    return ip.is_loopback or ip.is_unspecified


def _normalize_endpoints(cla: dict[str, Any], locality_weighted: bool = True) -> None:
    """Drop what Envoy fills in when it echoes EDS, and order endpoints canonically.

    Envoy keeps locality weights only for clusters with locality-weighted load balancing; for the others it
    ignores (and echoes as 0) whatever was sent, so they are not compared there."""
    policy = cla.get("policy")
    if isinstance(policy, dict):
        if policy.get("overprovisioning_factor") == 140:
            policy.pop("overprovisioning_factor")
        if not policy:
            cla.pop("policy")
    localities = cla.get("endpoints") or []
    for loc in localities:
        if loc.get("locality") == {}:
            loc.pop("locality")
        if loc.get("load_balancing_weight") in (0, None) or not locality_weighted:
            loc.pop("load_balancing_weight", None)
        for lb in loc.get("lb_endpoints") or []:
            ep = lb.get("endpoint") or {}
            if ep.get("health_check_config") == {}:
                ep.pop("health_check_config")
            if lb.get("health_status") in ("HEALTHY", "UNKNOWN"):
                lb.pop("health_status")
            if lb.get("load_balancing_weight") == 1:
                lb.pop("load_balancing_weight")
        if loc.get("lb_endpoints"):
            loc["lb_endpoints"].sort(key=_sort_token)
    localities.sort(key=lambda loc: _sort_token({k: v for k, v in loc.items() if k != "lb_endpoints"}))


def _drop_empty_messages(v: Any) -> None:
    """Remove ``{}`` values of :data:`EMPTY_IS_ABSENT` fields, at any depth (in place)."""
    if isinstance(v, dict):
        for x in v.values():
            if isinstance(x, (dict, list)):
                _drop_empty_messages(x)
        for k in [k for k, x in v.items() if x == {} and k in EMPTY_IS_ABSENT]:
            del v[k]
    elif isinstance(v, list):
        for x in v:
            if isinstance(x, (dict, list)):
                _drop_empty_messages(x)


def _normalize_listener_loopback(lis: dict[str, Any]) -> None:
    """Loopback bind mode: the demo binds each pod's listeners on its own 127.x address."""
    sa = (lis.get("address") or {}).get("socket_address") or {}
    if _is_loopback_or_any(str(sa.get("address", ""))):
        sa["address"] = "<bind address>"
    lis.pop("bind_to_port", None)
    adds = lis.get("additional_addresses")
    if adds and all(
        _is_loopback_or_any(str(((a.get("address") or {}).get("socket_address") or {}).get("address", "")))
        for a in adds
    ):
        lis.pop("additional_addresses")


def _sort_token(v: Any) -> str:
    import json

    return json.dumps(v, sort_keys=True)


def canonical(dump: ConfigDump, item: Item, *, loopback: bool = False, locality_weighted: bool = True) -> Any:
    """The item as canonical Envoy JSON (snake_case, defaults dropped), normalized for comparison."""
    msg = dump.message(item)
    if msg is None:
        return item.raw  # unparsable: compare as written (and the parse warning is reported)
    d = to_envoy_dict(msg)
    _drop_empty_messages(d)
    if item.kind == "endpoint":
        _normalize_endpoints(d, locality_weighted)
    elif item.kind == "listener" and loopback:
        _normalize_listener_loopback(d)
    return d


# ---------------------------------------------------------------------------------------------------------------
# structural diff
# ---------------------------------------------------------------------------------------------------------------


def _keyed(lst: list[Any]) -> dict[str, Any] | None:
    """A list of named objects as {name: obj} (None when elements are not uniquely named)."""
    if not lst or not all(isinstance(x, dict) for x in lst):
        return None
    for key in ("name", "cluster_name"):
        names = [x.get(key) for x in lst]
        if all(isinstance(n, str) and n for n in names) and len(set(names)) == len(names):
            return {n: x for n, x in zip(names, lst, strict=True)}
    return None


def deep_diff(a: Any, b: Any, path: str, out: list[FieldChange]) -> None:
    """Append a FieldChange for every leaf where ``a`` and ``b`` differ (named lists matched by name)."""
    if a == b:
        return
    if isinstance(a, dict) and isinstance(b, dict):
        for k in list(a.keys()) + [k for k in b if k not in a]:
            sub = f"{path}.{k}" if path else k
            if k not in b:
                out.append(FieldChange(sub, a[k], None))
            elif k not in a:
                out.append(FieldChange(sub, None, b[k]))
            else:
                deep_diff(a[k], b[k], sub, out)
        return
    if isinstance(a, list) and isinstance(b, list):
        ka, kb = _keyed(a), _keyed(b)
        if ka is not None and kb is not None:
            common = [n for n in ka if n in kb]
            if common != [n for n in kb if n in ka]:
                # order matters (routes match first-wins, HTTP filters run in order)
                out.append(FieldChange(f"{path}(order)", common, [n for n in kb if n in ka]))
            for name in list(ka) + [n for n in kb if n not in ka]:
                sub = f"{path}[{name}]"
                if name not in kb:
                    out.append(FieldChange(sub, ka[name], None))
                elif name not in ka:
                    out.append(FieldChange(sub, None, kb[name]))
                else:
                    deep_diff(ka[name], kb[name], sub, out)
            return
        if len(a) == len(b):
            for i, (x, y) in enumerate(zip(a, b, strict=True)):
                deep_diff(x, y, f"{path}[{i}]", out)
            return
        n = min(len(a), len(b))
        for i in range(n):
            deep_diff(a[i], b[i], f"{path}[{i}]", out)
        for i in range(n, len(a)):
            out.append(FieldChange(f"{path}[{i}]", a[i], None))
        for i in range(n, len(b)):
            out.append(FieldChange(f"{path}[{i}]", None, b[i]))
        return
    out.append(FieldChange(path, a, b))


def _owner_text(meta: Any) -> str:
    if not isinstance(meta, dict):
        return ""
    path = ((meta.get("filter_metadata") or {}).get("istio") or {}).get("config")
    if not isinstance(path, str):
        return ""
    ref = config_ref(path)
    return f"{ref[0]} {ref[1]}/{ref[2]}" if ref else path


def _route_owner(rc: dict[str, Any], path: str) -> str:
    """The VirtualService owning the route a change path points into (``virtual_hosts[vh].routes[i or name]``)."""
    import re

    m = re.match(r"virtual_hosts\[(.+?)\]\.routes\[(.+?)\]", path)
    if not m:
        return ""
    vhosts = rc.get("virtual_hosts") or []
    for i, vh in enumerate(vhosts):
        if vh.get("name") != m.group(1) and str(i) != m.group(1):
            continue
        for j, r in enumerate(vh.get("routes") or []):
            if r.get("name") == m.group(2) or str(j) == m.group(2):
                return _owner_text(r.get("metadata"))
    return ""


def _inline_route_owner(lis: dict[str, Any], path: str) -> str:
    """The VirtualService owning a route of a route configuration inlined into one of the listener's HCMs."""
    import re

    m = re.search(r"route_config\.(virtual_hosts\[.+?\]\.routes\[.+?\])", path)
    if not m:
        return ""
    chains = [*(lis.get("filter_chains") or []), lis.get("default_filter_chain") or {}]
    for ch in chains:
        for f in ch.get("filters") or []:
            rc = (f.get("typed_config") or {}).get("route_config")
            if isinstance(rc, dict):
                owner = _route_owner(rc, m.group(1))
                if owner:
                    return owner
    return ""


def _items_by_name(items: list[Item]) -> dict[str, Item]:
    out: dict[str, Item] = {}
    for it in items:
        out.setdefault(it.name, it)
    return out


def diff_kind(
    intended: ConfigDump, actual: ConfigDump, kind: str, *, loopback: bool = False
) -> tuple[list[ResourceDiff], int, list[str]]:
    """Diffs of one resource type; returns (diffs, resources compared, notes)."""
    notes: list[str] = []
    left_all = intended.of(kind)
    right_all = actual.of(kind)
    states: tuple[str, ...] = ("active", "static")
    # Static (bootstrap) resources are only compared when both sides have them; a translated dump has none.
    if not any(i.state == "static" for i in left_all) or not any(i.state == "static" for i in right_all):
        n_static = sum(i.state == "static" for i in right_all) + sum(i.state == "static" for i in left_all)
        if n_static:
            notes.append(
                f"{LABELS[kind]}: {n_static} static (bootstrap or inline) resource(s) on one side only, not compared"
            )
        states = ("active",)
    left = _items_by_name([i for i in left_all if i.state in states])
    right = _items_by_name([i for i in right_all if i.state in states])
    right_warming = _items_by_name([i for i in right_all if i.state == "warming"])
    if kind == "endpoint":
        # Envoy also lists the endpoints of STATIC/DNS/ORIGINAL_DST clusters as EDS; those come from the
        # cluster itself (compared there), so only EDS clusters' assignments are compared here.
        derived = _non_eds_clusters(intended) | _non_eds_clusters(actual)
        left = {n: i for n, i in left.items() if n not in derived}
        right = {n: i for n, i in right.items() if n not in derived}
    weighted = (
        _locality_weighted_clusters(intended) | _locality_weighted_clusters(actual)
        if kind == "endpoint"
        else set()
    )
    diffs: list[ResourceDiff] = []
    for name in sorted(set(left) | set(right) | set(right_warming)):
        li, ri = left.get(name), right.get(name)
        if li is not None and ri is not None:
            if li.raw == ri.raw:
                continue
            lw = kind != "endpoint" or name in weighted
            a = canonical(intended, li, loopback=loopback, locality_weighted=lw)
            b = canonical(actual, ri, loopback=loopback, locality_weighted=lw)
            changes: list[FieldChange] = []
            deep_diff(a, b, "", changes)
            if not changes:
                continue
            owner = ""
            if kind == "cluster":
                owner = _owner_text(a.get("metadata")) or _owner_text(b.get("metadata"))
            if kind == "route":
                for c in changes:
                    c.owner = _route_owner(a, c.path) or _route_owner(b, c.path)
            if kind == "listener":  # routes inlined into the HCM (static bootstraps, inline route configs)
                for c in changes:
                    c.owner = _inline_route_owner(a, c.path) or _inline_route_owner(b, c.path)
            diffs.append(ResourceDiff(kind, name, "changed", changes, owner))
        elif li is not None:
            w = right_warming.get(name)
            if w is not None:
                diffs.append(ResourceDiff(kind, name, "warming"))
            else:
                diffs.append(
                    ResourceDiff(
                        kind,
                        name,
                        "missing",
                        owner=_owner_text(li.raw.get("metadata")) if kind == "cluster" else "",
                    )
                )
        elif ri is not None:
            diffs.append(
                ResourceDiff(
                    kind,
                    name,
                    "extra",
                    owner=_owner_text(ri.raw.get("metadata")) if kind == "cluster" else "",
                )
            )
        elif name in right_warming:
            diffs.append(ResourceDiff(kind, name, "warming"))
    return diffs, len(set(left) | set(right)), notes


def _locality_weighted_clusters(dump: ConfigDump) -> set[str]:
    out = set()
    for it in dump.of("cluster"):
        common = it.raw.get("common_lb_config") or it.raw.get("commonLbConfig") or {}
        if "locality_weighted_lb_config" in common or "localityWeightedLbConfig" in common:
            out.add(it.raw.get("eds_cluster_config", {}).get("service_name") or it.name)
            out.add(it.name)
    return out


def _non_eds_clusters(dump: ConfigDump) -> set[str]:
    out = set()
    for it in dump.of("cluster"):
        t = it.raw.get("type")
        if t != "EDS" and not (
            t is None and ("eds_cluster_config" in it.raw or "edsClusterConfig" in it.raw)
        ):
            out.add(it.name)
    return out


def _node_ip(dump: ConfigDump) -> str:
    node_id = str(((dump.bootstrap_raw or {}).get("node") or {}).get("id", ""))
    parts = node_id.split("~")
    return parts[1] if len(parts) > 2 else ""


def diff_dumps(
    intended: ConfigDump, actual: ConfigDump, *, loopback: bool | None = None, kinds: tuple[str, ...] = KINDS
) -> DiffResult:
    """Compare every resource type both dumps carry. ``loopback=None`` detects the demo's loopback bind mode
    from the node IPs (127.0.0.0/8)."""
    if loopback is None:
        ips = [ip for ip in (_node_ip(intended), _node_ip(actual)) if ip]
        loopback = bool(ips) and all(_is_loopback_or_any(ip) for ip in ips)
    result = DiffResult()
    for kind in kinds:
        have_l, have_r = kind in intended.sections, kind in actual.sections
        if not (have_l and have_r):
            if have_l != have_r and (intended.of(kind) or actual.of(kind)):
                result.notes.append(
                    f"{LABELS[kind]}: only in {'intended' if have_l else 'actual'} dump, not compared"
                )
            continue
        diffs, n, notes = diff_kind(intended, actual, kind, loopback=loopback)
        result.diffs += diffs
        result.compared[kind] = n
        result.notes += notes
    return result


# ---------------------------------------------------------------------------------------------------------------
# rendering and the intended side
# ---------------------------------------------------------------------------------------------------------------


def _short(v: Any, limit: int = 120) -> str:
    import json

    text = (
        "<absent>"
        if v is None
        else json.dumps(v, sort_keys=True)
        if isinstance(v, (dict, list))
        else json.dumps(v)
        if isinstance(v, str)
        else str(v)
    )
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _pretty_path(kind: str, name: str, path: str) -> str:
    """``route 9080 / vhost reviews...:9080 / route[0].route.weighted_clusters...`` style locations."""
    import re

    label = LABELS[kind]
    m = re.match(r"virtual_hosts\[(.+?)\]\.?(.*)", path) if kind == "route" else None
    if m:
        rest = re.sub(r"^routes\[", "route[", m.group(2))
        return f"{label} {name} / vhost {m.group(1)}" + (f" / {rest}" if rest else "")
    m = re.match(r"filter_chains\[(.+?)\]\.?(.*)", path) if kind == "listener" else None
    if m:
        return f"{label} {name} / filter_chain {m.group(1)}" + (f" / {m.group(2)}" if m.group(2) else "")
    return f"{label} {name}" + (f" / {path}" if path else "")


def render_text(
    result: DiffResult,
    left: str = "intended",
    right: str = "actual",
    words: tuple[str, str] = ("intended", "actual"),
) -> str:
    """Human-readable report: one line per difference, owners in brackets, then warming and a summary.

    ``left``/``right`` name the two sides (files, URLs); ``words`` label values (intended/actual, or first/second
    when two saved dumps are compared)."""
    lines: list[str] = []
    li, ri = words
    for d in result.drift:
        owner = f"  [{d.owner}]" if d.owner else ""
        if d.status == "missing":
            lines.append(f"- {LABELS[d.kind]} {d.name}: only in {left}{owner}")
        elif d.status == "extra":
            lines.append(f"+ {LABELS[d.kind]} {d.name}: only in {right}{owner}")
        else:
            lines.append(f"~ {LABELS[d.kind]} {d.name}: changed{owner}")
            for c in d.changes:
                cown = f"  [{c.owner}]" if c.owner else ""
                lines.append(
                    f"    {_pretty_path(d.kind, d.name, c.path)}: {li} {_short(c.intended)}, {ri} {_short(c.actual)}{cown}"
                )
    for d in result.warming:
        lines.append(f"! {LABELS[d.kind]} {d.name}: warming (received, not active yet)")
    static = [n.split(":", 1) for n in result.notes if "static (bootstrap or inline)" in n]
    if static:  # one line for the usual bootstrap/inline leftovers
        parts = [f"{label} {text.split()[0]}" for label, text in static]
        lines.append(
            f"note: not compared (static bootstrap/inline resources on one side only): {', '.join(parts)}"
        )
    for n in result.notes:
        if "static (bootstrap or inline)" not in n:
            lines.append(f"note: {n}")
    total = sum(result.compared.values())
    counts = {s: sum(d.status == s for d in result.diffs) for s in ("missing", "extra", "changed", "warming")}
    if result.in_sync:
        lines.append(
            f"In sync: {total} resources compared ({', '.join(f'{v} {k}' for k, v in result.compared.items())})"
        )
    else:
        lines.append(
            f"Drift: {counts['changed']} changed, {counts['missing']} missing, {counts['extra']} extra"
            + (f", {counts['warming']} warming" if counts["warming"] else "")
            + f" ({total} resources compared)"
        )
    return "\n".join(lines) + "\n"


def node_id_of(dump: ConfigDump) -> str:
    return str(((dump.bootstrap_raw or {}).get("node") or {}).get("id", ""))


def intended_dump(
    filenames: list[str],
    proxy: str | None,
    namespace: str | None = None,
    actual: ConfigDump | None = None,
    *,
    resources: list[Any] | None = None,
    mesh_config: Any = None,
) -> ConfigDump:
    """The dump Istio would give a proxy, from Istio/Kubernetes YAML, through the embedded translator.

    ``resources`` (already loaded, e.g. from the live cluster) replace ``filenames``; ``mesh_config`` is a
    MeshConfig file path, or (with ``resources``) an already loaded MeshConfig such as the cluster's.
    The proxy is ``--proxy TYPE/NAME`` or, when omitted, the one whose node id the actual dump carries (the same
    mapping meshctl's xDS server uses). A proxy running on a loopback address (the local demo mesh) is
    translated in loopback bind mode, as the demo's control plane does.
    """
    import dataclasses

    from meshctl.errors import UsageError
    from meshctl.translate import translate
    from meshctl.translate.dump import config_dump
    from meshctl.xds.source import MeshSource

    node_id = node_id_of(actual) if actual is not None else ""
    ip = _node_ip(actual) if actual is not None else ""
    loopback = bool(ip) and _is_loopback_or_any(ip)
    mc_path = mesh_config if isinstance(mesh_config, str) else None
    source = MeshSource(filenames, loopback=loopback, mesh_config=mc_path)
    if resources is not None:  # e.g. read from the live cluster
        from meshctl.model import build_mesh

        mc = mesh_config  # a loaded MeshConfig (e.g. the cluster's istio ConfigMap), a path, or None
        if mc_path:
            from meshctl.model.meshconfig import load_mesh_config

            mc = load_mesh_config(mc_path)
        source.mesh = build_mesh(resources, mc)
    else:
        source.load()
    if proxy:
        p = source.mesh.proxy(proxy, namespace)
        if loopback:
            p = dataclasses.replace(p, workload=dataclasses.replace(p.workload, ip=ip), loopback=True)
    elif node_id:
        p = source.proxy_for(node_id)
    else:
        raise UsageError("--proxy TYPE/NAME is needed with -f: which proxy of the config is the target?")
    pc = translate(source.mesh, p)
    if actual is not None and _static_only(actual):
        # an Envoy started from `meshctl translate -o bootstrap`: compare with the same config in that form
        dump = ConfigDump(static_config_dump(pc), source=f"translate({p.id}) as a static bootstrap")
    else:
        dump = ConfigDump(config_dump(pc), source=f"translate({p.id})")
    dump.origin = (source.mesh, p)  # what it was translated from (explain maps gateway ports with it)
    return dump


def note_demo_proxy(result: DiffResult, actual: ConfigDump) -> None:
    """A proxy on a loopback address (meshctl's demo) gets its endpoints from the demo's own generated pods,
    which YAML translated afresh cannot know: point at the intended side that does know them."""
    ip = _node_ip(actual)
    if not (ip and _is_loopback_or_any(ip)):
        return
    if any(d.kind == "endpoint" for d in result.drift):
        result.notes.append(
            "the proxy runs on a loopback address (meshctl demo?): its endpoints are the demo's generated pods, "
            "which -f YAML does not know; compare with what the demo serves: --demo (or --xds-debug URL)"
        )


def _static_only(dump: ConfigDump) -> bool:
    """A proxy running a static bootstrap: clusters and listeners, all from ``static_resources``."""
    items = [*dump.of("cluster"), *dump.of("listener")]
    return bool(items) and all(i.state == "static" for i in items)


def static_config_dump(pc: Any) -> dict[str, Any]:
    """A translated proxy as Envoy dumps it when it runs ``meshctl translate -o bootstrap``: every resource in
    ``static_resources`` (EDS clusters STATIC with their endpoints inline, RDS inlined into the listeners, TLS
    without secrets removed), so a proxy started that way is compared resource by resource, by name."""
    from envoy.admin.v3 import config_dump_pb2
    from envoy.admin.v3 import config_dump_shared_pb2 as cds
    from google.protobuf import json_format

    from meshctl.translate.bootstrap import bootstrap_proto
    from meshctl.translate.protoutil import pack

    b = bootstrap_proto(pc)
    out = config_dump_pb2.ConfigDump()
    bd = config_dump_pb2.BootstrapConfigDump()
    bd.bootstrap.node.CopyFrom(b.node)
    out.configs.append(pack(bd))
    clusters, endpoints = cds.ClustersConfigDump(), cds.EndpointsConfigDump()
    for cl in b.static_resources.clusters:
        clusters.static_clusters.add().cluster.Pack(cl)
        if cl.HasField("load_assignment"):
            endpoints.static_endpoint_configs.add().endpoint_config.Pack(cl.load_assignment)
    listeners = cds.ListenersConfigDump()
    for lis in b.static_resources.listeners:
        listeners.static_listeners.add().listener.Pack(lis)
    out.configs.extend([pack(clusters), pack(endpoints), pack(listeners), pack(cds.RoutesConfigDump())])
    return dict(json_format.MessageToDict(out, preserving_proto_field_name=True))
