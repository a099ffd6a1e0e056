"""meshctl analyze: CLI semantics (namespaces, thresholds, suppression, exit codes), output formats, bad input."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
import yaml
from conftest import FIXTURES, ROOT

from meshctl.analyze import Level, analyze
from meshctl.analyze.messages import CATALOG, go_format
from meshctl.sources import load_paths

MESH = str(FIXTURES / "analyze" / "mesh.yaml")
CORE = ["--analyzer", "virtualservice", "--analyzer", "schema", "--analyzer", "meshctl", "--analyzer", "destinationrule"]


def codes(out: str) -> list[tuple[str, str]]:
    return [(m["code"], m["origin"]) for m in json.loads(out)]


def test_go_format_matches_istio_templates() -> None:
    assert go_format("Referenced %s not found: %q", ("host", 'a"b')) == 'Referenced host not found: "a\\"b"'
    assert go_format("%v and %d", (["a", "b"], 7)) == "[a b] and 7"
    assert CATALOG["IST0101"].level is Level.ERROR
    assert CATALOG["IST0101"].doc_url == "https://istio.io/latest/docs/reference/config/analysis/ist0101/"
    assert all(c in CATALOG for c in ("IST0002", "IST0177", "MSH0001", "MSH0008"))


def test_json_has_every_field(cli) -> None:
    code, out, _ = cli(["analyze", "-A", "-o", "json", *CORE, MESH])
    assert code == 79  # IST0101 is an Error
    msgs = json.loads(out)
    m = next(m for m in msgs if m["code"] == "IST0101")
    assert m == {
        "code": "IST0101",
        "level": "Error",
        "message": 'Referenced host not found: "ratings"',
        "origin": "VirtualService shop/reviews",
        "kind": "VirtualService",
        "namespace": "shop",
        "name": "reviews",
        "file": MESH,
        "line": 39,
        "field": "spec.http[1].route[0].destination.host",
        "reference": f"{MESH}:39",
        "analyzer": "virtualservice.DestinationHostAnalyzer",
        "documentationUrl": "https://istio.io/latest/docs/reference/config/analysis/ist0101/",
    }
    # errors first, like istioctl
    levels = [m["level"] for m in msgs]
    assert levels == sorted(levels, key=lambda lv: {"Error": 0, "Warning": 1, "Info": 2}[lv])


def test_text_output_is_istioctl_format(cli) -> None:
    code, out, _ = cli(["analyze", "-A", *CORE, MESH])
    assert f'Error [IST0101] (VirtualService shop/reviews {MESH}:39) Referenced host not found: "ratings"\n' in out
    assert "Warning [MSH0002]" in out


def test_annotation_suppression_and_flag_suppression(cli) -> None:
    _, out, _ = cli(["analyze", "-A", "-o", "json", *CORE, MESH])
    found = codes(out)
    assert ("IST0101", "VirtualService shop/quiet") not in found  # galley.istio.io/analyze-suppress
    _, out, _ = cli(["analyze", "-A", "-o", "json", "-S", "IST0101=VirtualService shop/*", "-S", "MSH*=*", *CORE, MESH])
    assert ("IST0101", "VirtualService shop/reviews") not in codes(out)
    _, out, _ = cli(["analyze", "-A", "-o", "json", "-S", "MSH0002=VirtualService shop/*", *CORE, MESH])
    assert "MSH0002" not in {c for c, _ in codes(out)}


def test_thresholds(cli) -> None:
    code, out, _ = cli(["analyze", "-A", "-o", "json", "--output-threshold", "Error", *CORE, MESH])
    assert {m["level"] for m in json.loads(out)} == {"Error"}
    assert code == 79
    code, _, _ = cli(["analyze", "-A", "-o", "json", "--failure-threshold", "Error", "-S", "IST0101=*", "-S", "IST0173=*", *CORE, MESH])
    assert code == 0  # only warnings left
    code, _, _ = cli(["analyze", "-A", "--output-threshold", "Error", "--failure-threshold", "Warning", "-S", "IST0101=*", "-S", "IST0173=*", *CORE, MESH])
    assert code == 79  # hidden warnings still fail


def test_namespace_selection(cli, tmp_path) -> None:
    f = tmp_path / "vs.yaml"
    f.write_text(
        "apiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata: {name: a}\nspec:\n  hosts: [a]\n  http:\n"
        "  - route: [{destination: {host: a}}]\n  - route: [{destination: {host: a}}]\n"
    )
    _, out, _ = cli(["analyze", "-A", "-o", "json", "--analyzer", "schema", str(f)])
    assert codes(out) == [("IST0130", "VirtualService a")]  # -A: no namespace given, none invented
    _, out, _ = cli(["analyze", "-o", "json", "--analyzer", "schema", str(f)])
    assert codes(out) == [("IST0130", "VirtualService default/a")]
    _, out, _ = cli(["analyze", "-n", "prod", "-o", "json", "--analyzer", "schema", str(f)])
    assert codes(out) == [("IST0130", "VirtualService prod/a")]
    # each mode says the same in text, json and sarif (istioctl blanks the file namespace under -A: analyze.go)
    for flags, origin, ns in ((["-A"], "VirtualService a", None), ([], "VirtualService default/a", "default")):
        _, text, _ = cli(["analyze", *flags, "--analyzer", "schema", str(f)])
        _, js, _ = cli(["analyze", *flags, "-o", "json", "--analyzer", "schema", str(f)])
        _, sarif, _ = cli(["analyze", *flags, "-o", "sarif", "--analyzer", "schema", str(f)])
        assert f"({origin} {f}:8)" in text
        assert [(m["origin"], m["namespace"]) for m in json.loads(js)] == [(origin, ns)]
        loc = json.loads(sarif)["runs"][0]["results"][0]["locations"][0]
        assert loc["logicalLocations"][0]["fullyQualifiedName"] == origin
    # messages about other namespaces are not shown without -A
    _, out, _ = cli(["analyze", "-n", "other", "-o", "json", *CORE, MESH])
    assert codes(out) == []


def test_no_issues_message_and_exit_zero(cli, tmp_path) -> None:
    f = tmp_path / "ok.yaml"
    f.write_text("apiVersion: v1\nkind: Namespace\nmetadata: {name: x, labels: {istio-injection: enabled}}\n")
    code, out, err = cli(["analyze", "-A", str(f)])
    assert (code, out) == (0, "")
    assert "No validation issues found when analyzing all namespaces." in err


def test_sarif_is_valid_2_1_0(cli) -> None:
    code, out, _ = cli(["analyze", "-A", "-o", "sarif", *CORE, MESH])
    log = json.loads(out)
    assert log["version"] == "2.1.0" and log["$schema"].endswith("sarif-2.1.0.json")
    run = log["runs"][0]
    rules = run["tool"]["driver"]["rules"]
    assert len({r["id"] for r in rules}) == len(rules)  # one rule per code
    ids = [r["id"] for r in rules]
    for res in run["results"]:
        assert ids[res["ruleIndex"]] == res["ruleId"]
        assert res["level"] in ("error", "warning", "note")
        loc = res["locations"][0]["physicalLocation"]
        assert not loc["artifactLocation"]["uri"].startswith("/")  # repository-relative for code scanning
        assert loc["region"]["startLine"] >= 1
    ist = next(r for r in rules if r["id"] == "IST0101")
    assert ist["helpUri"].endswith("/ist0101/")
    msh = [r for r in rules if r["id"].startswith("MSH")]
    assert msh and all("helpUri" not in r and "docs/analyze.md#msh" in r["help"]["text"] for r in msh)


def test_every_msh_code_is_documented() -> None:
    """documentationUrl of an MSH code is docs/analyze.md#mshNNNN, and that anchor exists in the file."""
    import re

    from conftest import ROOT

    from meshctl.analyze.messages import CATALOG

    doc = (ROOT / "docs" / "analyze.md").read_text()
    anchors = set(re.findall(r'<a id="(msh\d{4})"></a>\*\*(MSH\d{4}) (\w+)\*\*', doc))
    for code, mt in CATALOG.items():
        if code.startswith("MSH"):
            assert mt.doc_url == f"docs/analyze.md#{code.lower()}"
            assert (code.lower(), code, mt.name) in anchors, f"{code} {mt.name} has no anchor in docs/analyze.md"


