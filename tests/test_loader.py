"""The YAML/JSON loader: line numbers, multi-doc, List, stdin, directories, and clear errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from meshctl.errors import ErrorList, InputError, MeshctlError
from meshctl.sources import load_paths, load_text

VS = """\
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata:
  name: reviews
spec:
  hosts: [reviews]
  http:
  - route:
    - destination:
        host: reviews
        subset: v1
      weight: 90
    - destination: {host: reviews, subset: v2}
      weight: 10
"""


def test_line_of_nested_field() -> None:
    (r,) = load_text(VS, "vs.yaml")
    assert (r.kind, r.name, r.namespace, r.namespace_explicit) == ("VirtualService", "reviews", "default", False)
    assert r.pos().line == 1
    assert r.pos("spec.http[0].route[1].weight").line == 14
    assert r.pos("spec.http[0].route[0].destination.subset").line == 11
    # A path that does not exist points at the deepest part that does.
    assert r.pos("spec.http[0].route[0].nosuch").line == 9
    assert str(r.pos("spec.hosts")) == "vs.yaml:6"


def test_multi_document_and_list(tmp_path: Path) -> None:
    text = VS + "---\n---\napiVersion: v1\nkind: List\nitems:\n- apiVersion: v1\n  kind: Service\n  metadata: {name: a, namespace: foo}\n"
    rs = load_text(text, "x.yaml", default_namespace="bar")
    assert [(r.kind, r.namespace, r.line) for r in rs] == [("VirtualService", "bar", 1), ("Service", "foo", 20)]
    assert [r.index for r in rs] == [0, 1]


def test_cluster_scoped_kinds_have_no_namespace() -> None:
    (r,) = load_text("apiVersion: v1\nkind: Namespace\nmetadata: {name: foo}\n", "ns.yaml")
    assert r.namespace is None and r.ref == "Namespace foo"


def test_directories_recursive_sorted_and_json(tmp_path: Path) -> None:
    (tmp_path / "b").mkdir()
    (tmp_path / "b" / "vs.yaml").write_text(VS)
    (tmp_path / "a.json").write_text(json.dumps({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "s"}}))
    (tmp_path / "notes.txt").write_text("ignored: not yaml")
    rs = load_paths([str(tmp_path)])
    assert [r.kind for r in rs] == ["Service", "VirtualService"]
    assert rs[1].file == str(tmp_path / "b" / "vs.yaml")


def test_stdin(monkeypatch: pytest.MonkeyPatch) -> None:
    import io
    import sys

    monkeypatch.setattr(sys, "stdin", io.StringIO(VS))
    (r,) = load_paths(["-"])
    assert r.file == "<stdin>" and r.name == "reviews"


@pytest.mark.parametrize(
    ("text", "line", "needle"),
    [
        ("a: 1\na: 2\n", 2, "duplicate key 'a'"),
        ("kind: Service\nmetadata: {name: x}\n", 1, "apiVersion"),
        ("apiVersion: v1\nmetadata: {name: x}\n", 1, "kind"),
        ("apiVersion: v1\nkind: Service\nmetadata: {}\n", 1, "metadata.name"),
        ("apiVersion: v1\nkind: Service\nmetadata:\n  name: [\n", 5, "invalid YAML"),
        ("- 1\n- 2\n", 1, "expected a mapping"),
    ],
)
def test_errors_name_file_and_line(text: str, line: int, needle: str) -> None:
    with pytest.raises(InputError) as ei:
        load_text(text, "bad.yaml")
    assert ei.value.file == "bad.yaml"
    assert ei.value.line == line, str(ei.value)
    assert needle in str(ei.value)
    assert ei.value.exit_code == 65


def test_all_files_errors_reported_together(tmp_path: Path) -> None:
    (tmp_path / "a.yaml").write_text("a: [\n")
    (tmp_path / "b.yaml").write_text("kind: X\n")
    with pytest.raises(ErrorList) as ei:
        load_paths([str(tmp_path), str(tmp_path / "missing.yaml")])
    text = str(ei.value)
    assert "a.yaml:2" in text and "b.yaml:1" in text and "missing.yaml: no such file" in text


def test_binary_file_is_a_clear_error(tmp_path: Path) -> None:
    p = tmp_path / "x.yaml"
    p.write_bytes(b"\xff\xfe\x00garbage")
    with pytest.raises(InputError, match="not UTF-8"):
        load_paths([str(p)])


yaml_scalars = st.one_of(st.none(), st.booleans(), st.integers(), st.text(max_size=8))
yaml_values = st.recursive(
    yaml_scalars,
    lambda children: st.one_of(st.lists(children, max_size=4), st.dictionaries(st.text(max_size=6), children, max_size=4)),
    max_leaves=12,
)


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(st.one_of(st.text(max_size=200), st.binary(max_size=200).map(lambda b: b.decode("latin-1"))))
def test_random_text_raises_only_project_errors(text: str) -> None:
    try:
        load_text(text, "fuzz.yaml")
    except MeshctlError:
        pass


@settings(max_examples=200, suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(st.integers(min_value=0, max_value=len(VS) - 1), st.sampled_from(["", ":", "- ", "[", "{", "\t", "&a", "*a", "!!python/object ", "'", '"', "\n  ", "---\n"]))
def test_mutated_documents_raise_only_project_errors(pos: int, insert: str) -> None:
    text = VS[:pos] + insert + VS[pos:]
    try:
        for r in load_text(text, "mut.yaml"):
            r.pos("spec.http[0].route[0].weight")
    except MeshctlError:
        pass


@settings(max_examples=200, deadline=None)
@given(st.dictionaries(st.sampled_from(["apiVersion", "kind", "metadata", "spec", "items"]), yaml_values, max_size=5))
def test_structured_documents_raise_only_project_errors(doc: dict) -> None:
    import yaml

    try:
        load_text(yaml.safe_dump(doc), "gen.yaml")
    except MeshctlError:
        pass


def test_unclosed_flow_sequence_names_where_it_opened() -> None:
    text = "apiVersion: v1\nkind: Service\nmetadata:\n  name: x\n  labels: [a\n  namespace: b\n"
    with pytest.raises(InputError) as ei:
        load_text(text, "m.yaml")
    assert ei.value.line == 6
    assert "flow sequence opened on line 5 is not closed" in str(ei.value)


def test_same_data_as_plain_safe_loading_incl_anchors_and_merge_keys() -> None:
    import yaml as pyyaml

    text = """\
apiVersion: v1
kind: ConfigMap
metadata: {name: c, labels: &l {app: a, "on": yes, n: 1}}
data:
  base: &b {x: 1, y: [1, 2.5, null, true, "s", ~]}
  derived: {<<: *b, y: 3, z: *l}
  list: [*l, *l]
  quoted: "123"
  empty: ""
  multi: |
    a
    b
"""
    (r,) = load_text(text, "a.yaml")
    assert r.obj == pyyaml.safe_load(text)
    assert r.pos("data.derived.z").line == 6


def test_explicit_key_twice_after_a_merge_is_still_a_duplicate() -> None:
    with pytest.raises(InputError, match="duplicate key 'y'"):
        load_text("b: &b {y: 1}\nd: {<<: *b, y: 2, y: 3}\n", "m.yaml")
