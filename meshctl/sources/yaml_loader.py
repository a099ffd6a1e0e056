"""Load Kubernetes/Istio YAML or JSON from files, directories and stdin, keeping file and line of everything.

Safe loading only (libyaml's CSafeLoader when available). Multi-document files, ``kind: List`` and JSON are
supported. Problems become :class:`~meshctl.errors.InputError` naming file, line and field; nothing is
silently dropped (duplicate keys, documents without ``kind`` and non-mapping documents are errors).
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Iterable, Iterator
from typing import Any

import yaml

from meshctl.errors import ErrorList, InputError, MeshctlError
from meshctl.sources.lines import LDict, LList
from meshctl.sources.resource import CLUSTER_SCOPED_KINDS, Resource

try:
    _BaseLoader: type = yaml.CSafeLoader
except AttributeError:  # pragma: no cover - libyaml missing
    _BaseLoader = yaml.SafeLoader

YAML_SUFFIXES = (".yaml", ".yml", ".json")
STDIN = "-"


class _LineLoader(_BaseLoader):  # type: ignore[misc,valid-type]
    """CSafeLoader whose mappings and sequences remember line numbers (1-based)."""


_STR_TAG = "tag:yaml.org,2002:str"


def _value(loader: _LineLoader, node: yaml.Node) -> Any:
    # Fast path: a plain string scalar (most of every manifest) is its own value; PyYAML's generic
    # construct_object would only look it up in its caches and call construct_scalar. Scalars are immutable,
    # so skipping the alias cache changes nothing.
    if node.tag == _STR_TAG and isinstance(node, yaml.ScalarNode):
        return node.value
    return loader.construct_object(node, deep=True)


def _construct_mapping(loader: _LineLoader, node: yaml.MappingNode) -> Iterator[LDict]:
    data = LDict()
    data.line = node.start_mark.line + 1
    yield data
    explicit = sum(1 for k, _ in node.value if k.tag != "tag:yaml.org,2002:merge")
    loader.flatten_mapping(node)
    merged = len(node.value) - explicit  # flatten_mapping puts `<<:` pairs first; explicit keys override them
    from_merge: set[Any] = set()
    for i, (key_node, value_node) in enumerate(node.value):
        key = _value(loader, key_node)
        try:
            hash(key)
        except TypeError:
            raise yaml.constructor.ConstructorError(
                "while constructing a mapping", node.start_mark, "found an unhashable key", key_node.start_mark
            ) from None
        if i < merged:
            from_merge.add(key)
        else:
            if key in data and key not in from_merge:
                raise yaml.constructor.ConstructorError(
                    "while constructing a mapping",
                    node.start_mark,
                    f"found duplicate key {key!r} (first defined on line {data.key_lines.get(key)})",
                    key_node.start_mark,
                )
            from_merge.discard(key)  # a second explicit definition is a duplicate again
        data[key] = _value(loader, value_node)
        data.key_lines[key] = key_node.start_mark.line + 1


def _construct_sequence(loader: _LineLoader, node: yaml.SequenceNode) -> Iterator[LList]:
    data = LList()
    data.line = node.start_mark.line + 1
    yield data
    for child in node.value:
        data.append(_value(loader, child))
        data.item_lines.append(child.start_mark.line + 1)


_LineLoader.add_constructor("tag:yaml.org,2002:map", _construct_mapping)
_LineLoader.add_constructor("tag:yaml.org,2002:seq", _construct_sequence)
# Kubernetes YAML is YAML 1.2-ish: timestamps stay strings (creationTimestamp compares as text).
_LineLoader.add_constructor("tag:yaml.org,2002:timestamp", _LineLoader.construct_yaml_str)


def parse_documents(text: str, filename: str) -> list[Any]:
    """All YAML documents of ``text`` (None for empty ones), or an InputError at the failing line."""
    try:
        return list(yaml.load_all(text, Loader=_LineLoader))
    except yaml.MarkedYAMLError as e:
        mark = e.problem_mark or e.context_mark
        line = mark.line + 1 if mark else None
        problem = e.problem or "invalid YAML"
        if e.context and "duplicate" not in problem:
            problem = f"{e.context}: {problem}"
            # The parser notices some mistakes only lines later (an unclosed [ or quote): name where the
            # construct it was reading started, which is where the user has to look.
            start = e.context_mark.line + 1 if e.context_mark else None
            what = e.context.split(" ", 2)[-1].removeprefix("a ").removeprefix("an ")  # "flow sequence"
            unclosed = what.startswith(("flow ", "quoted "))
            if unclosed and start is not None and line is not None and start != line:
                problem += f" (the {what} opened on line {start} is not closed)"
        if filename.endswith(".json"):
            return [_parse_json(text, filename)]
        raise InputError(f"invalid YAML: {problem}", file=filename, line=line) from None
    except yaml.YAMLError as e:
        raise InputError(f"invalid YAML: {e}", file=filename) from None
    except RecursionError:
        raise InputError("invalid YAML: nesting too deep", file=filename) from None


def _parse_json(text: str, filename: str) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError as e:
        raise InputError(f"invalid JSON: {e.msg}", file=filename, line=e.lineno) from None


def _str_field(doc: dict[str, Any], path: tuple[str, ...]) -> Any:
    cur: Any = doc
    for p in path:
        if not isinstance(cur, dict):
            return None
        cur = cur.get(p)
    return cur


def documents_to_resources(
    docs: Iterable[Any],
    filename: str,
    *,
    default_namespace: str = "default",
    start_index: int = 0,
    origin: str = "file",
) -> list[Resource]:
    """Turn parsed documents into resources; ``kind: List`` is expanded. Collects all errors of the file."""
    out: list[Resource] = []
    errors: list[MeshctlError] = []
    index = start_index

    def one(doc: Any, where: str) -> None:
        nonlocal index
        line = getattr(doc, "line", None)
        if not isinstance(doc, dict):
            errors.append(
                InputError(f"expected a mapping with apiVersion and kind, got {type(doc).__name__}", file=filename, line=line, field=where or None)
            )
            return
        kind = doc.get("kind")
        api_version = doc.get("apiVersion")
        if isinstance(kind, str) and kind.endswith("List") and isinstance(doc.get("items"), list):
            items = doc["items"]
            for i, item in enumerate(items):
                one(item, f"{where + '.' if where else ''}items[{i}]")
            return
        pre = f"{where}." if where else ""
        if not isinstance(kind, str) or not kind:
            errors.append(InputError("missing or invalid 'kind'", file=filename, line=line, field=f"{pre}kind"))
            return
        if not isinstance(api_version, str) or not api_version:
            errors.append(InputError(f"{kind}: missing or invalid 'apiVersion'", file=filename, line=line, field=f"{pre}apiVersion"))
            return
        md = doc.get("metadata")
        if md is None:
            md = {}
        if not isinstance(md, dict):
            errors.append(InputError(f"{kind}: metadata must be a mapping", file=filename, line=line, field=f"{pre}metadata"))
            return
        name = md.get("name") or md.get("generateName")
        if not isinstance(name, str) or not name:
            errors.append(InputError(f"{kind}: missing metadata.name", file=filename, line=line, field=f"{pre}metadata.name"))
            return
        ns = md.get("namespace")
        if ns is not None and not isinstance(ns, str):
            errors.append(InputError(f"{kind} {name}: metadata.namespace must be a string", file=filename, line=line, field=f"{pre}metadata.namespace"))
            return
        explicit = bool(ns)
        if kind in CLUSTER_SCOPED_KINDS:
            eff_ns = None
        else:
            eff_ns = ns or default_namespace
        out.append(
            Resource(
                api_version=api_version,
                kind=kind,
                name=name,
                namespace=eff_ns,
                obj=doc,
                file=filename,
                line=line,
                index=index,
                namespace_explicit=explicit,
                origin=origin,
            )
        )
        index += 1

    for doc in docs:
        if doc is None:
            continue
        one(doc, "")
    if errors:
        if len(errors) == 1:
            raise errors[0]
        raise ErrorList(errors)
    return out


def load_text(text: str, filename: str = "<stdin>", *, default_namespace: str = "default", start_index: int = 0) -> list[Resource]:
    """Load resources from a string (a file's content or stdin)."""
    docs = parse_documents(text, filename)
    return documents_to_resources(docs, filename, default_namespace=default_namespace, start_index=start_index)


def expand_paths(paths: Iterable[str]) -> list[str]:
    """Files named by ``paths``: files as given, directories recursively (YAML/JSON only, sorted), ``-`` kept."""
    out: list[str] = []
    for p in paths:
        if p == STDIN:
            out.append(p)
            continue
        if os.path.isdir(p):
            found = []
            for root, dirs, files in os.walk(p):
                dirs[:] = sorted(d for d in dirs if not d.startswith("."))
                for f in files:
                    if f.endswith(YAML_SUFFIXES) and not f.startswith("."):
                        found.append(os.path.join(root, f))
            out.extend(sorted(found))
        elif os.path.exists(p):
            out.append(p)
        else:
            raise InputError("no such file or directory", file=p)
    return out


def read_file(path: str) -> str:
    """The text of ``path`` (``-`` = stdin), with clear errors for unreadable or binary files."""
    if path == STDIN:
        return sys.stdin.read()
    try:
        with open(path, "rb") as fh:
            data = fh.read()
    except OSError as e:
        raise InputError(f"cannot read: {e.strerror}", file=path) from None
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        raise InputError(f"not UTF-8 text (byte {e.start})", file=path) from None


def load_paths(paths: Iterable[str], *, default_namespace: str = "default") -> list[Resource]:
    """Load every resource from ``paths`` (files, directories, ``-``). All files' errors are reported together."""
    resources: list[Resource] = []
    errors: list[MeshctlError] = []
    files: list[str] = []
    for p in paths:
        try:
            files.extend(expand_paths([p]))
        except MeshctlError as e:
            errors.append(e)
    for path in files:
        name = "<stdin>" if path == STDIN else path
        try:
            text = read_file(path)
            resources.extend(load_text(text, name, default_namespace=default_namespace, start_index=len(resources)))
        except ErrorList as e:
            errors.extend(e.errors)
        except MeshctlError as e:
            errors.append(e)
    if errors:
        if len(errors) == 1:
            raise errors[0]
        raise ErrorList(errors)
    return resources
