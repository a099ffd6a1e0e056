"""The file-backed snapshot source: node ids -> proxies of the model, per-node versions on reload, SDS secrets.
No Envoy here (see test_xds_serve.py for the end-to-end path)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from conftest import BOOKINFO

from meshctl.errors import MeshctlError
from meshctl.xds import types as T
from meshctl.xds.cache import SnapshotCache, UnknownNodeError
from meshctl.xds.source import MeshSource

GATEWAY = "router~127.0.0.20~istio-ingressgateway-5d8f7c9b6-abcde.istio-system~istio-system.svc.cluster.local"
PRODUCTPAGE = "sidecar~127.0.0.21~productpage-v1-7d4f5b8c9-x2x9z.default~default.svc.cluster.local"
RATINGS = "sidecar~127.0.0.22~ratings-v1.default~default.svc.cluster.local"


@pytest.fixture
def source(tmp_path: Path) -> MeshSource:
    shutil.copytree(BOOKINFO, tmp_path / "bookinfo")
    src = MeshSource([str(tmp_path / "bookinfo")], loopback=True)
    src.load()
    src.cache = SnapshotCache(resolver=src.resolve)
    return src


def test_node_ids_map_to_model_proxies(source: MeshSource) -> None:
    gw = source.proxy_for(GATEWAY)
    assert gw.id == "istio-ingressgateway.istio-system" and gw.type.value == "router"
    pp = source.proxy_for(PRODUCTPAGE)  # <deployment>-<rs hash>-<pod hash>
    assert pp.id == "productpage-v1.default" and pp.ip == "127.0.0.21" and pp.loopback
    with pytest.raises(UnknownNodeError) as ei:
        source.proxy_for("sidecar~10.1.1.1~nosuch.default~default.svc.cluster.local")
    assert "productpage-v1.default" in str(ei.value)  # names the known proxies
    with pytest.raises(UnknownNodeError):
        source.proxy_for("not-an-istio-node")


def test_reload_pushes_only_to_proxies_whose_config_changed(source: MeshSource, tmp_path: Path) -> None:
    cache = source.cache
    assert cache is not None
    for node in (GATEWAY, PRODUCTPAGE, RATINGS):
        cache.resolve(node)
    before = {n: cache.get_snapshot(n) for n in (GATEWAY, PRODUCTPAGE, RATINGS)}
    # Nothing changed on disk: nobody is updated.
    assert source.reload() == []
    # A new Gateway server changes only the gateway's listeners/routes.
    gw_file = tmp_path / "bookinfo" / "gateway.yaml"
    text = gw_file.read_text()
    extra = (
        '  - port:\n      number: 8081\n      name: http-extra\n      protocol: HTTP\n    hosts:\n    - "*"\n'
    )
    gw_file.write_text(
        text.replace('    hosts:\n    - "*"\n---', '    hosts:\n    - "*"\n' + extra + "---", 1)
    )
    assert source.reload() == [GATEWAY]
    after = cache.get_snapshot(GATEWAY)
    assert after is not None and before[GATEWAY] is not None
    assert after.type_version(T.LISTENER) != before[GATEWAY].type_version(T.LISTENER)
    assert after.type_version(T.CLUSTER) == before[GATEWAY].type_version(
        T.CLUSTER
    )  # unchanged types keep their version
    assert cache.get_snapshot(PRODUCTPAGE) is before[PRODUCTPAGE]


def test_bad_file_keeps_previous_model(source: MeshSource, tmp_path: Path) -> None:
    mesh = source.mesh
    (tmp_path / "bookinfo" / "broken.yaml").write_text(
        "apiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata: {name: x}\nspec:\n  http: 7\n"
    )
    with pytest.raises(MeshctlError) as ei:
        source.reload()
    assert "broken.yaml" in str(ei.value)
    assert source.mesh is mesh


def test_snapshots_carry_workload_identity_secrets(source: MeshSource) -> None:
    from cryptography import x509

    snap = source.snapshot(PRODUCTPAGE)
    secrets = {s.name: s for s in snap.messages(T.SECRET)}
    assert set(secrets) >= {"default", "ROOTCA"}
    cert = x509.load_pem_x509_certificate(secrets["default"].tls_certificate.certificate_chain.inline_bytes)
    uris = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value.get_values_for_type(
        x509.UniformResourceIdentifier
    )
    assert uris == ["spiffe://cluster.local/ns/default/sa/bookinfo-productpage"]
    assert snap.inconsistencies() == []


@pytest.mark.envoy
def test_client_bootstraps_pass_envoy_validation(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    import json

    from meshctl.envoy.runner import validate_config
    from meshctl.xds.certs import MeshCA

    ca = MeshCA()
    (tmp_path / "ca.pem").write_bytes(ca.root_pem)
    cert, key = ca.workload_cert("default", "x")
    (tmp_path / "c.pem").write_bytes(cert)
    (tmp_path / "k.pem").write_bytes(key)
    variants = [
        ["--pod", "productpage-v1"],
        [
            "--pod",
            "istio-ingressgateway",
            "-n",
            "istio-system",
            "--router",
            "--delta",
            "--xds-address",
            "localhost:15010",
        ],
        [
            "--node-id",
            "sidecar~10.1.2.3~a.b~b.svc.cluster.local",
            "--ca",
            str(tmp_path / "ca.pem"),
            "--cert",
            str(tmp_path / "c.pem"),
            "--key",
            str(tmp_path / "k.pem"),
        ],
    ]
    for args in variants:
        code, out, err = cli(["xds", "bootstrap", *args])
        assert code == 0, err
        boot = json.loads(out)
        assert boot["node"]["id"].count("~") == 3
        result = validate_config(boot)
        assert result.ok, (args, result.output)
    code, _, err = cli(["xds", "bootstrap"])
    assert code == 64 and "--pod" in err
