"""Retries against a real Envoy: edge rates count requests (not tries) and the error rate is the final outcome.

The bed's productpage sidecar gets a retry policy (``retry_on: 5xx``, 1 retry) on reviews; reviews-v1 fails
half its answers. The app counts what it really served, which is the ground truth the graph is held to.
"""

from __future__ import annotations

import urllib.error
import urllib.request

import pytest
from conftest import BOOKINFO

from meshctl.graph.build import build_graph
from meshctl.graph.envoy_source import StatsPoller
from meshctl.graph.testbed import start_bed
from meshctl.graph.topology import topology_from_resources
from meshctl.sources import load_paths

pytestmark = [pytest.mark.envoy, pytest.mark.timeout(60)]

N = 200


def test_retried_requests_count_once_and_errors_are_final_outcomes():
    with start_bed({"v1": 100}, reviews_error_rate={"v1": 0.5}, external_calls=False, reviews_retries=1) as bed:
        poller = StatsPoller(bed.targets[:1], window=0)  # productpage only: w.seconds is its interval
        poller.poll()
        final_503 = 0
        for _ in range(N):
            req = urllib.request.Request(bed.sidecar_url + "/reviews", headers={"Host": "reviews"})
            try:
                with urllib.request.urlopen(req, timeout=5) as r:
                    r.read()
            except urllib.error.HTTPError as e:
                assert e.code == 503
                final_503 += 1
        w = poller.poll()
        app = bed.app("reviews-v1")
        tries, failed_tries = app.served, app.failed
    (edge,) = [e for e in w.edges if e.dest_host.startswith("reviews.")]
    secs = w.seconds
    retries = tries - N  # every try beyond the first of a request is a retry
    assert retries > 30 and final_503 > 10  # the policy really retried and some requests still failed
    assert edge.rps * secs == pytest.approx(N, abs=0.5)  # requests, not tries
    assert edge.attempts_rps * secs == pytest.approx(tries, abs=0.5)
    assert edge.retries_rps * secs == pytest.approx(retries, abs=0.5)
    assert edge.codes["5xx"] * secs == pytest.approx(final_503, abs=0.5)
    assert edge.retried_codes["5xx"] * secs == pytest.approx(failed_tries - final_503, abs=0.5)
    assert edge.flags["URX"] * secs == pytest.approx(final_503, abs=0.5)  # retry limit reached on each

    g = build_graph(topology_from_resources(load_paths([str(BOOKINFO)])), w)
    for a, b in (("wl:default/productpage-v1", "svc:default/reviews"), ("svc:default/reviews", "wl:default/reviews-v1")):
        e = g.edges[a, b]
        assert e["err5xx"] == pytest.approx(100.0 * final_503 / N, abs=0.5), (a, b)
        assert e["attempt_errpct"] == pytest.approx(100.0 * failed_tries / tries, abs=0.5), (a, b)
        assert e["health"] == "failure"
    # the TUI's detail panel says how many tries the requests took
    from rich.console import Console

    from meshctl.tui.widgets import node_detail

    console = Console(width=200, record=True)
    console.print(node_detail(g, "svc:default/reviews"))
    text = console.export_text()
    assert "tries/s" in text and "retries" in text
    # no phantom host from Envoy's cluster.<name>.retry.upstream_rq_5xx stats
    assert not any(".retry" in n for n in g.nodes)
