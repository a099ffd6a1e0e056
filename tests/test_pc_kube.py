"""``proxy-config`` on Kubernetes targets, like istioctl: ``deployment/NAME`` and ``service/NAME`` resolve to the
first running pod, reached through a port-forward (meshctl's Kubernetes API emulator + a real Envoy)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from conftest import BOOKINFO, run_cli

from meshctl.envoy.runner import EnvoyProcess, start_envoy

pytestmark = [pytest.mark.envoy, pytest.mark.timeout(120)]

BOOT = {
    "node": {
        "id": "sidecar~10.244.0.7~productpage-v1-0.default~default.svc.cluster.local",
        "cluster": "productpage.default",
    }
}


@pytest.fixture(scope="module")
def envoy() -> Iterator[EnvoyProcess]:
    with start_envoy(BOOT) as ep:
        yield ep


def test_deployment_and_service_targets(envoy: EnvoyProcess, tmp_path: Path) -> None:
    from meshctl.testing.kubeapi import KubeEmulator

    emu = KubeEmulator(controllers=True)
    emu.load([str(BOOKINFO)])
    with emu:
        kc = emu.write_kubeconfig(tmp_path / "kubeconfig")
        pods: list[dict[str, Any]] = emu.store.list(emu.store.types[("", "pods")], "default")[0]
        pod = next(p["metadata"]["name"] for p in pods if p["metadata"]["name"].startswith("productpage-v1-"))
        emu.add_port_forward("default", pod, 15000, ("127.0.0.1", envoy.admin_port))
        direct = run_cli(["pc", "bootstrap", "--admin", envoy.admin_url, "-o", "short"])
        for target in (
            "deployment/productpage-v1",
            "deploy/productpage-v1",
            "svc/productpage",
            f"pod/{pod}",
            f"{pod}.default",
        ):
            code, out, err = run_cli(
                ["pc", "bootstrap", target, "-n", "default", "--kubeconfig", kc, "-o", "short"]
            )
            assert code == 0, (target, err)
            assert out == direct[1]
        code, _, err = run_cli(["pc", "bootstrap", "deploy/nope", "-n", "default", "--kubeconfig", kc])
        assert code != 0 and "Traceback" not in err and "nope" in err
        code, _, err = run_cli(["pc", "bootstrap", "statefulset/x", "--kubeconfig", kc])
        assert code == 64 and "unsupported target type" in err
