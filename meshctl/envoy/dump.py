"""Parse Envoy ``/config_dump`` output into xds-protos messages, tolerantly, the way istioctl does.

Envoy config dumps are full of ``google.protobuf.Any`` values. Python's ``json_format`` can only parse an Any
whose message type is loaded in the default descriptor pool, and xds-protos modules load lazily. So this module
(1) re-tags Envoy v2 type URLs to their v3 names, (2) imports the xds-protos package that defines a type on
first sight, and (3) registers an empty stand-in message for types nobody knows (Istio's own filters, newer
Envoy extensions): a dump from another Envoy/Istio version still parses, the unknown payload is dropped and
reported as a warning instead of failing the whole dump. Sections are indexed as plain JSON first (fast: diffs
compare raw bodies), and each resource becomes a protobuf message only when a view needs it.
"""

from __future__ import annotations

import dataclasses
import importlib
import importlib.util
import json
import os
import re
import threading
from dataclasses import dataclass
from typing import Any

from google.protobuf import descriptor_pb2, descriptor_pool, json_format

from meshctl.errors import InputError

TYPE_PREFIX = "type.googleapis.com/"

#: v2 (and v2alpha) message names whose v3 name is not a mechanical rename.
_V2_EXACT = {
    "envoy.api.v2.Cluster": "envoy.config.cluster.v3.Cluster",
    "envoy.api.v2.Listener": "envoy.config.listener.v3.Listener",
    "envoy.api.v2.RouteConfiguration": "envoy.config.route.v3.RouteConfiguration",
    "envoy.api.v2.ScopedRouteConfiguration": "envoy.config.route.v3.ScopedRouteConfiguration",
    "envoy.api.v2.ClusterLoadAssignment": "envoy.config.endpoint.v3.ClusterLoadAssignment",
    "envoy.api.v2.auth.Secret": "envoy.extensions.transport_sockets.tls.v3.Secret",
    "envoy.api.v2.auth.UpstreamTlsContext": "envoy.extensions.transport_sockets.tls.v3.UpstreamTlsContext",
    "envoy.api.v2.auth.DownstreamTlsContext": "envoy.extensions.transport_sockets.tls.v3.DownstreamTlsContext",
    "envoy.config.bootstrap.v2.Bootstrap": "envoy.config.bootstrap.v3.Bootstrap",
    "envoy.config.filter.network.http_connection_manager.v2.HttpConnectionManager": (
        "envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager"
    ),
    "envoy.config.filter.network.tcp_proxy.v2.TcpProxy": "envoy.extensions.filters.network.tcp_proxy.v3.TcpProxy",
    "envoy.config.filter.http.router.v2.Router": "envoy.extensions.filters.http.router.v3.Router",
    "envoy.config.accesslog.v2.FileAccessLog": "envoy.extensions.access_loggers.file.v3.FileAccessLog",
}

_lock = threading.Lock()
_packages_loaded: set[str] = set()
_known: dict[str, bool] = {}
#: type names that were replaced by an empty stand-in (for warnings)
unknown_types: set[str] = set()


def v3_type_name(name: str) -> str:
    """The v3 name of a (possibly v2) Envoy message name; other names are returned unchanged."""
    if name in _V2_EXACT:
        return _V2_EXACT[name]
    if name.startswith("envoy.admin.v2alpha."):
        return "envoy.admin.v3." + name[len("envoy.admin.v2alpha.") :]
    for kind in ("network", "http", "listener"):
        prefix = f"envoy.config.filter.{kind}."
        if name.startswith(prefix):
            parts = name[len(prefix) :].split(".")
            # envoy.config.filter.http.fault.v2.HTTPFault -> envoy.extensions.filters.http.fault.v3.HTTPFault
            if len(parts) >= 3 and parts[-2] in ("v2", "v2alpha", "v2alpha1"):
                return f"envoy.extensions.filters.{kind}." + ".".join(parts[:-2]) + ".v3." + parts[-1]
    if name.startswith("envoy.api.v2.") and name.count(".") == 4:
        # envoy.api.v2.core.Address -> envoy.config.core.v3.Address
        _, _, _, sub, msg = name.split(".")
        return f"envoy.config.{sub}.v3.{msg}"
    return name


