"""Istio's webhook validation rules that the typed schema cannot express, reported as IST0106."""

from __future__ import annotations

import json
from pathlib import Path

from conftest import run_cli

DELEGATE = """\
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: root, namespace: default}
spec:
  hosts: [reviews.default.svc.cluster.local]
  http:
  - match: [{uri: {prefix: /api}}]
    delegate: {name: child, namespace: default}
  - route: [{destination: {host: reviews.default.svc.cluster.local}}]
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: child, namespace: default}
spec:
  http:
  - route: [{destination: {host: reviews.default.svc.cluster.local}}]
"""

BAD_DELEGATE = """\
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: child, namespace: default}
spec:
  gateways: [mesh]
  http:
  - route: [{destination: {host: reviews.default.svc.cluster.local}}]
  tcp:
  - route: [{destination: {host: reviews.default.svc.cluster.local}}]
"""

CONFLICTS = """\
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: c, namespace: default}
spec:
  hosts: [details.default.svc.cluster.local]
  http:
  - redirect: {uri: /x}
    route: [{destination: {host: details.default.svc.cluster.local}}]
    fault: {abort: {httpStatus: 500, percentage: {value: 1}}}
    rewrite: {uri: /y}
  - directResponse: {status: 200}
    route: [{destination: {host: details.default.svc.cluster.local}}]
  - redirect: {uri: /z}
    directResponse: {status: 200}
---
apiVersion: networking.istio.io/v1
kind: Gateway
metadata: {name: g, namespace: default}
spec:
  selector: {istio: ingressgateway}
  servers:
  - port: {number: 80, name: http, protocol: HTTP}
"""


def _ist0106(tmp_path: Path, text: str) -> list[tuple[str, int, str]]:
    f = tmp_path / "in.yaml"
    f.write_text(text)
    code, out, err = run_cli(["analyze", "-n", "default", "-o", "json", str(f)])
    assert code in (0, 79), err
    return sorted((m["name"], m["line"], m["message"]) for m in json.loads(out) if m["code"] == "IST0106")


def test_delegate_without_hosts_is_valid(tmp_path: Path) -> None:
    assert _ist0106(tmp_path, DELEGATE) == []


def test_delegate_must_not_have_gateways_or_tcp(tmp_path: Path) -> None:
    msgs = [m for _, _, m in _ist0106(tmp_path, BAD_DELEGATE)]
    assert any("delegate virtual service must have no gateways specified" in m for m in msgs)
    assert any("delegate virtual service must have no tcp route specified" in m for m in msgs)


def test_route_action_conflicts_and_gateway_server_hosts(tmp_path: Path) -> None:
    found = _ist0106(tmp_path, CONFLICTS)
    msgs = [m for _, _, m in found]
    for needle in (
        "HTTP route cannot contain both route and redirect",
        "HTTP route cannot contain both fault and redirect",
        "HTTP route rule cannot contain both rewrite and redirect",
        "HTTP route cannot contain both route and direct response",
        "HTTP route cannot contain both redirect and direct response",
        "server config must contain at least one host",
    ):
        assert any(needle in m for m in msgs), (needle, msgs)
    # each points at the offending field's line
    assert ("c", 9, "Schema validation error: HTTP route cannot contain both fault and redirect") in found
    assert any(name == "g" and line == 22 for name, line, _ in found), found


def test_wrongly_typed_kubernetes_fields_are_reported_not_silenced(tmp_path: Path) -> None:
    # A Service with a map as targetPort used to make the model unbuildable, which silently disabled every
    # model-based check. It is now one finding with file, line and field, and the other checks still run.
    f = tmp_path / "in.yaml"
    f.write_text(
        """\
apiVersion: v1
kind: Service
metadata: {name: ratings, namespace: default}
spec:
  selector: {app: ratings}
  ports:
  - name: http
    port: 9080
    targetPort: {}
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: r, namespace: default}
spec:
  hosts: [ratings]
  http:
  - route:
    - {destination: {host: ratings}, weight: 60}
    - {destination: {host: ratings}, weight: 30}
"""
    )
    code, out, err = run_cli(["analyze", "-n", "default", "-o", "json", str(f)])
    assert code == 79, err
    msgs = json.loads(out)
    bad = [m for m in msgs if m["code"] == "IST0106"]
    assert [(m["kind"], m["line"]) for m in bad] == [("Service", 9)]
    assert "spec.ports[0].targetPort" in bad[0]["message"]
    assert any(m["code"] == "MSH0002" for m in msgs), msgs  # weights 60+30: the VS checks still ran
