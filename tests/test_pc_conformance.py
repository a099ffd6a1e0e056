"""istioctl's own golden pairs (../shared/conformance/istio-proxyconfig): same argv, same output.

Text is compared byte for byte where we match exactly and at least row by row (blank runs folded) for every
case; JSON/YAML as data. Skips cleanly when ../shared is absent.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from conftest import SHARED

INDEX = SHARED / "conformance" / "istio-proxyconfig" / "index.json"


def _cases() -> list[dict[str, Any]]:
    if not INDEX.is_file():
        return []
    return [c for c in json.loads(INDEX.read_text())["cases"] if c["suite"] == "proxy-config" and c["argv"]]


def _fold(text: str) -> list[str]:
    return [re.sub(r"\s+", " ", line).strip() for line in text.strip().splitlines() if line.strip()]


def _argv(case: dict[str, Any], root: Path) -> list[str]:
    out = []
    for tok in case["argv"]:
        m = re.fullmatch(r"\{input:(.+)\}", tok)
        out.append(str(root / case["inputs"][m.group(1)]["path"]) if m else tok)
    return out


@pytest.mark.parametrize("case", _cases(), ids=lambda c: c["id"])
def test_istioctl_golden_pair(case: dict[str, Any], shared_dir: Path, cli: Any) -> None:
    root = shared_dir / "conformance" / "istio-proxyconfig"
    code, out, err = cli(_argv(case, root))
    assert code == 0, err
    expected = (root / case["expected"]["path"]).read_text()
    fmt = case.get("flags", {}).get("output", "short")
    if fmt == "json":
        assert json.loads(out) == json.loads(expected)
    elif fmt == "yaml":
        assert yaml.safe_load(out) == yaml.safe_load(expected)
    else:
        assert _fold(out) == _fold(expected)


EXACT = [
    "pc-bootstrap-summary",
    "pc-routes-summary-empty-gateway",
    "pc-routes-summary-istio-gateway-http-route-prefix",
    "pc-secret-summary-istio",
    "pc-ecds-short",
    "pc-eds-emptyfilter-short",
    "pc-eds-portfilter-json",
    "pc-eds-emptyfilter-json",
    "pc-eds-emptyfilter-yaml",
    "pc-eds-portfilter-yaml",
    "pc-ecds-yaml",
    "pc-ecds-json",
    "pc-bootstrap-dump-json",
]


@pytest.mark.parametrize("case_id", EXACT)
def test_byte_exact(case_id: str, shared_dir: Path, cli: Any) -> None:
    root = shared_dir / "conformance" / "istio-proxyconfig"
    case = next(c for c in _cases() if c["id"] == case_id)
    code, out, _ = cli(_argv(case, root))
    assert code == 0
    assert out == (root / case["expected"]["path"]).read_text()


def test_route_domains_function_table(shared_dir: Path) -> None:
    from meshctl.envoy.views.route import describe_route_domains

    table = json.loads(
        (shared_dir / "conformance/istio-proxyconfig/cases/fn-describe-route-domains/cases.json").read_text()
    )
    for row in table:
        assert describe_route_domains(row["domains"]) == row["expected"], row["desc"]
