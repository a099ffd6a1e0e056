"""``meshctl describe pod|svc``: istioctl x describe's report from YAML (through the translator) or a dump.

The golden reports are the output of the CASES argv on the bookinfo example; after a reviewed change,
regenerate them with ``.venv/bin/python tests/test_describe.py``.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest
from conftest import BOOKINFO, FIXTURES, run_cli

GOLDEN = FIXTURES / "pc" / "golden"
CASES = [
    ("describe-pod-reviews-v1.txt", ["describe", "pod", "reviews-v1"]),
    ("describe-pod-productpage-v1.txt", ["describe", "po", "productpage-v1.default"]),
    ("describe-svc-reviews.txt", ["describe", "svc", "reviews"]),
    ("describe-svc-ratings.txt", ["describe", "service", "ratings", "-n", "default"]),
]


@pytest.mark.parametrize(("golden", "argv"), CASES, ids=[c[0] for c in CASES])
def test_bookinfo_golden(golden: str, argv: list[str]) -> None:
    code, out, err = run_cli([*argv, "-f", str(BOOKINFO)])
    assert code == 0, err
    assert out == (GOLDEN / golden).read_text()


def test_pod_reports_subsets_weights_and_mtls() -> None:
    code, out, _ = run_cli(["describe", "pod", "reviews-v1", "-f", str(BOOKINFO)])
    assert code == 0
    assert 'DestinationRule: reviews for "reviews"' in out
    assert "   Matching subsets: v1\n      (Non-matching subsets v2,v3)" in out
    assert '   Route to host "reviews" subset "v1" with weight 90%' in out
    assert "   1 additional destination(s) that will not reach this pod" in out
    assert "   Workload mTLS mode: PERMISSIVE" in out


def _bookinfo_copy(tmp_path: Path) -> Path:
    cfg = tmp_path / "bookinfo"
    shutil.copytree(BOOKINFO, cfg)
    return cfg


def test_warnings_unreachable_and_undefined_subsets(tmp_path: Path) -> None:
    cfg = _bookinfo_copy(tmp_path)
    routing = cfg / "routing.yaml"
    text = routing.read_text()
    text = text.replace(
        "  - name: v3\n    labels:\n      version: v3\n",
        "  - name: v3\n    labels:\n      version: v3\n  - name: v4\n    labels:\n      version: v4\n",
        1,
    )
    text = text.replace("        subset: v2\n", "        subset: v5\n", 1)
    routing.write_text(text)
    code, out, err = run_cli(["describe", "svc", "reviews", "-f", str(cfg)])
    assert code == 0, err
    assert "WARNING: subset v4 selects no workload (labels version=v4)" in out
    assert "WARNING: a route sends traffic to subset v5 but DestinationRule reviews has no subset 'v5'" in out


def test_peer_authentication_applied(tmp_path: Path) -> None:
    cfg = _bookinfo_copy(tmp_path)
    (cfg / "pa.yaml").write_text(
        "apiVersion: security.istio.io/v1\nkind: PeerAuthentication\nmetadata: {name: strict, namespace: default}\n"
        "spec:\n  selector: {matchLabels: {app: ratings}}\n  mtls: {mode: STRICT}\n  portLevelMtls:\n    9080: {mode: PERMISSIVE}\n"
    )
    code, out, _ = run_cli(["describe", "pod", "ratings-v1", "-f", str(cfg)])
    assert code == 0
    assert (
        "Effective PeerAuthentication:\n   Workload mTLS mode: STRICT\n   Port Level mTLS mode:\n      9080: PERMISSIVE\nApplied PeerAuthentication:\n   strict.default"
        in out
    )


def test_stale_proxy_from_a_dump(tmp_path: Path) -> None:
    """With --file the pod's actual config is used: a DestinationRule gone from the config shows as stale."""
    cfg = _bookinfo_copy(tmp_path)
    routing = cfg / "routing.yaml"
    text = routing.read_text()
    start = text.index("kind: DestinationRule\nmetadata:\n  name: ratings")
    start = text.rindex("---", 0, start)
    end = text.find("---", start + 3)
    routing.write_text(text[:start] + (text[end:] if end != -1 else ""))
    code, out, err = run_cli(
        [
            "describe",
            "pod",
            "ratings-v1",
            "-f",
            str(cfg),
            "--file",
            str(FIXTURES / "pc" / "sidecar_dump.json"),
        ]
    )
    assert code == 0, err
    assert "WARNING: Proxy is stale; it references to non-existent destination rule ratings.default" in out


def test_errors() -> None:
    code, _, err = run_cli(["describe", "pod", "-f", str(BOOKINFO)])
    assert code == 64 and "expecting pod name" in err
    code, _, err = run_cli(["describe", "pod", "nope", "-f", str(BOOKINFO)])
    assert code == 65 and 'pods "nope" not found' in err
    code, _, err = run_cli(["describe", "svc", "nope", "-f", str(BOOKINFO)])
    assert code == 65 and 'services "nope" not found' in err


