"""Render analysis messages: istioctl text, JSON/YAML objects, SARIF 2.1.0 and GitHub workflow annotations."""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from typing import Any

from meshctl import __version__
from meshctl.analyze.message import Message
from meshctl.analyze.messages import CATALOG, Level

FORMATS = ("text", "json", "yaml", "sarif", "github")
SARIF_SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"
_SARIF_LEVEL = {Level.ERROR: "error", Level.WARNING: "warning", Level.INFO: "note"}
_GITHUB_CMD = {Level.ERROR: "error", Level.WARNING: "warning", Level.INFO: "notice"}


def to_text(messages: Sequence[Message]) -> str:
    return "".join(m.render() + "\n" for m in messages)


def to_dicts(messages: Sequence[Message]) -> list[dict[str, Any]]:
    return [m.to_dict() for m in messages]


def _uri(path: str) -> str:
    """A repository-relative URI when the file is under the current directory (what code scanning wants)."""
    if path in ("<stdin>", "-"):
        return "stdin"
    rel = os.path.relpath(path) if os.path.isabs(path) else path
    if rel.startswith(".."):
        rel = os.path.abspath(path)
    return rel.replace(os.sep, "/").removeprefix("./")


def to_sarif(messages: Sequence[Message]) -> dict[str, Any]:
    """A SARIF 2.1.0 log with one rule per code used, results pointing at file and line."""
    codes = sorted({m.code for m in messages})
    rules = []
    for code in codes:
        mt = CATALOG[code]
        rule: dict[str, Any] = {
            "id": code,
            "name": mt.name,
            "shortDescription": {"text": mt.name},
            "fullDescription": {"text": mt.description or mt.template},
            "defaultConfiguration": {"level": _SARIF_LEVEL[mt.level]},
            "properties": {"tags": ["istio", "service-mesh"]},
        }
        if mt.doc_url:
            if "://" in mt.doc_url:  # SARIF wants an absolute URI; meshctl's own codes point at docs/analyze.md
                rule["helpUri"] = mt.doc_url
                rule["help"] = {"text": f"{mt.description or mt.name} See {mt.doc_url}"}
            else:
                rule["help"] = {"text": f"{mt.description or mt.name} See {mt.doc_url} in the meshctl sources."}
        rules.append(rule)
    index = {c: i for i, c in enumerate(codes)}
    results = []
    for m in messages:
        r: dict[str, Any] = {
            "ruleId": m.code,
            "ruleIndex": index[m.code],
            "level": _SARIF_LEVEL[m.level],
            "message": {"text": f"{m.text} ({m.origin})" if m.origin else m.text},
        }
        if m.file:
            region = {"startLine": m.line} if m.line else None
            loc: dict[str, Any] = {"physicalLocation": {"artifactLocation": {"uri": _uri(m.file)}}}
            if region:
                loc["physicalLocation"]["region"] = region
            if m.origin:
                loc["logicalLocations"] = [{"name": m.name or "", "fullyQualifiedName": m.origin, "kind": "resource"}]
            r["locations"] = [loc]
        fp = f"{m.code}:{m.origin}:{m.text}"
        r["partialFingerprints"] = {"meshctlMessage/v1": fp}
        results.append(r)
    return {
        "$schema": SARIF_SCHEMA,
        "version": "2.1.0",
        "runs": [
            {
                "tool": {
                    "driver": {
                        "name": "meshctl",
                        "version": __version__,
                        "informationUri": "https://istio.io/latest/docs/reference/config/analysis/",
                        "rules": rules,
                    }
                },
                "results": results,
            }
        ],
    }


def _gh_escape_data(s: str) -> str:
    return s.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _gh_escape_prop(s: str) -> str:
    return _gh_escape_data(s).replace(":", "%3A").replace(",", "%2C")


def to_github(messages: Sequence[Message]) -> str:
    """GitHub Actions workflow commands: ``::error file=F,line=N,title=IST0101::text``."""
    lines = []
    for m in messages:
        props = []
        if m.file:
            props.append(f"file={_gh_escape_prop(_uri(m.file))}")
            if m.line:
                props.append(f"line={m.line}")
        props.append(f"title={_gh_escape_prop(f'{m.code} {m.type.name}')}")
        text = f"[{m.code}] ({m.origin}) {m.text}" if m.origin else f"[{m.code}] {m.text}"
        lines.append(f"::{_GITHUB_CMD[m.level]} {','.join(props)}::{_gh_escape_data(text)}\n")
    return "".join(lines)


def render(messages: Sequence[Message], fmt: str) -> str:
    if fmt == "text":
        return to_text(messages)
    if fmt == "json":
        # one message per line: valid JSON, diff-friendly, and the C encoder (indent= forces the slow one)
        items = [json.dumps(d, ensure_ascii=False) for d in to_dicts(messages)]
        return "[\n" + ",\n".join(items) + "\n]\n" if items else "[]\n"
    if fmt == "yaml":
        import yaml

        return yaml.safe_dump(to_dicts(messages), sort_keys=False, allow_unicode=True)
    if fmt == "sarif":
        return json.dumps(to_sarif(messages), indent=2, ensure_ascii=False) + "\n"
    if fmt == "github":
        return to_github(messages)
    raise ValueError(f"unknown format {fmt}")
