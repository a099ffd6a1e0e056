"""Benchmark: ``meshctl analyze -A`` over 10,000 generated resources, against just loading the same YAML.

Generates a mesh of Services, VirtualServices, DestinationRules, ServiceEntries and Gateways (plus the
gateway and app pods they select) over 50 namespaces, written as one file per namespace. Measures side by
side, in one run, each in a fresh subprocess so peak memory is its own:

  * YAML loading only: ``meshctl.sources.load_paths`` of the directory (the basis of the target),
  * ``meshctl analyze -A -o json DIR`` (load + every analyzer + JSON output).

Prints figures and one summary line. Targets: analyze time <= 2x the YAML loading time, and peak RSS
< 500 MB. Times are CPU time (user + sys) of each subprocess, which other work on a shared machine does not
inflate the way it inflates wall time (printed too). Exits 1 when it misses either (or when analyze fails). Best of ``--repeat`` runs.

    .venv/bin/python benchmarks/analyze.py [--resources 10000] [--repeat 3]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

_HERE = os.path.dirname(os.path.abspath(__file__))
sys.path[:] = [p for p in sys.path if os.path.abspath(p or ".") != _HERE]

TARGET_RATIO = 2.0
TARGET_RSS_MB = 500
NAMESPACES = 50

_CHILD = r"""
import json, resource, sys, time
t = time.perf_counter()
mode, path = sys.argv[1], sys.argv[2]
if mode == "yaml":
    import os, yaml
    n = 0
    for f in sorted(os.listdir(path)):
        with open(os.path.join(path, f)) as fh:
            n += sum(1 for d in yaml.load_all(fh, Loader=yaml.CSafeLoader) if d is not None)
    out = str(n)
elif mode == "load":
    from meshctl.sources import load_paths
    n = len(load_paths([path], default_namespace=""))
    out = str(n)
else:
    import io, contextlib
    from meshctl.cli.main import main
    buf = io.StringIO()
    code = 0
    with contextlib.redirect_stdout(buf):
        try:
            main(["analyze", "-A", "-o", "json", path])
        except SystemExit as e:
            code = e.code
    out = str(len(json.loads(buf.getvalue()))) if code in (0, 79) else f"exit {code}"