def test_istioctl_describe_cases(shared_dir: Path, tmp_path: Path) -> None:
    """The shared describe cases run against an empty cluster: here, an empty config."""
    empty = tmp_path / "empty.yaml"
    empty.write_text("")
    index = json.loads((shared_dir / "conformance/istio-proxyconfig/index.json").read_text())
    cases: list[dict[str, Any]] = [c for c in index["cases"] if c["suite"] == "describe"]
    assert cases
    for c in cases:
        argv = list(c["argv"])  # istioctl's own spelling: experimental describe ...
        if len(argv) > 2:
            argv += ["-f", str(empty)]
        code, out, err = run_cli(argv)
        for want in json.loads(
            (shared_dir / "conformance/istio-proxyconfig" / c["expected"]["path"]).read_text()
        ):
            assert want in out + err, (c["id"], out, err)
        assert (code != 0) == c["expected"]["want_error"], c["id"]


def test_vs_path_helper_matches_istioctl(shared_dir: Path) -> None:
    from meshctl.envoy.describe import _vs_path
    from meshctl.envoy.dump import read_dump_file
    from meshctl.model.types import Protocol, Service, ServicePort

    svc = Service(
        "productpage.default.svc.cluster.local",
        "default",
        "productpage",
        [ServicePort("http", 9080, Protocol.HTTP)],
    )
    for case in ("fn-vs-path-from-route-test-http-config", "fn-vs-path-from-route-test-tls-config"):
        d = shared_dir / "conformance/istio-proxyconfig/cases" / case
        assert (
            _vs_path(read_dump_file(str(d / "config_dump.json")), svc, 9080)
            == (d / "expected.txt").read_text().strip()
        )


if __name__ == "__main__":  # regenerate the golden reports
    import os

    os.environ["MESHCTL_PLAIN"] = "1"
    for name, argv in CASES:
        code, out, err = run_cli([*argv, "-f", str(BOOKINFO)])
        assert code == 0, err
        (GOLDEN / name).write_text(out)
    print("wrote", len(CASES), "golden reports")


def test_rbac_policies_line_for_a_multi_port_service(tmp_path: Path) -> None:
    # reviews gets a second port; an ALLOW policy selects the reviews pods. For multi-port services istioctl
    # prefixes the RBAC line with the port; the policy names must still be printed.
    extra = tmp_path / "extra.yaml"
    extra.write_text(
        """\
apiVersion: v1
kind: Service
metadata: {name: reviews, namespace: default, labels: {app: reviews}}
spec:
  selector: {app: reviews}
  ports:
  - {name: http, port: 9080, targetPort: 9080}
  - {name: http-admin, port: 9090, targetPort: 9090}
---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: reviews-viewers, namespace: default}
spec:
  selector: {matchLabels: {app: reviews}}
  action: ALLOW
  rules:
  - from: [{source: {namespaces: [default]}}]
"""
    )
    base = tmp_path / "bookinfo"
    shutil.copytree(BOOKINFO, base)
    # drop the original reviews Service so the two-port one replaces it
    platform = (base / "platform.yaml").read_text()
    docs = [d for d in platform.split("---\n") if not ("kind: Service\n" in d and "name: reviews\n" in d)]
    (base / "platform.yaml").write_text("---\n".join(docs))
    code, out, err = run_cli(["describe", "pod", "reviews-v1", "-f", str(base), "-f", str(extra)])
    assert code == 0, err
    rbac = [line for line in out.splitlines() if "RBAC policies:" in line]
    assert rbac, out
    assert all("ns[default]-policy[reviews-viewers]" in line or "reviews-viewers" in line for line in rbac), rbac
    assert any(line.strip().startswith("9080 RBAC policies:") for line in rbac), rbac


def test_ingress_address_falls_back_to_the_gateway_pods_host_ip(tmp_path: Path) -> None:
    """istioctl's getIngressIP: load-balancer IP, else the gateway pod's hostIP, else "unknown"."""
    cfg = _bookinfo_copy(tmp_path)
    code, out, err = run_cli(["describe", "pod", "productpage-v1", "-f", str(cfg)])
    assert code == 0, err
    assert "Exposed on Ingress Gateway http://unknown" in out  # a Deployment has no hostIP (istioctl's word)
    (cfg / "gateway.yaml").unlink()  # the gateway as a running Pod instead of a Deployment
    text = (BOOKINFO / "gateway.yaml").read_text()
    docs = [d for d in text.split("\n---\n") if "kind: Deployment" not in d]
    pod = """apiVersion: v1
kind: Pod
metadata:
  name: istio-ingressgateway-0
  namespace: istio-system
  labels: {app: istio-ingressgateway, istio: ingressgateway}
spec:
  containers: [{name: istio-proxy, image: proxyv2, ports: [{containerPort: 8080}, {containerPort: 8443}]}]
status: {phase: Running, podIP: 10.244.0.9, hostIP: 192.168.49.2}
"""
    (cfg / "gateway-pod.yaml").write_text("\n---\n".join([*docs, pod]))
    code, out, err = run_cli(["describe", "pod", "productpage-v1", "-f", str(cfg)])
    assert code == 0, err
    assert "Exposed on Ingress Gateway http://192.168.49.2\n" in out, out