def test_github_annotations(cli) -> None:
    _, out, _ = cli(["analyze", "-A", "-o", "github", *CORE, MESH])
    line = next(x for x in out.splitlines() if "IST0101" in x and "shop/reviews" in x)
    assert line.startswith(f"::error file={MESH.removeprefix(str(ROOT) + '/')},line=39,title=IST0101 ReferencedResourceNotFound::")
    assert any(x.startswith("::warning ") for x in out.splitlines())


def test_yaml_output(cli) -> None:
    _, out, _ = cli(["analyze", "-A", "-o", "yaml", *CORE, MESH])
    data = yaml.safe_load(out)
    assert {"code", "origin", "file", "line", "documentationUrl"} <= set(data[0])


def test_list_analyzers(cli) -> None:
    code, out, _ = cli(["analyze", "-L"])
    assert code == 0
    for name in ("virtualservice.DestinationHostAnalyzer", "schema.ValidationAnalyzer", "gateway.ConflictingGatewayAnalyzer", "meshctl.MutualTLSAnalyzer"):
        assert name in out


@pytest.mark.parametrize(
    "args, code, text",
    [
        (["analyze", "-A", str(FIXTURES / "analyze" / "bad.yaml")], 65, "bad.yaml:6: invalid YAML"),
        (["analyze", "-A", "/nonexistent/x.yaml"], 65, "no such file"),
        (["analyze"], 64, "nothing to analyze"),
        (["analyze", "-A", "-n", "x", MESH], 64, "cannot be used together"),
        (["analyze", "-A", "--analyzer", "nope", MESH], 64, "unknown analyzer"),
        (["analyze", "-A", "-S", "IST0101", MESH], 64, "invalid suppression"),
        (["analyze", "-A", "--meshconfig", "/nonexistent/mc.yaml", MESH], 65, "cannot read mesh config"),
    ],
)
def test_bad_input_and_usage(cli, args, code, text) -> None:
    got, _, err = cli(args)
    assert got == code
    assert text in err
    assert "Traceback" not in err


