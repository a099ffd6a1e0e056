"""Robustness: the bookinfo example with one field (anywhere: Kubernetes or Istio kinds) replaced by a random YAML
value must either translate for every proxy or fail with a MeshctlError (file:line: field, exit 65/64) --
never another exception, which the CLI would report as "Internal error" (exit 70).

Also the typed checks of the Kubernetes fields the model reads (QA issue 2 #1 reproductions)."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
from conftest import BOOKINFO
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from meshctl.errors import ErrorList, MeshctlError
from meshctl.model import build_mesh
from meshctl.sources.yaml_loader import documents_to_resources, parse_documents
from meshctl.translate import translate

FILES = sorted(BOOKINFO.glob("*.yaml"))
DOCS = {f.name: parse_documents(f.read_text(), f.name) for f in FILES}


def _paths(node: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out = [prefix] if prefix else []
    if isinstance(node, dict):
        for k, v in node.items():
            out += _paths(v, (*prefix, k))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            out += _paths(v, (*prefix, i))
    return out


#: (file, document index, path inside the document) of every field and list item of bookinfo
TARGETS = [
    (name, i, p)
    for name, docs in DOCS.items()
    for i, d in enumerate(docs)
    if d is not None
    for p in _paths(d)
    if p[0] not in ("apiVersion", "kind")  # an unknown kind is simply not read: nothing to learn
]

VALUES = st.one_of(
    st.text(max_size=6),
    st.sampled_from(["*", "", "-1", "80", "None", "http", "a.b", "1s"]),
    st.integers(min_value=-(2**40), max_value=2**40),
    st.sampled_from([-1, 0, 1, 65536, 2**63]),
    st.floats(allow_nan=False, allow_infinity=False),
    st.none(),
    st.booleans(),
    st.dictionaries(
        st.sampled_from(["a", "name", "port"]), st.integers(-2, 2) | st.text(max_size=2), max_size=2
    ),
    st.lists(st.integers(-1, 1) | st.text(max_size=2), max_size=2),
)


def _mutated(target: tuple[str, int, tuple[Any, ...]], value: Any) -> list[Any]:
    name, index, path = target
    resources = []
    for fname, docs in DOCS.items():
        docs = copy.deepcopy(docs)
        if fname == name:
            node = docs[index]
            for p in path[:-1]:
                node = node[p]
            node[path[-1]] = value
        resources += documents_to_resources(docs, fname, start_index=len(resources))
    return resources


def _translate_all(resources: list[Any]) -> None:
    mesh = build_mesh(resources)
    for proxy in mesh.proxies():
        translate(mesh, proxy)


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(target=st.sampled_from(TARGETS), value=VALUES)
def test_one_mutated_field_translates_or_is_an_input_error(
    target: tuple[str, int, tuple[Any, ...]], value: Any
) -> None:
    try:
        _translate_all(_mutated(target, value))
    except MeshctlError as e:
        errors = e.errors if isinstance(e, ErrorList) else [e]
        assert all(x.file for x in errors), e  # an input error names where it is


@pytest.mark.parametrize(
    ("name", "kind_name", "path", "value", "field", "message"),
    [
        (
            "platform.yaml",
            "reviews-v2",
            ("spec", "template", "spec", "containers", 0, "ports", 0, "containerPort"),
            "*",
            "spec.template.spec.containers[0].ports[0].containerPort",
            "must be an integer",
        ),
        (
            "gateway.yaml",
            "istio-ingressgateway",
            ("spec", "template", "spec", "containers", 0, "ports", 0, "containerPort"),
            {"a": 1},
            "spec.template.spec.containers[0].ports[0].containerPort",
            "must be an integer",
        ),
        (
            "platform.yaml",
            "ratings",
            ("spec", "ports", 0, "targetPort"),
            {},
            "spec.ports[0].targetPort",
            "must be a port number (1-65535) or a port name",
        ),
        (
            "platform.yaml",
            "reviews",
            ("spec", "ports", 0, "targetPort"),
            -1,
            "spec.ports[0].targetPort",
            "must be a port number (1-65535) or a port name",
        ),
        ("platform.yaml", "details", ("spec", "selector"), ["a"], "spec.selector", "must be a mapping"),
        (
            "platform.yaml",
            "details",
            ("spec", "ports", 0, "port"),
            70000,
            "spec.ports[0].port",
            "port number must be between 1 and 65535",
        ),
        (
            "platform.yaml",
            "details",
            ("metadata", "labels", "app"),
            5,
            "metadata.labels.app",
            "must be a string",
        ),
        ("platform.yaml", "details", ("spec", "clusterIPs"), "10.0.0.1", "spec.clusterIPs", "must be a list"),
        (
            "platform.yaml",
            "details",
            ("metadata", "annotations"),
            "0",
            "metadata.annotations",
            "must be a mapping",
        ),
    ],
)
def test_wrongly_typed_kubernetes_field_is_an_input_error(
    name: str, kind_name: str, path: tuple[Any, ...], value: Any, field: str, message: str
) -> None:
    kind = "Deployment" if "template" in path else "Service"
    index = next(
        i for i, d in enumerate(DOCS[name]) if d and (d["kind"], d["metadata"]["name"]) == (kind, kind_name)
    )
    with pytest.raises(MeshctlError) as exc:
        _translate_all(_mutated((name, index, path), value))
    e = exc.value
    assert (e.field, e.message, e.exit_code) == (field, message, 65)
    assert e.file == name and e.line is not None


def test_cli_names_file_line_field(cli: Any, tmp_path: Path) -> None:
    work = tmp_path / "bi"
    work.mkdir()
    for f in FILES:
        (work / f.name).write_text(f.read_text())
    p = work / "platform.yaml"
    text = p.read_text()
    p.write_text(text.replace("selector: {app: details}", "selector: [a]"))
    line = next(i + 1 for i, s in enumerate(p.read_text().splitlines()) if "selector: [a]" in s)
    for args in (["translate", "--proxy", "deploy/productpage-v1"], ["x", "model"]):
        code, out, err = cli([*args, "-f", str(work)])
        assert code == 65, err
        assert f"platform.yaml:{line}: spec.selector: must be a mapping" in err
        assert "Internal error" not in err


def test_out_of_range_istio_numbers_are_input_errors(tmp_path: Path) -> None:
    """Values protobuf cannot hold, or Istio's validation rejects, fail in the model, not in the translator."""
    f = tmp_path / "vs.yaml"
    f.write_text(
        """apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: r, namespace: default}
spec:
  hosts: [ratings]
  http:
  - fault:
      abort: {httpStatus: -1, percentage: {value: 50}}
      delay: {fixedDelay: 1s, percentage: {value: 101}}
    retries: {attempts: -3}
    route:
    - destination: {host: ratings}
      weight: -1
    - destination: {host: ratings}
      weight: 4294967297
"""
    )
    from meshctl.sources import load_paths

    with pytest.raises(ErrorList) as exc:
        build_mesh(load_paths([str(f)]))
    got = {(e.line, e.field, e.message) for e in exc.value.errors}
    assert got == {
        (8, "spec.http[0].fault.abort.httpStatus", "HTTP status must be between 200 and 599"),
        (9, "spec.http[0].fault.delay.percentage.value", "must be between 0 and 100"),
        (10, "spec.http[0].retries.attempts", "must be a non-negative integer"),
        (13, "spec.http[0].route[0].weight", "must be a non-negative integer"),
        (15, "spec.http[0].route[1].weight", "out of range for a 32-bit integer"),
    }


def test_lenient_build_skips_the_invalid_kubernetes_object() -> None:
    """``strict=False`` (live clusters): the broken Service is left out and its problem listed in ``mesh.invalid``."""
    index = next(
        i
        for i, d in enumerate(DOCS["platform.yaml"])
        if d and (d["kind"], d["metadata"]["name"]) == ("Service", "details")
    )
    mesh = build_mesh(_mutated(("platform.yaml", index, ("spec", "selector")), ["a"]), strict=False)
    assert [e.field for e in mesh.invalid] == ["spec.selector"]
    assert mesh.service("details.default.svc.cluster.local") is None
    assert mesh.service("reviews.default.svc.cluster.local") is not None
    for proxy in mesh.proxies():
        translate(mesh, proxy)
