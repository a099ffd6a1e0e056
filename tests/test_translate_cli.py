"""``meshctl translate``: output shapes, flags, errors, and for every fixture and example: every proxy's
``-o bootstrap`` passes the real ``envoy --mode validate``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from conftest import BOOKINFO, EXAMPLES, FIXTURES

TT = FIXTURES / "translate"
DUMP_TYPES = [
    "type.googleapis.com/envoy.admin.v3.BootstrapConfigDump",
    "type.googleapis.com/envoy.admin.v3.ClustersConfigDump",
    "type.googleapis.com/envoy.admin.v3.EndpointsConfigDump",
    "type.googleapis.com/envoy.admin.v3.ListenersConfigDump",
    "type.googleapis.com/envoy.admin.v3.RoutesConfigDump",
    "type.googleapis.com/envoy.admin.v3.SecretsConfigDump",
]


def test_default_output_is_config_dump_shape(cli: Any) -> None:
    code, out, err = cli(["translate", "-f", str(BOOKINFO), "--proxy", "deploy/productpage-v1"])
    assert code == 0, err
    dump = json.loads(out)
    assert [c["@type"] for c in dump["configs"]] == DUMP_TYPES
    boot, clusters, eds, listeners, routes, _ = dump["configs"]
    assert boot["bootstrap"]["node"]["id"].startswith("sidecar~") and boot["bootstrap"]["node"][
        "id"
    ].endswith("~default.svc.cluster.local")
    assert {c["cluster"]["name"] for c in clusters["dynamic_active_clusters"]} >= {
        "BlackHoleCluster",
        "outbound|9080|v1|reviews.default.svc.cluster.local",
    }
    lis = {d["name"]: d["active_state"]["listener"] for d in listeners["dynamic_listeners"]}
    assert lis["0.0.0.0_9080"]["@type"] == "type.googleapis.com/envoy.config.listener.v3.Listener"
    assert lis["0.0.0.0_9080"]["traffic_direction"] == "OUTBOUND"  # snake_case field names, enum names
    rc = {d["route_config"]["name"] for d in routes["dynamic_route_configs"]}
    assert "9080" in rc
    assert any(
        e["endpoint_config"]["cluster_name"] == "outbound|9080|v1|reviews.default.svc.cluster.local"
        for e in eds["dynamic_endpoint_configs"]
    )


def test_type_filter_and_yaml(cli: Any) -> None:
    code, out, _ = cli(
        ["translate", "-f", str(BOOKINFO), "--proxy", "deploy/productpage-v1", "--type", "route"]
    )
    assert code == 0 and [c["@type"] for c in json.loads(out)["configs"]] == [DUMP_TYPES[4]]
    code, out, _ = cli(
        [
            "translate",
            "-f",
            str(BOOKINFO),
            "--proxy",
            "productpage-v1.default",
            "--type",
            "listener",
            "-o",
            "yaml",
        ]
    )
    import yaml

    assert code == 0 and yaml.safe_load(out)["configs"][0]["@type"] == DUMP_TYPES[3]


def test_proxy_config_reads_the_dump_back(cli: Any, tmp_path: Path) -> None:
    code, out, _ = cli(["translate", "-f", str(BOOKINFO), "--proxy", "deploy/productpage-v1"])
    dump = tmp_path / "dump.json"
    dump.write_text(out)
    code, out, err = cli(["proxy-config", "routes", "--file", str(dump)])
    assert code == 0, err
    assert "reviews.default.svc.cluster.local:9080" in out and "reviews.default" in out


def test_all_proxies_writes_one_file_each(cli: Any, tmp_path: Path) -> None:
    code, _, err = cli(["translate", "-f", str(BOOKINFO), "--all-proxies", str(tmp_path)])
    assert code == 0, err
    names = sorted(p.name for p in tmp_path.iterdir())
    assert "productpage-v1.default.json" in names and "istio-ingressgateway.istio-system.json" in names
    gw = json.loads((tmp_path / "istio-ingressgateway.istio-system.json").read_text())
    assert gw["configs"][0]["bootstrap"]["node"]["id"].startswith("router~")


@pytest.mark.parametrize(
    ("args", "code", "needle"),
    [
        (["translate", "--proxy", "deploy/x"], 64, "no input"),
        (["translate", "-f", str(BOOKINFO)], 64, "--proxy"),
        (["translate", "-f", str(BOOKINFO), "--proxy", "deploy/nope"], 64, "no workload 'deploy/nope'"),
        (
            [
                "translate",
                "-f",
                str(BOOKINFO),
                "--proxy",
                "deploy/productpage-v1",
                "-o",
                "bootstrap",
                "--type",
                "route",
            ],
            64,
            "--type",
        ),
        (
            ["translate", "-f", str(BOOKINFO), "--proxy", "deploy/productpage-v1", "--type", "bogus"],
            64,
            "bogus",
        ),
        (["translate", "-f", "/nonexistent/x.yaml", "--proxy", "deploy/x"], None, "/nonexistent/x.yaml"),
    ],
)
def test_usage_errors(cli: Any, args: list[str], code: int | None, needle: str) -> None:
    rc, out, err = cli(args)
    assert (rc in (64, 65, 66)) if code is None else rc == code, (rc, err)
    assert needle in err and "Traceback" not in err


def test_bad_config_names_file_line_field(cli: Any, tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        "apiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata: {name: r, namespace: default}\n"
        "spec:\n  hosts: [reviews]\n  http:\n  - route:\n    - destination: {host: reviews}\n      wieght: 5\n"
    )
    code, _, err = cli(["translate", "-f", str(BOOKINFO), "-f", str(bad), "--proxy", "deploy/productpage-v1"])
    assert code == 65
    assert f"{bad}:9" in err and "wieght" in err and "Traceback" not in err


def test_help_has_examples(cli: Any) -> None:
    code, out, _ = cli(["translate", "--help"])
    assert code == 0 and "Examples:" in out and "-o bootstrap" in out


def _inputs() -> list[tuple[str, list[str], bool]]:
    """(label, files, loopback too?) for every example and fixture."""
    cases = [
        (f"examples/{p.name}", [str(p)], True)
        for p in sorted(EXAMPLES.iterdir())
        if p.is_dir() and p.name != "bookinfo-changes"
    ]
    # change files are applied over bookinfo (same-named objects replaced), as `meshctl demo apply` does
    cases += [
        (f"examples/bookinfo-changes/{p.name}", [str(BOOKINFO), str(p)], False)
        for p in sorted((EXAMPLES / "bookinfo-changes").glob("*.yaml"))
    ]
    cases += [
        (f"fixtures/{p.name}", [str(p)], p.name == "gateway-tls.yaml")
        for p in sorted(TT.glob("*.yaml"))
        if not p.name.startswith(("e2e-", "meshconfig-"))
    ]
    cases.append(("bookinfo+e2e-pods", [str(BOOKINFO), str(TT / "e2e-pods.yaml")], True))
    cases.append(("bookinfo+e2e-gateway-pods", [str(BOOKINFO), str(TT / "e2e-gateway-pods.yaml")], True))
    return cases


def _validate_cases() -> list[Any]:
    out = []
    for label, paths, loop in _inputs():
        out.append(pytest.param(label, paths, False, id=f"{label}-istio"))
        if loop:
            out.append(pytest.param(label, paths, True, id=f"{label}-loopback"))
    return out


@pytest.mark.slow
@pytest.mark.parametrize(("label", "paths", "loopback"), _validate_cases())
def test_every_bootstrap_passes_envoy_validate(
    envoy_bin: str, label: str, paths: list[str], loopback: bool
) -> None:
    from concurrent.futures import ThreadPoolExecutor

    from meshctl.envoy.runner import validate_config
    from meshctl.model import build_mesh
    from meshctl.sources import load_paths
    from meshctl.translate import translate
    from meshctl.translate.bootstrap import bootstrap

    layered: dict[Any, Any] = {}
    for r in load_paths(paths):
        layered[r.key] = r  # a later file replaces an object with the same kind/namespace/name
    mesh = build_mesh(list(layered.values()))
    configs = {}
    proxies = mesh.proxies()
    if "bookinfo-changes" in label:  # a change only alters routing: one client sidecar shows it
        proxies = [mesh.proxy("deploy/productpage-v1")]
    for proxy in proxies:
        proxy.loopback = loopback
        configs[proxy.id] = bootstrap(translate(mesh, proxy), admin_port=0)
    assert configs, f"{label}: no proxies"
    with ThreadPoolExecutor(max_workers=2) as pool:
        results = dict(zip(configs, pool.map(validate_config, configs.values()), strict=True))
    failed = {k: r.output[-600:] for k, r in results.items() if not r.ok}
    assert not failed, failed


def _self_signed() -> tuple[str, str]:
    """A throwaway self-signed certificate and key (PEM) for static stand-ins of SDS secrets."""
    import datetime

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "meshctl-test")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
        .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )  # fmt: skip
    pem_key = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    return cert.public_bytes(serialization.Encoding.PEM).decode(), pem_key.decode()


@pytest.mark.parametrize(
    ("path", "target"),
    [
        (TT / "gateway-tls.yaml", "pod/edge-0"),
        (BOOKINFO, "deploy/productpage-v1"),
        (TT / "tcp-tls.yaml", "pod/mongo-v1"),
    ],
    ids=["gateway-tls-modes", "sidecar-permissive", "sidecar-strict"],
)
def test_tls_contexts_pass_envoy_validate_with_static_secrets(
    envoy_bin: str, tmp_path: Path, path: Path, target: str
) -> None:
    """The TLS contexts (inbound mTLS, gateway SIMPLE/MUTUAL/ISTIO_MUTUAL, upstream auto-mTLS) are kept when
    the SDS secrets get static stand-ins, and a real Envoy accepts every one of them."""
    from envoy.extensions.transport_sockets.tls.v3 import secret_pb2

    from meshctl.envoy.runner import validate_config
    from meshctl.model import build_mesh
    from meshctl.sources import load_paths
    from meshctl.translate import translate
    from meshctl.translate.bootstrap import bootstrap, referenced_secrets

    cert, key = _self_signed()
    mesh = build_mesh(load_paths([str(path)]))
    pc = translate(mesh, mesh.proxy(target))
    secrets = {}
    for name, kind in referenced_secrets(pc).items():
        s = secret_pb2.Secret(name=name)
        if kind == "certificate":
            s.tls_certificate.certificate_chain.inline_string = cert
            s.tls_certificate.private_key.inline_string = key
        else:
            s.validation_context.trusted_ca.inline_string = cert
        secrets[name] = s
    assert {"default", "ROOTCA"} <= set(secrets)
    config = bootstrap(pc, admin_port=0, secrets=secrets)
    assert sorted(s["name"] for s in config["static_resources"]["secrets"]) == sorted(secrets)
    tls_chains = [
        c
        for lis in config["static_resources"]["listeners"]
        for c in lis.get("filter_chains", [])
        if "transport_socket" in c
    ]
    assert tls_chains, "TLS chains must be kept when secrets are given"
    result = validate_config(config)
    assert result.ok, result.output[-1500:]


def test_all_proxies_bootstraps_get_distinct_admin_ports(cli: Any, tmp_path: Path) -> None:
    code, _, err = cli(
        [
            "translate",
            "-f",
            str(BOOKINFO),
            "--all-proxies",
            str(tmp_path),
            "-o",
            "bootstrap",
            "--admin-port",
            "19000",
        ]
    )
    assert code == 0, err
    ports = sorted(
        json.loads(p.read_text())["admin"]["address"]["socket_address"]["port_value"]
        for p in tmp_path.iterdir()
    )
    assert ports == list(range(19000, 19000 + len(ports)))
