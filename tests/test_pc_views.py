"""proxy-config views on our own dumps from the real Envoy (tests/fixtures/pc, made by make_dumps.py).

Golden files hold the exact short output; other tests check specific istioctl rules on the same dumps.
"""

from __future__ import annotations

import json
import sys
from typing import Any

import pytest
import yaml
from conftest import FIXTURES, run_cli

PC = FIXTURES / "pc"
sys.path.insert(0, str(PC))

from make_dumps import GOLDEN  # noqa: E402


@pytest.mark.parametrize(("golden", "argv"), GOLDEN, ids=[g for g, _ in GOLDEN])
def test_golden_output(golden: str, argv: list[str], cli: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(PC)
    code, out, err = cli(argv)
    assert code == 0, err
    assert out == (PC / "golden" / golden).read_text()


def test_cluster_json_is_istioctl_shape(cli: Any) -> None:
    code, out, _ = cli(
        ["pc", "cluster", "--file", str(PC / "sidecar_dump.json"), "--fqdn", "ratings", "-o", "json"]
    )
    assert code == 0
    data = json.loads(out)
    assert [c["name"] for c in data] == ["outbound|9080||ratings.default.svc.cluster.local"]
    c = data[0]
    # camelCase, Durations as strings, uint32 wrappers as numbers, metadata kept
    assert c["connectTimeout"] == "10s"
    assert c["outlierDetection"]["consecutive5xx"] == 5
    assert c["metadata"]["filterMetadata"]["istio"]["config"].endswith("/destination-rule/ratings")
    assert list(c)[:3] == ["name", "type", "edsClusterConfig"]  # proto field-number order
    assert out.startswith("[\n    {\n")  # 4-space indent like json.MarshalIndent


def test_route_yaml_and_filter(cli: Any) -> None:
    code, out, _ = cli(
        ["pc", "route", "--file", str(PC / "sidecar_dump.json"), "--name", "9080", "-o", "yaml"]
    )
    assert code == 0
    data = yaml.safe_load(out)
    vhosts = {vh["name"]: vh for vh in data[0]["virtualHosts"]}
    reviews = vhosts["reviews.default.svc.cluster.local:9080"]
    assert reviews["routes"][0]["route"]["cluster"] == "outbound|9080|v2|reviews.default.svc.cluster.local"
    weights = [c["weight"] for c in reviews["routes"][1]["route"]["weightedClusters"]["clusters"]]
    assert weights == [90, 10]


def test_listener_filters(cli: Any) -> None:
    dump = str(PC / "sidecar_dump.json")
    code, out, _ = cli(["pc", "listener", "--file", dump, "--type", "http+tcp", "--verbose=false"])
    assert code == 0
    assert [ln.split()[1] for ln in out.splitlines()[1:]] == ["9080", "15006"]
    code, out, _ = cli(["pc", "listener", "--file", dump, "--address", "127.0.0.1", "--port", "15001"])
    assert "Addr: 10.244.0.10/32" in out and "PassthroughCluster" in out
    assert "9080" not in out


def test_aliases_and_stdin(cli: Any) -> None:
    text = (PC / "sidecar_dump.json").read_text()
    code1, out1, _ = run_cli(["pc", "c", "-f", "-"], input=text)
    code2, out2, _ = run_cli(["proxy-config", "cluster", "--file", str(PC / "sidecar_dump.json")])
    assert code1 == code2 == 0
    assert out1 == out2


def test_eds_filters(cli: Any) -> None:
    dump = str(PC / "sidecar_dump.json")
    code, out, _ = cli(["pc", "eds", "--file", dump, "--port", "19085"])
    rows = out.splitlines()[1:]
    assert len(rows) == 2 and all("19085" in r for r in rows)
    code, out, _ = cli(["pc", "eds", "--file", dump, "--status", "unhealthy"])
    assert out.splitlines() == ["NAME     STATUS     LOCALITY     CLUSTER"]


def test_endpoint_reads_clusters_json_not_config_dump(cli: Any) -> None:
    code, _, err = cli(["pc", "endpoint", "--file", str(PC / "sidecar_dump.json")])
    assert code == 65
    assert "not a /clusters?format=json dump" in err


def test_secret_view_never_prints_key_material(cli: Any, shared_dir: Any) -> None:
    dump = shared_dir / "conformance/istio-proxyconfig/cases/pc-secret-summary-istio/config_dump.json"
    raw = json.loads(dump.read_text())
    # put a fake private key in, as an unredacted dump would carry it
    sec = raw["configs"][0]["dynamic_active_secrets"][0]["secret"]["tls_certificate"]
    sec["private_key"] = {"inline_string": "-----BEGIN PRIVATE KEY-----SECRETSECRET"}
    code, out, _ = run_cli(["pc", "secret", "--file", "-", "-o", "json"], input=json.dumps(raw))
    assert code == 0
    assert "SECRETSECRET" not in out and "[redacted]" in out
    assert json.loads(out)["dynamicActiveSecrets"][0]["name"] == "default"


def test_bootstrap_json_default_output(cli: Any) -> None:
    code, out, _ = cli(["pc", "bootstrap", "--file", str(PC / "sidecar_dump.json")])
    assert code == 0
    node = json.loads(out)["bootstrap"]["node"]
    assert node["id"] == "sidecar~10.244.0.10~productpage-v1-0.default~default.svc.cluster.local"
    assert node["userAgentBuildVersion"]["version"]["minorNumber"] == 40


def test_all_json_is_the_raw_dump(cli: Any) -> None:
    code, out, _ = cli(["pc", "all", "--file", str(PC / "sidecar_dump.json"), "-o", "json"])
    assert code == 0
    assert json.loads(out) == json.loads((PC / "sidecar_dump.json").read_text())


def test_all_with_headers(cli: Any) -> None:
    code, out, _ = cli(["pc", "all", "--file", str(PC / "sidecar_dump.json"), "--with-headers"])
    assert code == 0
    for title in ("BOOTSTRAP", "CLUSTER", "LISTENER", "ROUTE", "SECRET", "ENDPOINTS"):
        assert f"------ {title} INFO ------" in out


def test_target_is_required(cli: Any) -> None:
    code, _, err = cli(["pc", "cluster"])
    assert code == 64 and "no target" in err
    code, _, err = cli(["pc", "cluster", "--admin", "http://127.0.0.1:1", "--file", "x.json"])
    assert code == 64


def test_pod_target_without_cluster_access(cli: Any) -> None:
    """A pod target goes through the Kubernetes adapter's port-forward; without a cluster: a clear error."""
    code, _, err = cli(
        ["pc", "cluster", "pod/reviews-v1-0", "-n", "default", "--kubeconfig", "/nonexistent/kubeconfig"]
    )
    assert code in (64, 65, 69)
    assert "Traceback" not in err and err.startswith("Error:") and "kubeconfig" in err


def test_log_is_read_only(cli: Any) -> None:
    code, _, err = cli(["pc", "log", "--admin", "http://127.0.0.1:1", "--level", "debug"])
    assert code == 64 and "read-only" in err


@pytest.mark.parametrize(
    ("module", "argv"),
    [
        ("cluster", ["pc", "cluster"]),
        ("cluster", ["pc", "cluster", "--fqdn", "reviews", "--subset", "v2"]),
        ("eds", ["pc", "eds"]),
        ("eds", ["pc", "eds", "--port", "19085"]),
        ("eds", ["pc", "eds", "--cluster", "OUTBOUND|9080||ratings.default.svc.cluster.local"]),
    ],
)
def test_big_dump_fast_path_prints_the_same(
    module: str, argv: list[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Any
) -> None:
    """Big dumps build the cluster/eds tables from the JSON directly; the output must not change."""
    import importlib

    mod = importlib.import_module(f"meshctl.envoy.views.{module}")
    path = str(PC / "sidecar_dump.json")
    slow = run_cli([*argv, "--file", path])
    monkeypatch.setattr(mod, "FAST_PATH_MIN", 1)
    fast = run_cli([*argv, "--file", path])
    assert slow == fast and slow[0] == 0 and slow[1].count("\n") >= 2


def test_secret_spiffe_trust_domains(shared_dir: Any) -> None:
    """A SPIFFE validator lists one CA row per trust domain; certificates get theirs from the SPIFFE ID."""
    src = json.loads(
        (
            shared_dir / "conformance/istio-proxyconfig/cases/pc-secret-summary-istio/config_dump.json"
        ).read_text()
    )
    active = src["configs"][0]["dynamic_active_secrets"]
    root_pem = active[1]["secret"]["validation_context"]["trusted_ca"]["inline_bytes"]
    active[1]["secret"]["validation_context"] = {
        "custom_validator_config": {
            "name": "envoy.tls.cert_validator.spiffe",
            "typed_config": {
                "@type": "type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.SPIFFECertValidatorConfig",
                "trust_domains": [
                    {"name": "cluster.local", "trust_bundle": {"inline_bytes": root_pem}},
                    {"name": "west.local", "trust_bundle": {"inline_bytes": root_pem}},
                ],
            },
        }
    }
    src["configs"][0].pop("dynamic_warming_secrets")
    code, out, err = run_cli(["pc", "secret", "--file", "-"], input=json.dumps(src))
    assert code == 0, err
    rows = [ln.split() for ln in out.splitlines()]
    assert rows[0][-2:] == ["BEFORE", "TRUST"] or out.splitlines()[0].endswith("TRUST DOMAIN")
    assert [(r[0], r[-1]) for r in rows[1:]] == [
        ("default", "cluster.local"),
        ("ROOTCA", "cluster.local"),
        ("ROOTCA", "west.local"),
    ]


def test_rootca_compare(shared_dir: Any, tmp_path: Any) -> None:
    src = shared_dir / "conformance/istio-proxyconfig/cases/pc-secret-summary-istio/config_dump.json"
    code, out, _ = run_cli(["pc", "rc", "-f", str(src), "-f", str(src)])
    assert code == 0 and "have the identical ROOTCA" in out
    other = json.loads(src.read_text())
    active = other["configs"][0]["dynamic_active_secrets"]
    # a proxy whose root is some other certificate (here: the leaf workload cert of the first one)
    import base64

    chain = base64.b64decode(
        active[0]["secret"]["tls_certificate"]["certificate_chain"]["inline_bytes"]
    ).decode()
    leaf = chain[: chain.index("-----END CERTIFICATE-----") + len("-----END CERTIFICATE-----")] + "\n"
    active[1]["secret"]["validation_context"]["trusted_ca"] = {
        "inline_bytes": base64.b64encode(leaf.encode()).decode()
    }
    path = tmp_path / "other.json"
    path.write_text(json.dumps(other))
    code, out, err = run_cli(["pc", "rootca-compare", "--file", str(src), "--file", str(path)])
    assert code == 1 and "have the non identical ROOTCA" in out
    code, _, err = run_cli(["pc", "rc", "-f", str(src)])
    assert code == 64 and "requires 2 proxies" in err