def _package_of(full_name: str) -> str:
    parts = full_name.split(".")
    pkg = []
    for p in parts:
        if p[:1].isupper():
            break
        pkg.append(p)
    return ".".join(pkg)


def _import_package(pkg: str) -> None:
    """Import every generated ``*_pb2`` module of a proto package so its messages join the default pool."""
    if pkg in _packages_loaded:
        return
    _packages_loaded.add(pkg)
    try:
        spec = importlib.util.find_spec(pkg)
    except (ImportError, ValueError):
        return
    if spec is None or not spec.submodule_search_locations:
        return
    for loc in spec.submodule_search_locations:
        try:
            names = sorted(os.listdir(loc))
        except OSError:
            continue
        for fn in names:
            if fn.endswith("_pb2.py"):
                try:
                    importlib.import_module(f"{pkg}.{fn[:-3]}")
                except Exception:  # a broken generated module must not break dump parsing
                    continue


def _register_stand_in(full_name: str) -> bool:
    pkg = _package_of(full_name)
    msg = full_name[len(pkg) + 1 :] if pkg else full_name
    if not msg or "." in msg:
        return False
    fdp = descriptor_pb2.FileDescriptorProto(
        name=f"meshctl/unknown/{full_name}.proto", package=pkg, syntax="proto3"
    )
    fdp.message_type.add(name=msg)
    try:
        descriptor_pool.Default().Add(fdp)
        descriptor_pool.Default().FindMessageTypeByName(full_name)
    except Exception:
        return False
    unknown_types.add(full_name)
    return True


def ensure_type(full_name: str) -> bool:
    """Make ``full_name`` resolvable in the default pool. True if it is a real (known) message type.

    Unknown names get an empty stand-in message, so parsing continues and the value is dropped with a warning.
    """
    hit = _known.get(full_name)
    if hit is not None:
        return hit
    with _lock:
        pool = descriptor_pool.Default()
        try:
            pool.FindMessageTypeByName(full_name)
            ok = True
        except KeyError:
            _import_package(_package_of(full_name))
            try:
                pool.FindMessageTypeByName(full_name)
                ok = True
            except KeyError:
                ok = False
                if not _register_stand_in(full_name):
                    raise
        _known[full_name] = ok
        return ok


#: Old (v1/v2) filter names whose untyped ``config`` struct becomes a v3 ``typed_config``.
_LEGACY_FILTER_TYPES = {
    "envoy.http_connection_manager": "envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager",
    "envoy.filters.network.http_connection_manager": "envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager",
    "envoy.tcp_proxy": "envoy.extensions.filters.network.tcp_proxy.v3.TcpProxy",
    "envoy.filters.network.tcp_proxy": "envoy.extensions.filters.network.tcp_proxy.v3.TcpProxy",
    "envoy.router": "envoy.extensions.filters.http.router.v3.Router",
    "envoy.filters.http.router": "envoy.extensions.filters.http.router.v3.Router",
}
#: Old filter names -> current ones (views and explain look filters up by name).
LEGACY_FILTER_NAMES = {
    "envoy.http_connection_manager": "envoy.filters.network.http_connection_manager",
    "envoy.tcp_proxy": "envoy.filters.network.tcp_proxy",
    "envoy.router": "envoy.filters.http.router",
}


