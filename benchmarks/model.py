"""Benchmark: typed Istio validation and the model build, side by side with a plain YAML load.

Measures, in one run, on the same generated input (N services, each with 3 pods, a VirtualService and a
DestinationRule with 3 subsets):
  * plain ``yaml.load_all`` with ``CSafeLoader`` (the basis),
  * pydantic validation of N VirtualServices + N DestinationRules, from plain dicts and from meshctl's
    line-aware dicts (what ``build_mesh`` actually validates),
  * ``build_mesh`` (validation, registry, workloads, endpoints, indexes).
CPU time (``time.process_time``), best of ``--repeat``, so a busy shared machine distorts less.
Targets: validating 1,000 VS + 1,000 DR under 0.1 s, and ``build_mesh`` at most 1.5x the CSafeLoader load of
the same YAML. Exits 1 when it misses.

    .venv/bin/python benchmarks/model.py [--services 1000] [--repeat 3]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections.abc import Callable
from typing import Any

_HERE = os.path.dirname(os.path.abspath(__file__))
sys.path[:] = [p for p in sys.path if os.path.abspath(p or ".") != _HERE]  # benchmarks/xds.py shadows `xds`

import yaml  # noqa: E402

VALIDATE_TARGET_S = 0.1  # for 1,000 VS + 1,000 DR (the brief: "well under 100 ms")
BUILD_RATIO_TARGET = 1.5


def generate(n: int) -> str:
    docs: list[str] = []
    for i in range(n):
        name = f"svc-{i}"
        docs.append(f"""apiVersion: v1
kind: Service
metadata: {{name: {name}, namespace: bench}}
spec:
  selector: {{app: {name}}}
  ports:
  - {{name: http, port: 8080, targetPort: 8080}}""")
        for v in (1, 2, 3):
            docs.append(f"""apiVersion: v1
kind: Pod
metadata: {{name: {name}-v{v}, namespace: bench, labels: {{app: {name}, version: v{v}}}}}
spec: {{containers: [{{name: app, ports: [{{containerPort: 8080}}]}}]}}
status: {{podIP: 10.{200 + v}.{i // 250}.{i % 250 + 1}, phase: Running}}""")
        docs.append(f"""apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {{name: {name}, namespace: bench}}
spec:
  host: {name}
  trafficPolicy:
    loadBalancer: {{simple: ROUND_ROBIN}}
    connectionPool: {{http: {{http1MaxPendingRequests: 100, maxRequestsPerConnection: 10}}}}
    outlierDetection: {{consecutive5xxErrors: 5, interval: 10s, baseEjectionTime: 30s}}
  subsets:
  - {{name: v1, labels: {{version: v1}}}}
  - {{name: v2, labels: {{version: v2}}}}
  - {{name: v3, labels: {{version: v3}}}}""")
        docs.append(f"""apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {{name: {name}, namespace: bench}}
spec:
  hosts: [{name}]
  http:
  - match: [{{headers: {{end-user: {{exact: jason}}}}}}]
    route: [{{destination: {{host: {name}, subset: v2}}}}]
    timeout: 3s
    retries: {{attempts: 2, perTryTimeout: 1s}}
  - route:
    - {{destination: {{host: {name}, subset: v1}}, weight: 90}}
    - {{destination: {{host: {name}, subset: v3}}, weight: 10}}""")
    return "\n---\n".join(docs)


def best(fn: Callable[[], Any], repeat: int) -> tuple[float, Any]:
    t_best, result = float("inf"), None
    for _ in range(repeat):
        t0 = time.process_time()
        result = fn()
        t_best = min(t_best, time.process_time() - t0)
    return t_best, result


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--services", type=int, default=1000)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()

    from meshctl.model import build_mesh
    from meshctl.model.api import DestinationRule, VirtualService
    from meshctl.sources import load_text

    text = generate(args.services)
    n_docs = text.count("\n---\n") + 1
    print(f"input: {args.services} services, {n_docs} YAML documents, {len(text) / 1e6:.1f} MB")

    t_yaml, _ = best(lambda: list(yaml.load_all(text, Loader=yaml.CSafeLoader)), args.repeat)
    resources = load_text(text, "bench.yaml")
    istio = [(r.kind, r.spec) for r in resources if r.kind in ("VirtualService", "DestinationRule")]
    plain = [(k, json.loads(json.dumps(s))) for k, s in istio]
    models = {"VirtualService": VirtualService, "DestinationRule": DestinationRule}

    def validate(items: list[tuple[str, Any]]) -> int:
        for kind, spec in items:
            models[kind].model_validate(spec)
        return len(items)

    t_plain, count = best(lambda: validate(plain), args.repeat)
    t_lines, _ = best(lambda: validate(istio), args.repeat)

    def build() -> Any:
        for r in resources:  # drop cached typed specs and Kubernetes checks so every run validates again
            r.extra.pop("typed_spec", None)
            r.extra.pop("kube_checked", None)
        return build_mesh(resources)

    t_build, mesh = best(build, args.repeat)
    scale = 1000 / args.services
    print(f"yaml.load_all (CSafeLoader)        : {t_yaml * 1000:8.1f} ms   <- basis")
    print(f"validate {count} VS+DR (plain dicts) : {t_plain * 1000:8.1f} ms")
    print(f"validate {count} VS+DR (line-aware)  : {t_lines * 1000:8.1f} ms   <- what build_mesh does")
    print(
        f"build_mesh                         : {t_build * 1000:8.1f} ms   ({len(mesh.services)} services, "
        f"{len(mesh.workloads)} workloads, {len(mesh.virtual_services)} VS, {len(mesh.destination_rules)} DR)"
    )
    per_1000 = t_lines * scale
    ratio = t_build / t_yaml
    ok = per_1000 < VALIDATE_TARGET_S and ratio <= BUILD_RATIO_TARGET
    print(
        f"SUMMARY model: validate 1000 VS+1000 DR {per_1000 * 1000:.0f} ms (target < {VALIDATE_TARGET_S * 1000:.0f}), "
        f"build_mesh {ratio:.2f}x CSafeLoader (target <= {BUILD_RATIO_TARGET}x): {'PASS' if ok else 'FAIL'}"
    )
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
