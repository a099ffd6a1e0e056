"""A small real-traffic bed: real Envoys with static bootstraps in front of local Python services.

Why: the graph's live path (admin ``/stats`` -> rates, errors, latency per edge) must be proven against real
Envoy counters, and the TUI screenshots need real numbers, even where the full demo mesh (``meshctl demo``)
is not available. The shape is bookinfo's front half, named as Istio names things::

    client -> istio-ingressgateway (Envoy, router~) -> productpage-v1 (sidecar Envoy + Python app)
              productpage's sidecar -> outbound|9080|v1|details..., outbound|9080|v{1,2,3}|reviews... (weighted)
                                     -> PassthroughCluster (any other host: "api.example.org")

Everything binds 127.0.0.1 and every process is closed by :meth:`TrafficBed.close` (context manager).
"""

from __future__ import annotations

import random
import threading
import time
import urllib.request
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from meshctl.envoy.runner import EnvoyProcess, free_port, start_envoy
from meshctl.graph.envoy_source import ProxyTarget

NS = "default"
DOMAIN = "svc.cluster.local"


def _host(name: str) -> str:
    return f"{name}.{NS}.{DOMAIN}"


class _App(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, name: str, error_rate: float, outbound: int | None, calls: list[str]) -> None:
        self.name = name
        self.error_rate = error_rate
        self.outbound = outbound
        self.calls = calls
        self.rng = random.Random(hash(name) & 0xFFFF)
        self.served = 0  # answers sent, and how many were 503: the ground truth tests compare the graph with
        self.failed = 0
        self.lock = threading.Lock()
        super().__init__(("127.0.0.1", 0), _Handler)


class _Handler(BaseHTTPRequestHandler):
    server: _App

    def log_message(self, *args: Any) -> None:  # quiet
        pass

    def do_GET(self) -> None:  # noqa: N802 - http.server API
        app = self.server
        status = 200
        for host in app.calls:
            try:
                req = urllib.request.Request(f"http://127.0.0.1:{app.outbound}/{host}", headers={"Host": host})
                with urllib.request.urlopen(req, timeout=5) as r:  # noqa: S310 - loopback
                    r.read()
            except Exception:
                status = 200  # productpage degrades gracefully, like bookinfo's
        with app.lock:
            if app.rng.random() < app.error_rate:
                status = 503
                app.failed += 1
            app.served += 1
        body = f"{app.name}\n".encode()
        self.send_response(status)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


def _cluster(name: str, port: int) -> dict[str, Any]:
    return {
        "name": name,
        "type": "STATIC",
        "connect_timeout": "1s",
        "load_assignment": {
            "cluster_name": name,
            "endpoints": [{"lb_endpoints": [{"endpoint": {"address": {"socket_address": {"address": "127.0.0.1", "port_value": port}}}}]}],
        },
    }


def _hcm_listener(name: str, port: int, stat_prefix: str, vhosts: list[dict[str, Any]]) -> dict[str, Any]:
    """A listener with an inline route table (clusters not validated, so a route may name a missing one)."""
    return {
        "name": name,
        "address": {"socket_address": {"address": "127.0.0.1", "port_value": port}},
        "filter_chains": [
            {
                "filters": [
                    {
                        "name": "envoy.filters.network.http_connection_manager",
                        "typed_config": {
                            "@type": "type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager",
                            "stat_prefix": stat_prefix,
                            "route_config": {"name": name, "virtual_hosts": vhosts, "validate_clusters": False},
                            "http_filters": [
                                # Istio's sidecar HCMs run the fault filter (per-route config turns it on)
                                {"name": "envoy.filters.http.fault",
                                 "typed_config": {"@type": "type.googleapis.com/envoy.extensions.filters.http.fault.v3.HTTPFault"}},
                                {"name": "envoy.filters.http.router",
                                 "typed_config": {"@type": "type.googleapis.com/envoy.extensions.filters.http.router.v3.Router"}}
                            ],
                        },
                    }
                ]
            }
        ],
    }