def prepare_anys(obj: Any, unknown: set[str] | None = None) -> None:
    """Walk a JSON value in place: re-tag v2 ``@type`` URLs to v3 and make every Any type resolvable.

    Envoy v1/v2-era filters (``name`` + untyped ``config``) are rewritten to v3 names with a ``typed_config``.
    Names of types that had to be replaced by a stand-in are added to ``unknown``.
    """
    stack = [obj]
    while stack:
        cur = stack.pop()
        if isinstance(cur, dict):
            name = cur.get("name")
            if (
                isinstance(name, str)
                and name in _LEGACY_FILTER_TYPES
                and isinstance(cur.get("config"), dict)
                and "typed_config" not in cur
                and "typedConfig" not in cur
            ):
                cur["typed_config"] = {"@type": TYPE_PREFIX + _LEGACY_FILTER_TYPES[name], **cur.pop("config")}
            if (
                isinstance(name, str)
                and name in LEGACY_FILTER_NAMES
                and ("typed_config" in cur or "typedConfig" in cur)
            ):
                cur["name"] = LEGACY_FILTER_NAMES[name]
            t = cur.get("@type")
            if isinstance(t, str):
                prefix, _, name = t.rpartition("/")
                new = v3_type_name(name)
                if new != name:
                    cur["@type"] = f"{prefix}/{new}" if prefix else new
                try:
                    known = ensure_type(new)
                except KeyError:
                    known = False
                    # Could not even make a stand-in (odd name): keep parsing with an Empty.
                    cur.clear()
                    cur["@type"] = TYPE_PREFIX + "google.protobuf.Empty"
                if not known and unknown is not None:
                    unknown.add(new)
            for v in cur.values():
                if isinstance(v, (dict, list)):
                    stack.append(v)
        elif isinstance(cur, list):
            for v in cur:
                if isinstance(v, (dict, list)):
                    stack.append(v)


def message_class(full_name: str) -> Any:
    """The generated (or stand-in) Python class for a message name."""
    from google.protobuf import message_factory

    ensure_type(full_name)
    return message_factory.GetMessageClass(descriptor_pool.Default().FindMessageTypeByName(full_name))


# ---------------------------------------------------------------------------------------------------------------
# Config dumps
# ---------------------------------------------------------------------------------------------------------------

ADMIN = "envoy.admin.v3."

#: resource kind -> (v3 message name of the resource, short label used in messages)
RESOURCE_TYPES = {
    "cluster": "envoy.config.cluster.v3.Cluster",
    "listener": "envoy.config.listener.v3.Listener",
    "route": "envoy.config.route.v3.RouteConfiguration",
    "scoped_route": "envoy.config.route.v3.ScopedRouteConfiguration",
    "endpoint": "envoy.config.endpoint.v3.ClusterLoadAssignment",
    "secret": "envoy.extensions.transport_sockets.tls.v3.Secret",
    "ecds": "envoy.config.core.v3.TypedExtensionConfig",
}

#: dump section message -> the resource kind it holds
SECTION_KINDS = {
    ADMIN + "BootstrapConfigDump": "bootstrap",
    ADMIN + "ClustersConfigDump": "cluster",
    ADMIN + "ListenersConfigDump": "listener",
    ADMIN + "RoutesConfigDump": "route",
    ADMIN + "ScopedRoutesConfigDump": "scoped_route",
    ADMIN + "EndpointsConfigDump": "endpoint",
    ADMIN + "SecretsConfigDump": "secret",
    ADMIN + "EcdsConfigDump": "ecds",
}


def _camel(snake: str) -> str:
    head, *rest = snake.split("_")
    return head + "".join(p[:1].upper() + p[1:] for p in rest)


def field(d: Any, snake: str, default: Any = None) -> Any:
    """``d[snake]`` accepting Envoy's snake_case and istioctl's camelCase spelling."""
    if not isinstance(d, dict):
        return default
    if snake in d:
        return d[snake]
    return d.get(_camel(snake), default)


