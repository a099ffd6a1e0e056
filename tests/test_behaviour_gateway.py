"""Behaviour suite, ingress gateway: Istio's gateway cases (istio-routing-behaviors.md §2) through a real Envoy.

Istio's ingress gateway (Service port 80 -> 8080) runs in loopback mode, fed by meshctl's xDS server; requests
come from outside to ``<gateway-ip>:8080`` with the Host header of the case.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from behaviour.harness import DR_B, BehaviourMesh

pytestmark = [pytest.mark.envoy, pytest.mark.timeout(120)]


def gateway(hosts: str = '"*"', tls: str = "") -> str:
    return f"""apiVersion: networking.istio.io/v1
kind: Gateway
metadata: {{name: gw, namespace: default}}
spec:
  selector: {{istio: ingressgateway}}
  servers:
  - port: {{number: 80, name: http, protocol: HTTP}}
    hosts: [{hosts}]{tls}
---
"""


def gw_vs(hosts: str, http: str) -> str:
    return f"""apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {{name: ingress, namespace: default}}
spec:
  hosts: [{hosts}]
  gateways: [gw]
  http:
{http}"""


@pytest.fixture(scope="module")
def mesh() -> Iterator[BehaviourMesh]:
    with BehaviourMesh(gateway=True) as m:
        yield m


def test_gw01_gateway_without_virtual_service_is_404(mesh: BehaviourMesh) -> None:
    mesh.configure(gateway())
    assert mesh.call("foo.bar").status == 404


def test_gw02_https_redirect(mesh: BehaviourMesh) -> None:
    mesh.configure(gateway(tls="\n    tls: {httpsRedirect: true}"))
    r = mesh.call("b.default.svc.cluster.local", "/x")
    assert r.status == 301 and r.headers["location"] == "https://b.default.svc.cluster.local/x"


def test_gw09_wildcard_hostname_ignores_port(mesh: BehaviourMesh) -> None:
    mesh.configure(
        gateway('"*.example.com"')
        + gw_vs(
            '"*.example.com"',
            """  - route:
    - destination: {host: b.default.svc.cluster.local, port: {number: 8080}}
""",
        )
    )
    for host in ("foo.example.com", "foo.example.com:80", "foo.example.com:12345"):
        r = mesh.call(host)
        assert r.status == 200 and r.hostname.startswith("b-"), (host, r.status)
    assert mesh.call("foo.other.com").status == 404


def test_gw12_scheme_match_and_header_add_routes_to_the_service(mesh: BehaviourMesh) -> None:
    mesh.configure(
        gateway()
        + gw_vs(
            "c.default.svc.cluster.local",
            """  - match:
    - scheme: {exact: http}
    headers:
      request:
        add: {istio-custom-header: user-defined-value}
    route:
    - destination: {host: c, port: {number: 8080}}
""",
        )
    )
    r = mesh.call("c.default.svc.cluster.local")
    assert r.status == 200 and r.hostname == "c-v1-0"
    assert r.seen_header("istio-custom-header") == "user-defined-value"
    # The gateway routes by Host: other hosts have no virtual host.
    assert mesh.call("b.default.svc.cluster.local").status == 404


def test_gateway_weighted_split_and_subset(mesh: BehaviourMesh) -> None:
    mesh.configure(
        gateway()
        + DR_B
        + gw_vs(
            '"*"',
            """  - match:
    - headers: {end-user: {exact: jason}}
    route:
    - destination: {host: b, subset: v2, port: {number: 8080}}
  - route:
    - destination: {host: b, subset: v1, port: {number: 8080}}
      weight: 80
    - destination: {host: b, subset: v2, port: {number: 8080}}
      weight: 20
""",
        )
    )
    assert mesh.spread(20, host="bookinfo.example", headers={"end-user": "jason"}) == {"b-v2-0": 20}
    counts = mesh.spread(500, host="bookinfo.example")
    assert abs(counts.get("b-v1-0", 0) / 5 - 80) <= 6, counts
