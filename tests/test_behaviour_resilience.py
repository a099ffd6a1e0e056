"""Behaviour suite, resilience: faults, retries, timeouts and mirroring through a real Envoy (spec §1, §4, §6).

Upstream attempts and mirrored copies are counted at the echo servers themselves, not inferred from the client.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from behaviour.harness import BehaviourMesh

pytestmark = [pytest.mark.envoy, pytest.mark.timeout(120)]


def vs(http: str) -> str:
    return f"""apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {{name: default, namespace: default}}
spec:
  hosts: [b]
  http:
{http}"""


@pytest.fixture(scope="module")
def mesh() -> Iterator[BehaviourMesh]:
    with BehaviourMesh(delta=False) as m:  # this module exercises SotW xDS; the routing module uses delta
        yield m


def seen_with(mesh: BehaviourMesh, needle: str) -> list[str]:
    return [e.hostname for e in mesh.echo.values() for s in list(e.seen) if needle in s.url]


def test_vs19_fault_abort_100_percent(mesh: BehaviourMesh) -> None:
    mesh.configure(
        vs("""  - fault:
      abort: {percentage: {value: 100}, httpStatus: 418}
    route:
    - destination: {host: b}
""")
    )
    assert mesh.call("b").status == 418
    assert all(not e.seen for e in mesh.echo.values())


def test_fault_abort_percentage(mesh: BehaviourMesh) -> None:
    mesh.configure(
        vs("""  - fault:
      abort: {percentage: {value: 50}, httpStatus: 503}
    route:
    - destination: {host: b}
""")
    )
    counts = mesh.spread(400)
    aborted = counts.get("status:503", 0)
    assert 150 <= aborted <= 250, counts


def test_fault_delay_and_delay_with_route_timeout(mesh: BehaviourMesh) -> None:
    mesh.configure(
        vs("""  - match:
    - uri: {prefix: /timed}
    timeout: 0.3s
    fault:
      delay: {percentage: {value: 100}, fixedDelay: 1s}
    route:
    - destination: {host: b}
  - fault:
      delay: {percentage: {value: 100}, fixedDelay: 0.5s}
    route:
    - destination: {host: b}
""")
    )
    r = mesh.call("b", "/")
    assert r.status == 200 and r.elapsed >= 0.45  # Envoy timers are ms-granular
    # The spec's §6 guesses the delay counts toward the route timeout. Real Envoy says otherwise: the fault
    # filter holds the request before the router, whose timer starts only when the request reaches it.
    r = mesh.call("b", "/timed")
    assert r.status == 200 and r.elapsed >= 0.95
    # ... and the 0.3 s timeout still applies to the upstream part after the delay.
    r = mesh.call("b", "/timed?delay=1")
    assert r.status == 504 and 1.2 <= r.elapsed < 1.9


def test_route_timeout_with_slow_backend(mesh: BehaviourMesh) -> None:
    mesh.configure(
        vs("""  - timeout: 0.3s
    route:
    - destination: {host: b}
""")
    )
    r = mesh.call("b", "/?delay=1.5")
    assert r.status == 504 and r.elapsed < 1.2
    assert mesh.call("b", "/?delay=0.05").status == 200


def test_no_timeout_waits_for_slow_backend(mesh: BehaviourMesh) -> None:
    mesh.configure(
        vs("""  - route:
    - destination: {host: b}
""")
    )
    r = mesh.call("b", "/?delay=1.2")
    assert r.status == 200 and r.elapsed >= 1.15
    # Waiting out Envoy's 15 s default would make a slow test: check the live route has Istio's explicit 0s.
    import json

    assert mesh.envoy is not None
    dump = json.loads(mesh.envoy.admin_get("/config_dump?resource=dynamic_route_configs"))
    routes = [
        r
        for rc in dump["configs"]
        for vh in rc["route_config"].get("virtual_hosts", [])
        if any(d.startswith("b.") or d == "b" for d in vh["domains"])
        for r in vh["routes"]
    ]
    assert routes and all(r["route"]["timeout"] == "0s" for r in routes if "route" in r)


def test_retries_on_5xx_count_upstream_attempts(mesh: BehaviourMesh) -> None:
    mesh.configure(
        vs("""  - retries: {attempts: 3, retryOn: 5xx}
    route:
    - destination: {host: b}
""")
    )
    r = mesh.call("b", "/?fail=2&key=r1")
    assert r.status == 200
    assert len(seen_with(mesh, "key=r1")) == 3  # 2 failures + 1 success, counted at the servers
    assert r.seen_header("x-envoy-attempt-count") == "3"
    r = mesh.call("b", "/?fail=9&key=r2")
    assert r.status == 503 and len(seen_with(mesh, "key=r2")) == 4  # 1 try + 3 retries


def test_retries_zero_attempts_returns_first_failure(mesh: BehaviourMesh) -> None:
    mesh.configure(
        vs("""  - retries: {attempts: 0}
    route:
    - destination: {host: b}