@dataclass
class Item:
    """One xDS resource found in a dump, with where and in which state it was found.

    ``raw`` is the resource body exactly as the dump spells it (kept for cheap equality checks in diffs);
    :meth:`ConfigDump.message` turns it into the typed protobuf message.
    """

    kind: str
    name: str
    state: str  # static | active | warming | draining | error
    raw: dict[str, Any]
    version_info: str = ""
    last_updated: str = ""
    path: str = ""
    wrapper: dict[str, Any] = dataclasses.field(default_factory=dict)
    msg: Any = None  # parsed protobuf, cached by ConfigDump.message


class ConfigDump:
    """A parsed ``/config_dump`` (any mask, with or without ``include_eds``).

    Sections are indexed eagerly (cheap: plain JSON), resources become protobuf messages lazily and
    tolerantly: an entry that does not parse is skipped with a warning naming its JSON path, so a dump from
    an unknown Envoy version still gives partial results.
    """

    def __init__(self, data: Any, source: str = "<dump>") -> None:
        self.source = source
        self.warnings: list[str] = []
        self.bootstrap_raw: dict[str, Any] | None = None
        self.bootstrap_wrapper: dict[str, Any] | None = None
        self.items: dict[str, list[Item]] = {k: [] for k in RESOURCE_TYPES}
        self.sections: list[str] = []
        self._unknown: set[str] = set()
        self.origin: Any = None  # (mesh, proxy) when the dump was translated from config
        if not isinstance(data, dict):
            raise InputError("not an Envoy config dump: expected a JSON object with 'configs'", file=source)
        configs = data.get("configs")
        if configs is None:
            raise InputError(
                "not an Envoy config dump: no 'configs' list",
                file=source,
                hints=["save one with: curl -s 'localhost:15000/config_dump?include_eds' > dump.json"],
            )
        if isinstance(configs, dict):  # Envoy before 1.7 keyed the sections by name
            configs = list(configs.values())
        if not isinstance(configs, list):
            raise InputError("'configs' must be a list", file=source, field="configs")
        for i, section in enumerate(configs):
            self._index_section(section, f"configs[{i}]")

    # -- indexing -------------------------------------------------------------------------------------------
    def _index_section(self, section: Any, path: str) -> None:
        if not isinstance(section, dict):
            self.warnings.append(f"{path}: not an object; skipped")
            return
        type_url = section.get("@type", "")
        name = v3_type_name(type_url.rpartition("/")[2])
        kind = SECTION_KINDS.get(name)
        if kind is None:
            self.warnings.append(f"{path}: unknown config dump section {type_url!r}; skipped")
            return
        self.sections.append(kind)
        if kind == "bootstrap":
            self.bootstrap_wrapper = section
            self.bootstrap_raw = field(section, "bootstrap") or {}
            return
        add = self._adder(kind, path)
        if kind == "cluster":
            for key, state in (
                ("static_clusters", "static"),
                ("dynamic_active_clusters", "active"),
                ("dynamic_warming_clusters", "warming"),
            ):
                for j, w in enumerate(_as_list(field(section, key))):
                    add(field(w, "cluster"), state, w, f"{key}[{j}].cluster")
        elif kind == "listener":
            for j, w in enumerate(_as_list(field(section, "static_listeners"))):
                add(field(w, "listener"), "static", w, f"static_listeners[{j}].listener")
            for j, w in enumerate(_as_list(field(section, "dynamic_listeners"))):
                for key, state in (
                    ("active_state", "active"),
                    ("warming_state", "warming"),
                    ("draining_state", "draining"),
                ):
                    st = field(w, key)
                    if isinstance(st, dict):
                        add(
                            field(st, "listener"),
                            state,
                            st,
                            f"dynamic_listeners[{j}].{key}.listener",
                            field(w, "name"),
                        )
                err = field(w, "error_state")
                if isinstance(err, dict):
                    self.warnings.append(
                        f"listener {field(w, 'name')!r} was rejected by Envoy: {field(err, 'details', '')}".rstrip(
                            ": "
                        )
                    )
            # v2alpha ListenersConfigDump spelled the states as separate lists
            for key, state in (
                ("dynamic_active_listeners", "active"),
                ("dynamic_warming_listeners", "warming"),
                ("dynamic_draining_listeners", "draining"),
            ):
                for j, w in enumerate(_as_list(field(section, key))):
                    add(field(w, "listener"), state, w, f"{key}[{j}].listener")
        elif kind == "route":
            for key, state in (("dynamic_route_configs", "active"), ("static_route_configs", "static")):
                for j, w in enumerate(_as_list(field(section, key))):
                    add(field(w, "route_config"), state, w, f"{key}[{j}].route_config")
        elif kind == "scoped_route":
            for key, state in (
                ("dynamic_scoped_route_configs", "active"),
                ("inline_scoped_route_configs", "static"),
            ):
                for j, w in enumerate(_as_list(field(section, key))):
                    for k, sr in enumerate(_as_list(field(w, "scoped_route_configs"))):
                        add(sr, state, w, f"{key}[{j}].scoped_route_configs[{k}]")
        elif kind == "endpoint":
            for key, state in (("dynamic_endpoint_configs", "active"), ("static_endpoint_configs", "static")):
                for j, w in enumerate(_as_list(field(section, key))):
                    add(field(w, "endpoint_config"), state, w, f"{key}[{j}].endpoint_config")
        elif kind == "secret":
            for key, state in (
                ("dynamic_warming_secrets", "warming"),
                ("dynamic_active_secrets", "active"),
                ("static_secrets", "static"),
            ):
                for j, w in enumerate(_as_list(field(section, key))):
                    add(field(w, "secret"), state, w, f"{key}[{j}].secret", field(w, "name"))
        elif kind == "ecds":
            for j, w in enumerate(_as_list(field(section, "ecds_filters"))):
                add(field(w, "ecds_filter"), "active", w, f"ecds_filters[{j}].ecds_filter")

    def _adder(self, kind: str, section_path: str) -> Any:
        items = self.items[kind]

        def add(raw: Any, state: str, wrapper: dict[str, Any], rel: str, name: str | None = None) -> None:
            path = f"{section_path}.{rel}"
            if raw is None:
                raw = {}
            if not isinstance(raw, dict):
                self.warnings.append(f"{path}: expected an object; skipped")
                return
            if name is None:
                name = field(raw, "cluster_name") if kind == "endpoint" else field(raw, "name")
            items.append(
                Item(
                    kind,
                    str(name or ""),
                    state,
                    raw,
                    version_info=str(field(wrapper, "version_info", "") or ""),
                    last_updated=str(field(wrapper, "last_updated", "") or ""),
                    path=path,
                    wrapper=wrapper,
                )
            )

        return add

    # -- typed access ---------------------------------------------------------------------------------------
    def of(self, kind: str, states: tuple[str, ...] | None = None) -> list[Item]:
        """Items of a kind (``cluster``, ``listener``, ...), in dump order, optionally only some states."""
        items = self.items[kind]
        return items if states is None else [it for it in items if it.state in states]

    def message(self, item: Item) -> Any:
        """The item as its protobuf message, or None (with a warning) when it cannot be parsed."""
        if item.msg is None:
            item.msg = parse_message(item.raw, RESOURCE_TYPES[item.kind], self, item.path) or False
        return item.msg or None

    def messages(self, kind: str, states: tuple[str, ...] | None = None) -> list[tuple[Item, Any]]:
        """(item, message) pairs of the items that parse; the others are reported in :attr:`warnings`."""
        out = []
        for it in self.of(kind, states):
            m = self.message(it)
            if m is not None:
                out.append((it, m))
        return out

    def bootstrap(self) -> Any:
        """The ``Bootstrap`` message, or None when the dump has no bootstrap section."""
        if self.bootstrap_raw is None:
            return None
        if not hasattr(self, "_bootstrap"):
            self._bootstrap = parse_message(
                self.bootstrap_raw, "envoy.config.bootstrap.v3.Bootstrap", self, "bootstrap"
            )
        return self._bootstrap

    def require(self, kind: str) -> None:
        """Fail like istioctl when a needed section is missing from the dump."""
        if (
            kind == "bootstrap"
            and self.bootstrap_raw is None
            or kind != "bootstrap"
            and kind not in self.sections
        ):
            label = {
                "cluster": "clusters",
                "listener": "listeners",
                "route": "routes",
                "endpoint": "endpoints",
                "secret": "secrets",
            }.get(kind, kind)
            raise InputError(f"config dump has no configuration type {label}", file=self.source)

    def warn_unknown_types(self) -> None:
        if self._unknown:
            names = ", ".join(sorted(self._unknown)[:5]) + (" ..." if len(self._unknown) > 5 else "")
            self.warnings.append(
                f"{len(self._unknown)} unknown extension type(s) kept as opaque values: {names}"
            )
            self._unknown.clear()