dt = time.perf_counter() - t
ru = resource.getrusage(resource.RUSAGE_SELF)
print(json.dumps({"seconds": ru.ru_utime + ru.ru_stime, "wall": dt, "rss_mb": ru.ru_maxrss / 1024, "out": out}))
"""


def generate(root: str, total: int) -> int:
    """Write ``total`` resources, one file per namespace; returns the count written."""
    per_ns = max(total // NAMESPACES, 10)
    written = 0
    for n in range(NAMESPACES):
        ns = f"team-{n:02d}"
        docs = [f"apiVersion: v1\nkind: Namespace\nmetadata: {{name: {ns}, labels: {{istio-injection: enabled}}}}\n"]
        k = (per_ns - 3) // 5
        for i in range(k):
            app = f"svc-{i}"
            docs.append(f"apiVersion: v1\nkind: Service\nmetadata: {{name: {app}, namespace: {ns}}}\nspec:\n  selector: {{app: {app}}}\n"
                        f"  ports: [{{name: http, port: 8080}}]\n")
            nxt = f"svc-{(i + 1) % k}"
            docs.append(f"apiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata: {{name: {app}, namespace: {ns}}}\nspec:\n"
                        f"  hosts: [{app}]\n  http:\n  - match: [{{uri: {{prefix: /v2}}}}]\n    route:\n"
                        f"    - {{destination: {{host: {app}, subset: v2}}, weight: 90}}\n    - {{destination: {{host: {nxt}, subset: v1}}, weight: 10}}\n"
                        f"    timeout: 3s\n  - route: [{{destination: {{host: {app}, subset: v1}}}}]\n    timeout: 3s\n")
            docs.append(f"apiVersion: networking.istio.io/v1\nkind: DestinationRule\nmetadata: {{name: {app}, namespace: {ns}}}\nspec:\n"
                        f"  host: {app}\n  trafficPolicy: {{tls: {{mode: ISTIO_MUTUAL}}}}\n"
                        f"  subsets: [{{name: v1, labels: {{version: v1}}}}, {{name: v2, labels: {{version: v2}}}}]\n")
            docs.append(f"apiVersion: networking.istio.io/v1\nkind: ServiceEntry\nmetadata: {{name: ext-{i}, namespace: {ns}}}\nspec:\n"
                        f"  hosts: [api-{i}.{ns}.example.com]\n  location: MESH_EXTERNAL\n  resolution: DNS\n"
                        f"  ports: [{{number: 443, name: https, protocol: HTTPS}}]\n")
            docs.append(f"apiVersion: networking.istio.io/v1\nkind: Gateway\nmetadata: {{name: gw-{i}, namespace: {ns}}}\nspec:\n"
                        f"  selector: {{istio: ingress-{ns}}}\n  servers:\n  - port: {{number: 443, name: https-{i}, protocol: HTTPS}}\n"
                        f"    hosts: ['{app}.{ns}.example.com']\n    tls: {{mode: SIMPLE, credentialName: cert-{i}}}\n")
        docs.append(f"apiVersion: v1\nkind: Pod\nmetadata: {{name: ingress-0, namespace: {ns}, labels: {{istio: ingress-{ns}}}}}\n"
                    f"spec: {{containers: [{{name: istio-proxy, image: proxyv2}}]}}\n")
        docs.append(f"apiVersion: v1\nkind: Service\nmetadata: {{name: ingress, namespace: {ns}}}\nspec:\n  selector: {{istio: ingress-{ns}}}\n"
                    f"  ports: [{{name: https, port: 443}}]\n")
        if n == NAMESPACES - 1:  # top up to exactly ``total`` with plain Services
            docs += [f"apiVersion: v1\nkind: Service\nmetadata: {{name: extra-{j}, namespace: {ns}}}\nspec:\n  ports: [{{name: http, port: 80}}]\n"
                     for j in range(max(0, total - written - len(docs)))]
        written += len(docs)
        with open(os.path.join(root, f"{ns}.yaml"), "w") as fh:
            fh.write("---\n".join(docs))
    return written


def child(mode: str, path: str) -> dict:
    p = subprocess.run([sys.executable, "-c", _CHILD, mode, path], capture_output=True, text=True, timeout=1800)
    if p.returncode != 0:
        raise SystemExit(f"{mode} failed: {p.stderr[-2000:]}")
    return json.loads(p.stdout.strip().splitlines()[-1])


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--resources", type=int, default=10_000)
    ap.add_argument("--repeat", type=int, default=3)
    a = ap.parse_args()
    with tempfile.TemporaryDirectory() as d:
        n = generate(d, a.resources)
        size = sum(os.path.getsize(os.path.join(d, f)) for f in os.listdir(d))
        print(f"generated {n} resources in {NAMESPACES} files ({size / 1e6:.1f} MB)")
        plain, loads, runs = [], [], []
        t0 = time.perf_counter()
        for _ in range(a.repeat):
            plain.append(child("yaml", d))
            loads.append(child("load", d))
            runs.append(child("analyze", d))
        best_plain = min(plain, key=lambda r: r["seconds"])
        best_load = min(loads, key=lambda r: r["seconds"])
        best_run = min(runs, key=lambda r: r["seconds"])
        rss = max(r["rss_mb"] for r in runs)
        # The target is judged against plain YAML loading (yaml.load_all with CSafeLoader), as in
        # benchmarks/translate.py and model.py; meshctl's line-tracking loader is printed beside it.
        ratio = best_run["seconds"] / best_plain["seconds"]
        print(f"YAML load (CSafeLoader): {best_plain['seconds']:.2f}s CPU (wall {best_plain['wall']:.2f}s)  peak {best_plain['rss_mb']:.0f} MB  ({best_plain['out']} documents)")
        print(f"meshctl loader only : {best_load['seconds']:.2f}s CPU (wall {best_load['wall']:.2f}s)  peak {best_load['rss_mb']:.0f} MB  ({best_load['out']} resources), {best_run['seconds'] / best_load['seconds']:.2f}x of it for analyze")
        print(f"meshctl analyze -A  : {best_run['seconds']:.2f}s CPU (wall {best_run['wall']:.2f}s)  peak {rss:.0f} MB  ({best_run['out']} messages)")
        print(f"(wall {time.perf_counter() - t0:.1f}s for {a.repeat} rounds)")
    ok = ratio <= TARGET_RATIO and rss < TARGET_RSS_MB and not str(best_run["out"]).startswith("exit")
    print(f"analyze {n} resources: {best_run['seconds']:.2f}s CPU = {ratio:.2f}x YAML load (target <= {TARGET_RATIO}x), "
          f"peak {rss:.0f} MB (target < {TARGET_RSS_MB} MB): {'OK' if ok else 'MISS'}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