def test_wrong_types_unknown_kinds_duplicates_are_messages(cli, tmp_path) -> None:
    wrong = str(FIXTURES / "analyze" / "wrongtypes.yaml")
    _, out, _ = cli(["analyze", "-A", "-o", "json", "--analyzer", "schema", wrong])
    msgs = json.loads(out)
    fields = {(m["code"], m["field"], m["line"]) for m in msgs}
    assert ("IST0106", "spec.http[0].timout", 10) in fields
    assert ("IST0106", "spec.http[0].route[0].weight", 9) in fields
    assert any(m["code"] == "MSH0010" and m["kind"] == "VirtualServce" for m in msgs)
    _, out, _ = cli(["analyze", "-A", "-o", "json", "--analyzer", "meshctl.DuplicateResourceAnalyzer", MESH, MESH])
    assert ("MSH0009", "VirtualService shop/reviews") in codes(out)


def test_stdin(cli) -> None:
    text = open(MESH).read()
    from conftest import run_cli

    code, out, _ = run_cli(["analyze", "-A", "-o", "json", *CORE, "-"], input=text)
    assert ("IST0101", "VirtualService shop/reviews") in codes(out)
    assert json.loads(out)[0]["file"] == "<stdin>"


def test_library_api_and_broken_analyzer_is_reported() -> None:
    from meshctl.analyze import Analyzer

    class Broken(Analyzer):
        name = "test.Broken"
        codes = ()

        def analyze(self, ctx):  # noqa: ANN001
            raise RuntimeError("boom")

    res = analyze(load_paths([MESH], default_namespace=""), analyzers=[Broken()])
    assert [m.code for m in res.messages] == ["IST0001"]
    assert "test.Broken failed: RuntimeError: boom" in res.messages[0].text


def test_console_script_runs_without_traceback() -> None:
    p = subprocess.run([sys.executable, "-m", "meshctl", "analyze", "-A", "-o", "json", *CORE, MESH], capture_output=True, text=True, timeout=60)
    assert p.returncode == 79 and "Traceback" not in p.stderr
    assert json.loads(p.stdout)