def _as_list(v: Any) -> list[Any]:
    return v if isinstance(v, list) else []


def parse_message(raw: dict[str, Any], type_name: str, dump: ConfigDump | None = None, path: str = "") -> Any:
    """JSON object -> protobuf message, tolerating unknown fields and unknown Any types (warnings go to ``dump``)."""
    unknown: set[str] = set() if dump is None else dump._unknown
    body = raw
    t = raw.get("@type") if isinstance(raw, dict) else None
    if isinstance(t, str):
        prefix, _, name = t.rpartition("/")
        new = v3_type_name(name)
        if new != type_name and new in RESOURCE_TYPES.values():
            type_name = new
        body = {k: v for k, v in raw.items() if k != "@type"}
    try:
        prepare_anys(body, unknown)
        cls = message_class(type_name)
        return json_format.ParseDict(body, cls(), ignore_unknown_fields=True)
    except (json_format.ParseError, TypeError, ValueError, KeyError, RecursionError) as e:
        msg = f"{path or type_name}: cannot parse as {type_name.rpartition('.')[2]}: {str(e)[:300]}; skipped"
        if dump is None:
            raise InputError(msg) from e
        dump.warnings.append(msg)
        return None


def loads(data: bytes | str, source: str = "<dump>") -> Any:
    """Decode dump text (JSON, or YAML as ``istioctl pc all -o yaml`` writes it) with errors naming line/column."""
    if isinstance(data, bytes):
        try:
            data = data.decode("utf-8")
        except UnicodeDecodeError as e:
            raise InputError(
                f"not UTF-8 text (byte {e.start}); is this really a config dump?", file=source
            ) from e
    stripped = data.lstrip()
    if not stripped:
        raise InputError("empty input; expected an Envoy config dump (JSON)", file=source)
    if stripped[0] in "{[":
        try:
            return json.loads(data)
        except json.JSONDecodeError as e:
            what = (
                "truncated JSON (unexpected end of input)"
                if _looks_truncated(data, e)
                else f"malformed JSON: {e.msg}"
            )
            raise InputError(f"{what} at column {e.colno}", file=source, line=e.lineno) from e
        except RecursionError as e:
            raise InputError("JSON nested too deeply", file=source) from e
    try:
        import yaml

        loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
        return yaml.load(data, Loader=loader)  # noqa: S506 - safe loader
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        raise InputError(
            f"neither JSON nor YAML: {getattr(e, 'problem', e)}",
            file=source,
            line=(mark.line + 1) if mark else None,
        ) from e


