"""Fault injection against a real Envoy: aborts the caller's proxy answers itself still make an edge.

productpage's sidecar carries Istio's per-route ``envoy.filters.http.fault`` abort (503) on its route to
reviews. No upstream cluster counter moves for an aborted request; the graph reads the HCM's
``fault.aborts_injected`` and the listener's routes (admin ``/config_dump``) to find the destination.
"""

from __future__ import annotations

import urllib.error
import urllib.request

import pytest
from conftest import BOOKINFO

from meshctl.graph.build import build_graph
from meshctl.graph.envoy_source import StatsPoller
from meshctl.graph.faults import fetch_faults
from meshctl.graph.testbed import start_bed
from meshctl.graph.topology import topology_from_resources
from meshctl.sources import load_paths

pytestmark = [pytest.mark.envoy, pytest.mark.timeout(60)]

PP = "wl:default/productpage-v1"


def _send(bed, host: str, n: int) -> int:
    failed = 0
    for _ in range(n):
        req = urllib.request.Request(bed.sidecar_url + "/", headers={"Host": host})
        try:
            with urllib.request.urlopen(req, timeout=5) as r:
                r.read()
        except urllib.error.HTTPError as e:
            assert e.code == 503
            failed += 1
    return failed


@pytest.fixture(scope="module")
def topo():
    return topology_from_resources(load_paths([str(BOOKINFO)]))


@pytest.mark.parametrize("pct", [100.0, 50.0, 5.0])
def test_aborts_make_the_edge_and_its_health(topo, pct):
    with start_bed({"v1": 100}, external_calls=False, aborts={"reviews": pct}) as bed:
        (lf,) = fetch_faults(bed.targets[0].admin_url).values()
        assert lf.hosts == {"reviews.default.svc.cluster.local"} and lf.faults[0].abort_percent == pytest.approx(pct)
        poller = StatsPoller(bed.targets[:1], window=0)  # productpage only: w.seconds is its interval
        poller.poll()
        n = 100
        failed = _send(bed, "reviews", n)
        reached = bed.app("reviews-v1").served
        w = poller.poll()
    assert failed + reached == n and (failed == n if pct == 100 else 0 < failed < n)
    # Kiali: any 5xx is degraded, >= 10 % failure (5 % aborts: degraded unless the dice gave >= 10 of 100)
    health = "failure" if failed * 10 >= n else "degraded"
    g = build_graph(topo, w)
    e = g.edges[PP, "svc:default/reviews"]
    assert e["rps"] * w.seconds == pytest.approx(n, abs=0.5)
    assert e["err5xx"] == pytest.approx(100.0 * failed / n, abs=0.5)
    assert e["fault_attribution"] == "exact" and e["flags"]["FI"] * w.seconds == pytest.approx(failed, abs=0.5)
    assert e["health"] == health
    assert g.nodes["svc:default/reviews"]["health"] == health
    # aborted requests never reached the workload: its edge carries only what it served
    we = g.edges["svc:default/reviews", "wl:default/reviews-v1"]
    assert we["rps"] * w.seconds == pytest.approx(reached, abs=0.5) and we["err5xx"] == 0


def test_aborts_for_several_destinations_on_one_listener_are_unattributed(topo):
    with start_bed({"v1": 100}, external_calls=False, aborts={"reviews": 100.0, "details": 100.0}) as bed:
        poller = StatsPoller(bed.targets[:1], window=0)  # productpage only: w.seconds is its interval
        poller.poll()
        failed = _send(bed, "reviews", 20) + _send(bed, "details", 20)
        w = poller.poll()
    assert failed == 40
    g = build_graph(topo, w)
    node = g.nodes[PP]
    assert node["local_codes"]["5xx"] * w.seconds == pytest.approx(40, abs=0.5)
    assert node["health"] == "failure"
    assert any("not attributable to one destination" in h for h in node["hints"])
    for svc in ("svc:default/reviews", "svc:default/details"):
        assert g.edges[PP, svc]["fault_attribution"] == "unattributed"
    from meshctl.graph.views import view

    app = view(g, "app")
    assert app.nodes["app:default/productpage"]["health"] == "failure"


def test_fault_map_from_the_translators_config_dump(tmp_path, cli):
    """Istio's shape (RDS route names, delimited stat prefixes, MILLION denominators) from our translator."""
    import json
    import shutil

    from meshctl.graph.faults import faults_from_config_dump

    for f in BOOKINFO.glob("*.yaml"):
        shutil.copy(f, tmp_path / f.name)
    (tmp_path / "fault.yaml").write_text(
        "apiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata: {name: details-fault, namespace: default}\n"
        "spec:\n  hosts: [details]\n  http:\n  - fault: {abort: {httpStatus: 500, percentage: {value: 40}}}\n"
        "    route: [{destination: {host: details}}]\n")
    code, out, err = cli(["translate", "-f", str(tmp_path), "--proxy", "deploy/reviews-v2", "-o", "json"])
    assert code == 0, err
    lf = faults_from_config_dump(json.loads(out))["outbound_0.0.0.0_9080"]
    assert lf.hosts == {"details.default.svc.cluster.local"}
    assert (lf.faults[0].abort_status, lf.faults[0].abort_percent) == (500, pytest.approx(40.0))
