"""Benchmark: parse and semantically diff two versions of a big sidecar config dump.

Generates an Istio-shaped ``/config_dump?include_eds`` with 10,000 clusters (and their EDS) and 2,000 routes,
plus a second version with a handful of real changes (weights, a circuit breaker, a removed and an added
cluster, a warming one) and lots of noise (every version_info/last_updated, reordered endpoints, re-spelled
durations). Measures side by side, in one run, on the same two files:

  * ``json.loads`` of both files (the basis of the target),
  * meshctl: ``load_dump`` of both + ``diff_dumps`` (what ``meshctl pc diff --file A --file B`` does),

checks that the diff reports exactly the real changes, prints figures and one summary line. Target: meshctl
at most 3x ``json.loads`` of the same files. Exits 1 when it misses (or when the diff is wrong). Best of
``--repeat`` runs each.

    .venv/bin/python benchmarks/diff.py [--clusters 10000] [--routes 2000] [--repeat 3]
"""

from __future__ import annotations

import argparse
import copy
import gc
import json
import os
import sys
import time
from collections.abc import Callable
from typing import Any

# benchmarks/xds.py would shadow the ``xds`` protobuf package Envoy's protos import: drop this folder from the path.
_HERE = os.path.dirname(os.path.abspath(__file__))
sys.path[:] = [p for p in sys.path if os.path.abspath(p or ".") != _HERE]

TARGET_RATIO = 3.0
DR = "/apis/networking.istio.io/v1/namespaces/bench/destination-rule/"
VS = "/apis/networking.istio.io/v1/namespaces/bench/virtual-service/"
T = "type.googleapis.com/"


def _host(i: int) -> str:
    return f"svc-{i // 3}.bench.svc.cluster.local"


def _cluster_name(i: int) -> str:
    return f"outbound|8080|v{i % 3 + 1}|{_host(i)}"


