"""Regexes RE2 refuses: IST0106 (Istio's webhook compiles them with Go's RE2) and MSH0011 (accepted by Istio,
refused by Envoy), checked against a real Envoy validating the bootstrap ``meshctl translate`` builds."""

from __future__ import annotations

import json

import pytest

from meshctl.analyze import analyze
from meshctl.analyze.re2 import envoy_error, re2_error
from meshctl.analyze.registry import builtin_analyzers, select
from meshctl.sources import load_text

REJECTED = {
    "a{1001}": "invalid repeat count: `{1001}`",
    "(a{100}){11}": "invalid repeat count: `{11}`",
    "a{2,1}": "invalid repeat count",
    "(a": "missing closing )",
    "a)": "unexpected )",
    "[a": "missing closing ]",
    "[z-a]": "invalid character class range: `z-a`",
    "[[:word2:]]": "invalid character class range",
    "(?=x)": "invalid or unsupported Perl syntax: `(?=`",
    "(?!x)": "invalid or unsupported Perl syntax",
    "(?<=x)y": "invalid or unsupported Perl syntax",
    "(?>a)": "invalid or unsupported Perl syntax",
    "(?x)a b": "invalid or unsupported Perl syntax: `(?x`",
    "(a)\\1": "invalid escape sequence: `\\1`",
    "\\Z": "invalid escape sequence",
    "\\e": "invalid escape sequence",
    "a**": "invalid nested repetition operator: `**`",
    "a*+": "invalid nested repetition operator",
    "*a": "missing argument to repetition operator: `*`",
    "(?P<n>a)(?P<n>b)": "invalid named capture",
    "a\\": "trailing backslash",
    "": "should not be empty",
    "a" * 1025: "max length allowed is 1024",
}
ACCEPTED = ["a{1000}", "(a{10}){100}", "a{,5}", "a{x}", "{", "(?i)/api", "(?P<id>[0-9]+)", "(?<id>x)", "[]a]", "[a-z-]",
            "\\d+\\.\\w", "\\pL\\p{Greek}", "\\x41\\x{ff}", "\\Qa.b\\E", "\\12", "^*", "a*?", "(a*)*", "[[:alpha:]]", "a|", "()", ".*"]


@pytest.mark.parametrize("regex", list(REJECTED))
def test_rejected(regex: str) -> None:
    err = re2_error(regex)
    assert err is not None and REJECTED[regex] in err


@pytest.mark.parametrize("regex", ACCEPTED)
def test_accepted(regex: str) -> None:
    assert re2_error(regex) is None and envoy_error(regex) is None


VS = """apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: web, namespace: default}
spec:
  hosts: [web]
  http:
  - match:
    - uri: {regex: "URI"}
      headers: {x-user: {regex: "HDR"}}
      queryParams: {q: {regex: "QP"}}
      withoutHeaders: {x-no: {regex: "WH"}}
      authority: {regex: "AUTH"}
      scheme: {regex: "SCH"}
      method: {regex: "METH"}
    rewrite: {uriRegexRewrite: {match: "RW", rewrite: /}}
    corsPolicy: {allowOrigins: [{regex: "CORS"}]}
    route: [{destination: {host: web}, weight: 90}]
"""
FIELDS = {"URI": ("spec.http[0].match[0].uri.regex", 8), "HDR": ("spec.http[0].match[0].headers.x-user.regex", 9),
          "QP": ("spec.http[0].match[0].queryParams.q.regex", 10), "WH": ("spec.http[0].match[0].withoutHeaders.x-no.regex", 11),
          "AUTH": ("spec.http[0].match[0].authority.regex", 12), "SCH": ("spec.http[0].match[0].scheme.regex", 13),
          "METH": ("spec.http[0].match[0].method.regex", 14), "RW": ("spec.http[0].rewrite.uriRegexRewrite.match", 15),
          "CORS": ("spec.http[0].corsPolicy.allowOrigins[0].regex", 16)}


def _analyze(text: str) -> list:
    return analyze(load_text(text, "vs.yaml", default_namespace="default")).messages


def test_every_regex_field_reported_with_path_and_line() -> None:
    text = VS
    for placeholder in FIELDS:
        text = text.replace(f'"{placeholder}"', '"a{1001}"')
    msgs = [m for m in _analyze(text) if m.code == "IST0106"]
    assert sorted((m.path, m.line) for m in msgs) == sorted(FIELDS.values())
    assert all("invalid repeat count: `{1001}`" in m.text and "RE2" in m.text for m in msgs)
    # derived checks stay quiet on the invalid resource (weight 90 alone would be MSH0002)
    assert {m.code for m in _analyze(text)} <= {"IST0106", "POL0001"}
    valid = VS
    for placeholder in FIELDS:
        valid = valid.replace(f'"{placeholder}"', '"^/v[0-9]+$"')
    assert [m.code for m in _analyze(valid) if m.code in ("IST0106", "MSH0011")] == []


MESH = """apiVersion: v1
kind: Service
metadata: {name: web, namespace: default}
spec: {selector: {app: web}, ports: [{name: http, port: 8080}]}
---
apiVersion: v1
kind: Pod
metadata: {name: client-0, namespace: default, labels: {app: client}}
spec: {containers: [{name: app, image: a}, {name: istio-proxy, image: p}]}
status: {podIP: 127.0.0.10}
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: web, namespace: default}
spec:
  hosts: [web]
  http:
  - match: [{uri: {regex: "PLACEHOLDER[0-9]"}}]
    route: [{destination: {host: web}}]
"""

#: representative regexes: Envoy's verdict must be meshctl's (small ones: a static bootstrap keeps Envoy's default
#: RE2 program-size limit of 100, which Istio's bootstrap raises)
ENVOY_CASES = ["a{1001}", "(a{100}){11}", "(?=admin)", "(a)\\1", "(a", "a**", "[z-a]", "\\Z", "\\x{263a}",
               "^/(users|orders)/\\d+$", "(?P<id>[0-9]+)", "a{,5}", "\\12", "\\x{ff}", "(?i)/api/.*"]


def test_real_envoy_agrees(cli, tmp_path) -> None:  # type: ignore[no-untyped-def]
    from meshctl.envoy.runner import validate_config

    (tmp_path / "mesh.yaml").write_text(MESH)
    rc, out, err = cli(["translate", "-f", str(tmp_path / "mesh.yaml"), "--proxy", "pod/client-0", "-o", "bootstrap"])
    assert rc == 0, err
    assert "PLACEHOLDER[0-9]" in out
    for regex in ENVOY_CASES:
        bootstrap = json.loads(out.replace("PLACEHOLDER[0-9]", json.dumps(regex)[1:-1]))
        result = validate_config(bootstrap)
        msgs = _analyze(MESH.replace("PLACEHOLDER[0-9]", json.dumps(regex)[1:-1]))
        flagged = [m.code for m in msgs if m.code in ("IST0106", "MSH0011")]
        assert result.ok == (not flagged), f"{regex!r}: envoy ok={result.ok}, meshctl {flagged}\n{result.output[-400:]}"


def test_msh0011_only_for_what_istio_accepts() -> None:
    msgs = analyze(load_text(VS.replace('"URI"', '"\\\\x{263a}"'), "vs.yaml", default_namespace="default"),
                   analyzers=select(builtin_analyzers(), ["meshctl.EnvoyRegexAnalyzer"])).messages
    assert [(m.code, m.path) for m in msgs] == [("MSH0011", "spec.http[0].match[0].uri.regex")]
    assert "\\x{263a}" in msgs[0].text