def _node(kind: str, pod: str, workload: str, labels: dict[str, str], ns: str) -> dict[str, Any]:
    return {
        "id": f"{kind}~127.0.0.1~{pod}.{ns}~{ns}.{DOMAIN}",
        "cluster": f"{workload}.{ns}",
        "metadata": {"NAMESPACE": ns, "WORKLOAD_NAME": workload, "LABELS": labels},
    }


@dataclass
class TrafficBed:
    """Running processes of the bed; ``targets`` are the proxies to poll, ``ingress_url`` takes client load."""

    reviews_weights: dict[str, int]
    ingress_url: str = ""
    sidecar_url: str = ""  # productpage's outbound listener (what its app dials)
    targets: list[ProxyTarget] = field(default_factory=list)
    envoys: list[EnvoyProcess] = field(default_factory=list)
    apps: list[_App] = field(default_factory=list)

    def app(self, name: str) -> _App:
        """The local service behind a workload name (``reviews-v1``): its ``served``/``failed`` counts."""
        return next(a for a in self.apps if a.name == name)

    def close(self) -> None:
        for e in self.envoys:
            e.close()
        for a in self.apps:
            a.shutdown()
            a.server_close()

    def __enter__(self) -> TrafficBed:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def load(self, requests: int = 100, concurrency: int = 4, path: str = "/productpage") -> int:
        """Send ``requests`` GETs through the ingress; returns how many got any HTTP answer."""
        done = [0]
        lock = threading.Lock()
        per = [requests // concurrency + (1 if i < requests % concurrency else 0) for i in range(concurrency)]

        def worker(n: int) -> None:
            for _ in range(n):
                try:
                    with urllib.request.urlopen(self.ingress_url + path, timeout=10) as r:  # noqa: S310
                        r.read()
                except urllib.error.HTTPError:
                    pass
                except Exception:
                    continue
                with lock:
                    done[0] += 1

        threads = [threading.Thread(target=worker, args=(n,), daemon=True) for n in per]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        return done[0]


def start_bed(reviews_weights: dict[str, int] | None = None, reviews_error_rate: dict[str, float] | None = None,
              external_calls: bool = True, reviews_retries: int = 0,
              aborts: dict[str, float] | None = None) -> TrafficBed:
    """Start the bed (2 Envoys, 6 tiny apps). Close it with ``.close()`` or use it as a context manager.

    ``reviews_retries`` > 0 gives productpage's reviews route Istio's retry policy shape (``retry_on: 5xx``,
    that many retries), so a failing reviews version is tried again, as a VirtualService ``retries`` does.
    ``aborts`` (``{"reviews": 50.0}``) puts Istio's per-route fault (``fault.abort`` httpStatus 503, that
    percentage) on productpage's route to that service: its sidecar answers those requests itself.
    """
    weights = reviews_weights or {"v1": 50, "v2": 30, "v3": 20}
    errors = reviews_error_rate or {}
    bed = TrafficBed(weights)
    try:
        backends: dict[str, _App] = {}
        for name in ("details-v1", *(f"reviews-{v}" for v in weights)):
            app = _App(name, errors.get(name.split("-")[1], 0.0) if name.startswith("reviews") else 0.0, None, [])
            backends[name] = app
        ext = _App("api.example.org", 0.0, None, [])
        pp_out = free_port()
        calls = ["details", "reviews"] + (["api.example.org"] if external_calls else [])
        pp = _App("productpage-v1", 0.0, pp_out, calls)
        bed.apps.extend([*backends.values(), ext, pp])
        for a in bed.apps:
            threading.Thread(target=a.serve_forever, daemon=True).start()

        def out(name: str, subset: str) -> str:
            return f"outbound|9080|{subset}|{_host(name)}"

        pp_in = free_port()
        clusters = [_cluster(out("details", "v1"), backends["details-v1"].server_address[1])]
        clusters += [_cluster(out("reviews", v), backends[f"reviews-{v}"].server_address[1]) for v in weights]
        clusters += [_cluster("PassthroughCluster", ext.server_address[1]), _cluster("inbound|9080||", pp.server_address[1])]
        vhosts: list[dict[str, Any]] = [
            {"name": "details", "domains": ["details", "details:9080", _host("details")],
             "routes": [{"match": {"prefix": "/"}, "route": {"cluster": out("details", "v1")}}]},
            {"name": "reviews", "domains": ["reviews", "reviews:9080", _host("reviews")],
             "routes": [{"match": {"prefix": "/"}, "route": {"weighted_clusters": {"clusters": [
                 {"name": out("reviews", v), "weight": w} for v, w in weights.items() if w > 0]},
                 **({"retry_policy": {"retry_on": "5xx", "num_retries": reviews_retries,
                                      "retry_back_off": {"base_interval": "0.001s", "max_interval": "0.002s"}}}
                    if reviews_retries else {})}}]},
            # ratings only routes /ratings (other paths: 404 NR); "missing" names a cluster the proxy lacks (503 NC)
            {"name": "ratings", "domains": ["ratings", "ratings:9080"],
             "routes": [{"match": {"prefix": "/ratings"}, "route": {"cluster": out("details", "v1")}}]},
            {"name": "missing", "domains": ["missing", "missing:9080"],
             "routes": [{"match": {"prefix": "/"}, "route": {"cluster": out("missing", "v9")}}]},
            {"name": "allow_any", "domains": ["*"], "routes": [{"match": {"prefix": "/"}, "route": {"cluster": "PassthroughCluster"}}]},
        ]
        for vh in vhosts:
            pct = (aborts or {}).get(str(vh["name"]))
            if pct is not None:
                for r in vh["routes"]:
                    r["typed_per_filter_config"] = {"envoy.filters.http.fault": {
                        "@type": "type.googleapis.com/envoy.extensions.filters.http.fault.v3.HTTPFault",
                        "abort": {"http_status": 503,
                                  "percentage": {"numerator": int(pct * 10_000), "denominator": "MILLION"}}}}
        inbound_vh = [{"name": "inbound", "domains": ["*"], "routes": [{"match": {"prefix": "/"}, "route": {"cluster": "inbound|9080||"}}]}]
        pp_boot = {
            "stats_flush_interval": "1s",  # histogram quantiles refresh every second (Istio: 5s)
            "node": _node("sidecar", "productpage-v1-0", "productpage-v1", {"app": "productpage", "version": "v1"}, NS),
            "static_resources": {
                "listeners": [
                    _hcm_listener("0.0.0.0_9080", pp_out, "outbound_0.0.0.0_9080", vhosts),
                    _hcm_listener("virtualInbound", pp_in, "inbound_0.0.0.0_9080", inbound_vh),
                ],
                "clusters": clusters,
            },
        }
        gw_port = free_port()
        gw_boot = {
            "stats_flush_interval": "1s",
            "node": _node("router", "istio-ingressgateway-0", "istio-ingressgateway",
                          {"app": "istio-ingressgateway", "istio": "ingressgateway"}, "istio-system"),
            "static_resources": {
                "listeners": [_hcm_listener("0.0.0.0_8080", gw_port, "outbound_0.0.0.0_8080", [
                    {"name": "bookinfo", "domains": ["*"], "routes": [
                        {"match": {"prefix": "/"}, "route": {"cluster": out("productpage", "")}}]}])],
                "clusters": [_cluster(out("productpage", ""), pp_in)],
            },
        }
        pp_env = start_envoy(pp_boot)
        bed.envoys.append(pp_env)
        gw_env = start_envoy(gw_boot)
        bed.envoys.append(gw_env)
        bed.ingress_url = f"http://127.0.0.1:{gw_port}"
        bed.sidecar_url = f"http://127.0.0.1:{pp_out}"
        bed.targets = [
            ProxyTarget(pp_env.admin_url, NS, "productpage-v1", "sidecar", "productpage-v1-0", {"app": "productpage", "version": "v1"}),
            ProxyTarget(gw_env.admin_url, "istio-system", "istio-ingressgateway", "router", "istio-ingressgateway-0",
                        {"app": "istio-ingressgateway", "istio": "ingressgateway"}),
        ]
        # Envoy listens once /ready says LIVE; give listeners a beat to accept.
        time.sleep(0.1)
        return bed
    except BaseException:
        bed.close()
        raise