def generate(n_clusters: int, n_routes: int) -> dict[str, Any]:
    clusters, endpoints = [], []
    for i in range(n_clusters):
        name = _cluster_name(i)
        clusters.append(
            {
                "version_info": "2026-01-01T00:00:00Z/1",
                "cluster": {
                    "@type": T + "envoy.config.cluster.v3.Cluster",
                    "name": name,
                    "type": "EDS",
                    "eds_cluster_config": {
                        "eds_config": {
                            "ads": {},
                            "initial_fetch_timeout": "0s",
                            "resource_api_version": "V3",
                        },
                        "service_name": name,
                    },
                    "connect_timeout": "10s",
                    "lb_policy": "LEAST_REQUEST",
                    "circuit_breakers": {
                        "thresholds": [
                            {
                                "max_connections": 4294967295,
                                "max_pending_requests": 4294967295,
                                "max_requests": 4294967295,
                                "max_retries": 4294967295,
                                "track_remaining": True,
                            }
                        ]
                    },
                    "common_lb_config": {"locality_weighted_lb_config": {}},
                    "metadata": {
                        "filter_metadata": {
                            "istio": {
                                "config": DR + f"svc-{i // 3}",
                                "services": [
                                    {"host": _host(i), "name": f"svc-{i // 3}", "namespace": "bench"}
                                ],
                            }
                        }
                    },
                    "filters": [
                        {
                            "name": "istio.metadata_exchange",
                            "typed_config": {
                                "@type": T + "envoy.tcp.metadataexchange.config.MetadataExchange",
                                "protocol": "istio-peer-exchange",
                            },
                        }
                    ],
                },
                "last_updated": "2026-01-01T00:00:00.000Z",
            }
        )
        endpoints.append(
            {
                "version_info": "2026-01-01T00:00:00Z/1",
                "endpoint_config": {
                    "@type": T + "envoy.config.endpoint.v3.ClusterLoadAssignment",
                    "cluster_name": name,
                    "endpoints": [
                        {
                            "locality": {"region": "us-east1", "zone": "us-east1-b"},
                            "lb_endpoints": [
                                {
                                    "endpoint": {
                                        "address": {
                                            "socket_address": {
                                                "address": f"10.{(i >> 8) & 255}.{i & 255}.{k}",
                                                "port_value": 8080,
                                            }
                                        },
                                        "health_check_config": {},
                                    },
                                    "health_status": "HEALTHY",
                                    "metadata": {
                                        "filter_metadata": {
                                            "istio": {
                                                "workload": f"svc-{i // 3}-v{i % 3 + 1};bench;svc-{i // 3};v{i % 3 + 1};Kubernetes"
                                            }
                                        }
                                    },
                                    "load_balancing_weight": 1,
                                }
                                for k in (1, 2)
                            ],
                            "load_balancing_weight": 2,
                        }
                    ],
                    "policy": {"overprovisioning_factor": 140},
                },
            }
        )
    per_config = 10
    route_configs = []
    for r in range(n_routes // per_config):
        vhosts = []
        for v in range(per_config):
            i = (r * per_config + v) * 3 % max(n_clusters - 3, 1)
            svc = f"svc-{i // 3}"
            vhosts.append(
                {
                    "name": f"{svc}.bench.svc.cluster.local:{8000 + r}",
                    "domains": [f"{svc}.bench.svc.cluster.local", svc, f"{svc}.bench"],
                    "routes": [
                        {
                            "name": "split",
                            "match": {"prefix": "/"},
                            "route": {
                                "weighted_clusters": {
                                    "clusters": [
                                        {"name": _cluster_name(i), "weight": 90},
                                        {"name": _cluster_name(i + 1), "weight": 10},
                                    ]
                                },
                                "timeout": "0s",
                                "retry_policy": {
                                    "retry_on": "connect-failure,refused-stream,unavailable,cancelled,retriable-status-codes",
                                    "num_retries": 2,
                                },
                            },
                            "metadata": {"filter_metadata": {"istio": {"config": VS + svc}}},
                            "decorator": {"operation": f"{svc}:8080/*"},
                        }
                    ],
                    "include_request_attempt_count": True,
                }
            )
        route_configs.append(
            {
                "version_info": "2026-01-01T00:00:00Z/1",
                "route_config": {
                    "@type": T + "envoy.config.route.v3.RouteConfiguration",
                    "name": str(8000 + r),
                    "virtual_hosts": vhosts,
                    "validate_clusters": False,
                },
                "last_updated": "2026-01-01T00:00:00.000Z",
            }
        )
    return {
        "configs": [
            {
                "@type": T + "envoy.admin.v3.BootstrapConfigDump",
                "bootstrap": {"node": {"id": "sidecar~10.1.0.1~client-0.bench~bench.svc.cluster.local"}},
            },
            {
                "@type": T + "envoy.admin.v3.ClustersConfigDump",
                "version_info": "2026-01-01T00:00:00Z/1",
                "dynamic_active_clusters": clusters,
            },
            {"@type": T + "envoy.admin.v3.RoutesConfigDump", "dynamic_route_configs": route_configs},
            {"@type": T + "envoy.admin.v3.EndpointsConfigDump", "dynamic_endpoint_configs": endpoints},
        ]
    }


def mutate(a: dict[str, Any]) -> tuple[dict[str, Any], set[tuple[str, str, str]]]:
    """Version B: noise everywhere, plus the real changes returned as (kind, name, status)."""
    b = copy.deepcopy(a)
    clusters = b["configs"][1]["dynamic_active_clusters"]
    routes = b["configs"][2]["dynamic_route_configs"]
    eds = b["configs"][3]["dynamic_endpoint_configs"]
    for sec in (clusters, routes, eds):  # noise: every wrapper re-versioned
        for w in sec:
            w["version_info"] = "2026-02-02T00:00:00Z/2"
            if "last_updated" in w:
                w["last_updated"] = "2026-02-02T00:00:00.000Z"
    for k in range(0, len(eds), 97):  # noise: EDS order and what Envoy fills in
        eps = eds[k]["endpoint_config"]["endpoints"][0]["lb_endpoints"]
        eps.reverse()
        for lb in eps:
            lb.pop("health_status")
            lb.pop("load_balancing_weight")
    for k in range(5, len(clusters), 1009):  # noise: same duration, other spelling
        clusters[k]["cluster"]["connect_timeout"] = "10.000s"
    expected = set()
    for k in (10, 2000, 7000):  # real: circuit breaker changed
        c = clusters[k]["cluster"]
        c["circuit_breakers"]["thresholds"][0]["max_connections"] = 100
        expected.add(("cluster", c["name"], "changed"))
    for k in (3, 150):  # real: weights changed
        rc = routes[k]["route_config"]
        rc["virtual_hosts"][4]["routes"][0]["route"]["weighted_clusters"]["clusters"][0]["weight"] = 50
        rc["virtual_hosts"][4]["routes"][0]["route"]["weighted_clusters"]["clusters"][1]["weight"] = 50
        expected.add(("route", rc["name"], "changed"))
    gone = clusters.pop(4321)["cluster"]["name"]  # real: a cluster (and its EDS) removed
    expected.add(("cluster", gone, "missing"))
    b["configs"][3]["dynamic_endpoint_configs"] = [
        e for e in eds if e["endpoint_config"]["cluster_name"] != gone
    ]
    expected.add(("endpoint", gone, "missing"))
    new = copy.deepcopy(clusters[0])  # real: a cluster added
    new["cluster"]["name"] = "outbound|9090||added.bench.svc.cluster.local"
    clusters.append(new)
    expected.add(("cluster", new["cluster"]["name"], "extra"))
    warm = clusters.pop(99)  # received, not active yet: reported as warming, not drift
    b["configs"][1]["dynamic_warming_clusters"] = [warm]
    return b, expected


def best(fn: Callable[[], Any], repeat: int) -> tuple[float, Any]:
    times, result = [], None
    for _ in range(repeat):
        gc.collect()
        t0 = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - t0)
    return min(times), result


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--clusters", type=int, default=10_000)
    ap.add_argument("--routes", type=int, default=2_000)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()

    from meshctl.envoy.diff import diff_dumps
    from meshctl.envoy.dump import load_dump

    a = generate(args.clusters, args.routes)
    b, expected = mutate(a)
    text_a, text_b = json.dumps(a, indent=1), json.dumps(b, indent=1)
    del a, b
    mb = (len(text_a) + len(text_b)) / 1e6
    print(
        f"dumps: {args.clusters} clusters + EDS, {args.routes} routes; {len(text_a) / 1e6:.1f} MB + {len(text_b) / 1e6:.1f} MB"
    )

    t_json, _ = best(lambda: (json.loads(text_a), json.loads(text_b)), args.repeat)

    def meshctl() -> Any:
        return diff_dumps(load_dump(text_a, "A"), load_dump(text_b, "B"))

    t_mesh, result = best(meshctl, args.repeat)
    t_parse, _ = best(lambda: (load_dump(text_a, "A"), load_dump(text_b, "B")), args.repeat)
    got = {(d.kind, d.name, d.status) for d in result.drift}
    warming = {(d.kind, d.name) for d in result.warming}
    correct = got == expected and len(warming) == 1
    ratio = t_mesh / t_json
    print(f"json.loads (both files)           {t_json * 1000:8.1f} ms  ({mb / t_json:.0f} MB/s)")
    print(f"meshctl load_dump (both files)    {t_parse * 1000:8.1f} ms")
    print(f"meshctl load_dump + diff_dumps    {t_mesh * 1000:8.1f} ms  ({ratio:.2f}x json.loads)")
    print(
        f"differences found: {len(got)} (expected {len(expected)}), warming: {len(warming)}; resources compared: {sum(result.compared.values())}"
    )
    if not correct:
        print("  missing:", sorted(expected - got)[:5], " unexpected:", sorted(got - expected)[:5])
    ok = correct and ratio <= TARGET_RATIO
    verdict = "PASS" if ok else "FAIL"
    print(
        f"{verdict}: pc diff of two {args.clusters}-cluster/{args.routes}-route dumps in {t_mesh:.2f}s = {ratio:.2f}x json.loads (target <= {TARGET_RATIO}x){'' if correct else '; WRONG RESULT'}"
    )
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