#: Dumps bigger than this are split into sections before decoding, so a view decodes only what it shows.
LAZY_THRESHOLD = 8 << 20

_SECTION_RE = re.compile(
    r'"@type"\s*:\s*"type\.googleapis\.com/envoy\.admin\.v(?:3|2alpha)\.(\w+ConfigDump)"'
)


def _looks_truncated(text: str, e: json.JSONDecodeError) -> bool:
    """A decode error caused by the text ending early (a cut download), rather than by bad syntax."""
    if e.pos >= len(text.rstrip()) - 1:
        return True
    return e.msg.startswith("Unterminated string") and '"' not in text[e.pos + 1 :]


def load_dump(data: bytes | str, source: str = "<dump>", want: set[str] | None = None) -> ConfigDump:
    """Parse ``/config_dump`` text into a :class:`ConfigDump`.

    ``want`` names the resource kinds the caller needs (``cluster``, ``bootstrap``...). For big dumps only
    those sections are decoded: a 100 MB dump that is mostly EDS answers ``pc cluster`` in well under a second.
    """
    if want is not None and len(data) > LAZY_THRESHOLD:
        text = data.decode("utf-8", errors="replace") if isinstance(data, bytes) else data
        split = _split_sections(text)
        if split is not None:
            return _lazy_dump(text, split, source, want)
    return ConfigDump(loads(data, source), source)