""")
    )
    r = mesh.call("b", "/?fail=1&key=z1")
    assert r.status == 503 and len(seen_with(mesh, "key=z1")) == 1


def test_default_retry_policy_retries_503_twice(mesh: BehaviourMesh) -> None:
    """No retries in the VS: Istio's default policy (2 retries on connect-failure, refused-stream, unavailable,
    cancelled and retriable status 503, on other hosts) still applies."""
    mesh.configure(
        vs("""  - route:
    - destination: {host: b}
""")
    )
    r = mesh.call("b", "/?fail=1&key=d1")
    assert r.status == 200 and len(seen_with(mesh, "key=d1")) == 2
    r = mesh.call("b", "/?fail=9&key=d2")
    assert r.status == 503 and len(seen_with(mesh, "key=d2")) == 3
    r = mesh.call("b", "/?fail=1&key=d3&fail_status=500")
    assert r.status == 500 and len(seen_with(mesh, "key=d3")) == 1  # 500 is not retried by default


@pytest.mark.parametrize(("percentage", "low", "high"), [(None, 100, 100), (50, 35, 65), (0, 0, 0)])
def test_mirror_percentage(mesh: BehaviourMesh, percentage: int | None, low: int, high: int) -> None:
    pct = f"\n    mirrorPercentage: {{value: {percentage}}}" if percentage is not None else ""
    mesh.configure(
        vs(f"""  - route:
    - destination: {{host: b}}
    mirror: {{host: c}}{pct}
""")
    )
    for i in range(100):
        r = mesh.call("b", f"/mirror-{percentage}-{i}")
        assert r.hostname.startswith("b-")  # the client only ever sees b's reply
    mirror = mesh.echo["c-v1-0"]
    import time

    deadline = time.monotonic() + 3
    while time.monotonic() < deadline and mirror.count(f"/mirror-{percentage}-") < low:
        time.sleep(0.05)
    time.sleep(0.2)  # mirrors are fire-and-forget: let stragglers land
    got = mirror.count(f"/mirror-{percentage}-")
    assert low <= got <= high, got
    if got:
        host = next(s.header("host") for s in mirror.seen if s.url.startswith("/mirror-"))
        assert host is not None and not host.endswith("-shadow")  # disable_shadow_host_suffix_append


def test_outlier_detection_ejects_the_failing_pod(mesh: BehaviourMesh) -> None:
    """DR outlierDetection: b-v1 answering 503 is ejected after one error; b-v2 then takes all traffic."""
    mesh.configure(
        """apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: b, namespace: default}
spec:
  host: b
  trafficPolicy:
    outlierDetection: {consecutive5xxErrors: 1, interval: 1s, baseEjectionTime: 30s, maxEjectionPercent: 100}
"""
    )
    for _ in range(6):  # b-v1 fails (the default retry policy hides it from the client) and gets ejected
        mesh.call("b", "/?status=503&only=b-v1-0")
    before = mesh.echo["b-v1-0"].count()
    assert before >= 1
    assert mesh.spread(20, path="/?status=503&only=b-v1-0") == {"b-v2-0": 20}
    assert mesh.echo["b-v1-0"].count() == before  # not even tried while ejected


def test_connection_pool_overflow_is_503_overloaded(mesh: BehaviourMesh) -> None:
    """DR connectionPool: 1 connection, 1 pending request; concurrent slow calls overflow with 503 UO."""
    from concurrent.futures import ThreadPoolExecutor

    mesh.configure(
        """apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: b, namespace: default}
spec:
  host: b
  trafficPolicy:
    connectionPool:
      tcp: {maxConnections: 1}
      http: {http1MaxPendingRequests: 1, maxRequestsPerConnection: 1}
"""
    )
    with ThreadPoolExecutor(6) as pool:
        replies = list(pool.map(lambda i: mesh.call("b", f"/?delay=0.5&n={i}"), range(6)))
    overflow = [r for r in replies if r.status == 503]
    assert overflow and all(r.headers.get("x-envoy-overloaded") == "true" for r in overflow)
    assert any(r.status == 200 for r in replies)


def test_mesh_default_http_retry_policy_replaces_istios_default(tmp_path: object) -> None:
    """MeshConfig ``defaultHttpRetryPolicy: {attempts: 0}`` turns the implicit 503 retries off."""
    path = f"{tmp_path}/mesh.yaml"
    with open(path, "w") as fh:
        fh.write("defaultHttpRetryPolicy:\n  attempts: 0\n")
    with BehaviourMesh(mesh_config=path) as mesh:
        mesh.configure("")
        r = mesh.call("b", "/?fail=1&key=m1")
        assert r.status == 503 and len(seen_with(mesh, "key=m1")) == 1
