"""Helpers shared by the proxy-config views: Istio naming conventions and Go-compatible output details."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

import yaml

from meshctl.envoy.dump import to_json_dict

T = TypeVar("T")


@dataclass
class Table:
    """A short-output table plus the tabwriter settings istioctl uses for it."""

    headers: list[str]
    rows: list[list[Any]]
    minwidth: int = 0
    tabwidth: int = 8
    padding: int = 5


def parse_subset_key(name: str) -> tuple[str, int, str, str]:
    """``outbound|9080|v1|reviews.default.svc.cluster.local`` -> (direction, port, subset, hostname).

    Like Istio's ``model.ParseSubsetKey``: a non-numeric port parses as 0; fewer than 4 parts gives empties.
    """
    parts = name.split("|")
    if len(parts) < 4:
        return "", 0, "", ""
    try:
        port = int(parts[1])
    except ValueError:
        port = 0
    return parts[0], port, parts[2], parts[3]


def cluster_sort_key(name: str) -> tuple[str, str, int, str]:
    """istioctl's cluster order: (hostname, subset, port, direction); other names sort by the whole name."""
    if len(name.split("|")) > 3:
        direction, port, subset, host = parse_subset_key(name)
        return host, subset, port, direction
    return name, "", 0, ""


def istio_config_path(metadata: Any) -> str:
    """``filter_metadata.istio.config`` of a Metadata message (the Istio config that produced a resource)."""
    if metadata is None:
        return ""
    fm = metadata.filter_metadata
    if "istio" not in fm:
        return ""
    v = fm["istio"].fields.get("config")
    return v.string_value if v is not None else ""


def render_config(path: str) -> str:
    """``/apis/networking.istio.io/v1/namespaces/NS/virtual-service/NAME`` -> ``NAME.NS`` (istioctl's rendering)."""
    if not path:
        return ""
    if path.startswith("/apis/networking.istio.io/") and "/namespaces/" in path:
        pieces = path.split("/")
        if len(pieces) != 8:
            return ""
        return f"{pieces[7]}.{pieces[5]}"
    return "<unknown>"


def config_ref(path: str) -> tuple[str, str, str] | None:
    """``/apis/networking.istio.io/v1/namespaces/NS/destination-rule/NAME`` -> (kind, namespace, name)."""
    pieces = path.split("/")
    if len(pieces) == 8 and pieces[1] == "apis" and pieces[4] == "namespaces":
        kind = "".join(p.capitalize() for p in pieces[6].split("-"))
        return kind, pieces[5], pieces[7]
    return None


def go_insertion_sorted(items: Sequence[T], less: Callable[[T, T], bool]) -> list[T]:
    """Go's ``sort.Slice`` for short slices (insertion sort), which matters when ``less`` is not a total order."""
    out = list(items)
    for i in range(1, len(out)):
        j = i
        while j > 0 and less(out[j], out[j - 1]):
            out[j], out[j - 1] = out[j - 1], out[j]
            j -= 1
    return out


def go_json(data: Any) -> str:
    """JSON as Go's ``json.MarshalIndent(v, "", "    ")`` writes it (4 spaces, HTML-escaped ``<>&``)."""
    text = json.dumps(data, indent=4, ensure_ascii=False)
    return (
        text.replace("<", "\\u003c")
        .replace(">", "\\u003e")
        .replace("&", "\\u0026")
        .replace("\u2028", "\\u2028")
        .replace("\u2029", "\\u2029")
    )


def go_jsonpb(data: Any) -> str:
    """JSON as golang/protobuf ``jsonpb.Marshaler{Indent: "    "}`` writes it, including its quirk: a
    ``google.protobuf.Struct`` value (marked :class:`~meshctl.envoy.dump.GoStruct`) is rendered one level too
    deep, with its closing brace misaligned (istioctl's ``bootstrap -o json`` shows it)."""
    from meshctl.envoy.dump import GoStruct

    def esc(text: str) -> str:
        return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")

    def emit(v: Any, level: int) -> str:
        pad, inner = "    " * level, "    " * (level + 1)
        if isinstance(v, GoStruct):
            return esc(json.dumps(v, indent=4, ensure_ascii=False)).replace("\n", "\n" + "    " * (level + 1))
        if isinstance(v, dict):
            if not v:
                return "{}"
            items = [
                f"{inner}{esc(json.dumps(k, ensure_ascii=False))}: {emit(x, level + 1)}" for k, x in v.items()
            ]
            return "{\n" + ",\n".join(items) + "\n" + pad + "}"
        if isinstance(v, list):
            if not v:
                return "[]"
            return "[\n" + ",\n".join(inner + emit(x, level + 1) for x in v) + "\n" + pad + "]"
        return esc(json.dumps(v, ensure_ascii=False))

    return emit(data, 0)


def go_yaml(data: Any) -> str:
    """YAML as ``sigs.k8s.io/yaml.JSONToYAML`` writes it: keys sorted, 2-space indent, unindented lists, and
    double quotes where quoting is needed (go-yaml never uses single quotes)."""
    data = json.loads(json.dumps(data))  # plain dicts/lists only
    return yaml.dump(
        data, Dumper=_GoDumper, sort_keys=True, default_flow_style=False, allow_unicode=True, width=1 << 20
    )


class _GoDumper(yaml.SafeDumper):
    """go-yaml's quoting: double quotes for strings that would read back as another type ("1605", dates),
    single quotes for other strings that cannot be plain ('@type')."""

    def represent_str(self, data: str) -> yaml.ScalarNode:
        if self.resolve(yaml.ScalarNode, data, (True, False)) != "tag:yaml.org,2002:str":
            return self.represent_scalar("tag:yaml.org,2002:str", data, style='"')
        return super().represent_str(data)


_GoDumper.add_representer(str, _GoDumper.represent_str)


def messages_json(msgs: Sequence[Any]) -> list[Any]:
    """Protobuf messages as the JSON list istioctl prints for ``-o json``."""
    return [to_json_dict(m) for m in msgs]