def _split_sections(text: str) -> list[tuple[str, int, int]] | None:
    """(section message name, start, end) of each top-level section, found without decoding the JSON.

    Relies on Envoy writing ``@type`` first in every section; returns None (decode everything) otherwise.
    """
    starts: list[tuple[str, int]] = []
    for m in _SECTION_RE.finditer(text):
        brace = text.rfind("{", 0, m.start())
        if brace < 0 or text[brace + 1 : m.start()].strip():
            return None
        starts.append((m.group(1), brace))
    if not starts or not text.lstrip().startswith("{"):
        return None
    out = []
    for i, (name, b) in enumerate(starts):
        end = starts[i + 1][1] if i + 1 < len(starts) else len(text)
        out.append((name, b, end))
    return out


def _lazy_dump(text: str, split: list[tuple[str, int, int]], source: str, want: set[str]) -> ConfigDump:
    configs: list[Any] = []
    warnings = []
    for i, (name, start, end) in enumerate(split):
        kind = SECTION_KINDS.get(ADMIN + name) or SECTION_KINDS.get(
            v3_type_name("envoy.admin.v2alpha." + name), ""
        )
        chunk = text[start:end].rstrip()
        last = i == len(split) - 1
        if last:
            # the last section is followed by "]" and "}" closing configs and the document
            tail = chunk.rstrip()
            ok_tail = tail.endswith("}") and tail[:-1].rstrip().endswith("]")
            chunk = tail[:-1].rstrip()[:-1] if ok_tail else tail
            if not ok_tail:
                warnings.append("the dump looks truncated: it does not end with ']}'")
        elif chunk.endswith(","):
            chunk = chunk[:-1]
        if kind not in want:
            configs.append({"@type": f"type.googleapis.com/envoy.admin.v3.{name}"} if kind else None)
            continue
        if last and warnings:  # the section we need is the one cut short: say so without decoding it
            raise InputError(
                f"truncated JSON: the dump ends inside the {name} section",
                file=source,
                line=text.count("\n") + 1,
            )
        try:
            configs.append(json.loads(chunk))
        except json.JSONDecodeError as e:
            line = text.count("\n", 0, start) + e.lineno
            if last and not warnings:
                warnings.append("the dump looks truncated")
            what = "truncated" if _looks_truncated(chunk, e) else "malformed"
            raise InputError(f"{what} JSON in the {name} section: {e.msg}", file=source, line=line) from e
    dump = ConfigDump({"configs": [c for c in configs if c is not None]}, source)
    dump.warnings += warnings
    return dump


def read_dump_file(path: str) -> ConfigDump:
    """A dump from a file, or ``-`` for stdin."""
    return load_dump(read_input(path), "<stdin>" if path == "-" else path)


