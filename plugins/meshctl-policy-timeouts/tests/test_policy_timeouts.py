"""The example plugin, loaded the way meshctl loads every plugin: through its installed entry point."""

from __future__ import annotations

import json
from importlib.metadata import entry_points

from meshctl.analyze import analyze
from meshctl.analyze.registry import all_analyzers
from meshctl.cli.main import main
from meshctl.sources import load_text

VS = """\
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: reviews, namespace: shop}
spec:
  hosts: [reviews]
  http:
  - name: with-timeout
    timeout: 2s
    route: [{destination: {host: reviews}}]
  - name: no-timeout
    route: [{destination: {host: reviews}}]
  - redirect: {uri: /elsewhere}
"""


def test_entry_point_is_installed() -> None:
    names = {ep.name for ep in entry_points(group="meshctl.analyzers")}
    assert "policy-timeouts" in names
    assert "policy.RouteTimeoutAnalyzer" in {a.name for a in all_analyzers()}


def test_reports_only_the_route_without_timeout() -> None:
    res = analyze(load_text(VS, "vs.yaml"))
    pol = [m for m in res.messages if m.code == "POL0001"]
    assert len(pol) == 1
    m = pol[0]
    assert m.origin == "VirtualService shop/reviews"
    assert m.text == 'HTTP route "no-timeout" of VirtualService shop/reviews forwards traffic without a timeout.'
    assert (m.file, m.line) == ("vs.yaml", 10)
    assert m.analyzer == "policy.RouteTimeoutAnalyzer"


def test_cli_lists_and_runs_plugin(tmp_path, capsys) -> None:
    f = tmp_path / "vs.yaml"
    f.write_text(VS)
    try:
        main(["analyze", "-A", "-o", "json", "--analyzer", "policy", str(f)])
    except SystemExit as e:
        assert e.code == 0  # a Warning does not reach the default Error failure threshold
    out = json.loads(capsys.readouterr().out)
    assert [m["code"] for m in out] == ["POL0001"]
    try:
        main(["analyze", "-A", "--failure-threshold", "Warning", "--analyzer", "policy.RouteTimeoutAnalyzer", str(f)])
    except SystemExit as e:
        assert e.code == 79


def test_schema_invalid_virtual_service_is_left_to_ist0106() -> None:
    bad = VS.replace("timeout: 2s", "timeout: 2s\n    retries: {attempts: many}")
    codes = [m.code for m in analyze(load_text(bad, "vs.yaml")).messages]
    assert "IST0106" in codes and "POL0001" not in codes