def read_input(path: str) -> bytes:
    """Bytes of a file or stdin, with a clear error when it cannot be read."""
    import sys

    if path == "-":
        return sys.stdin.buffer.read() if hasattr(sys.stdin, "buffer") else sys.stdin.read().encode()
    try:
        with open(path, "rb") as fh:
            return fh.read()
    except FileNotFoundError as e:
        raise InputError("no such file", file=path) from e
    except IsADirectoryError as e:
        raise InputError("is a directory, expected a config dump file", file=path) from e
    except OSError as e:
        raise InputError(f"cannot read: {e.strerror}", file=path) from e


class GoStruct(dict):  # type: ignore[type-arg]
    """A JSON object that was a ``google.protobuf.Struct`` (golang/protobuf jsonpb indents those oddly)."""


def to_json_dict(msg: Any, *, mark_structs: bool = False) -> Any:
    """A message as istioctl's jsonpb prints it: lowerCamelCase names, field-number order, defaults omitted,
    map entries (and Struct fields) sorted by key as Go does. ``mark_structs`` wraps Struct values in
    :class:`GoStruct` so a writer can reproduce jsonpb's indentation of them."""
    d = json_format.MessageToDict(msg, preserving_proto_field_name=False)
    _sort_maps(msg, d, mark_structs)
    return d


def _sort_all(v: Any) -> Any:
    if isinstance(v, dict):
        return {k: _sort_all(v[k]) for k in sorted(v)}
    if isinstance(v, list):
        return [_sort_all(x) for x in v]
    return v


_STRUCTS = ("google.protobuf.Struct", "google.protobuf.Value", "google.protobuf.ListValue")


def _sort_maps(msg: Any, d: Any, mark: bool = False) -> None:
    """Walk ``msg`` and its JSON ``d`` together, sorting the keys of every map (Go's jsonpb order)."""
    if not isinstance(d, dict):
        return
    desc = msg.DESCRIPTOR
    if desc.full_name == "google.protobuf.Any":
        try:
            inner = message_class(msg.type_url.rpartition("/")[2])()
            inner.ParseFromString(msg.value)
        except Exception:
            return
        if inner.DESCRIPTOR.full_name in _STRUCTS and "value" in d:
            d["value"] = _sort_all(d["value"])
        else:
            _sort_maps(inner, d, mark)
        return
    for fd, value in msg.ListFields():
        key = fd.json_name
        if key not in d:
            continue
        if fd.message_type is not None and fd.message_type.GetOptions().map_entry:
            vfd = fd.message_type.fields_by_name["value"]
            sub = d[key]
            if vfd.message_type is not None:
                if vfd.message_type.full_name in _STRUCTS:
                    wrap = (
                        GoStruct if mark and vfd.message_type.full_name == "google.protobuf.Struct" else dict
                    )
                    d[key] = {
                        k: wrap(_sort_all(sub[k])) if isinstance(sub[k], dict) else _sort_all(sub[k])
                        for k in sorted(sub)
                    }
                    continue
                for k in sub:
                    _sort_maps(value[_map_key(fd, k)], sub[k], mark)
            d[key] = {k: sub[k] for k in sorted(sub)}
        elif fd.message_type is not None:
            if fd.message_type.full_name in _STRUCTS:
                d[key] = _sort_all(d[key])
                if mark and fd.message_type.full_name == "google.protobuf.Struct" and not fd.is_repeated:
                    d[key] = GoStruct(d[key])
            elif fd.is_repeated:
                for m, sub in zip(value, d[key], strict=False):
                    _sort_maps(m, sub, mark)
            else:
                _sort_maps(value, d[key], mark)


def _map_key(fd: Any, k: str) -> Any:
    kfd = fd.message_type.fields_by_name["key"]
    if kfd.type == kfd.TYPE_BOOL:
        return k == "true"
    if kfd.type != kfd.TYPE_STRING:
        return int(k)
    return k


def to_envoy_dict(msg: Any) -> Any:
    """A message as Envoy's own admin prints it (snake_case names)."""
    return json_format.MessageToDict(msg, preserving_proto_field_name=True)
