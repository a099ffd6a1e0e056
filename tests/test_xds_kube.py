"""``meshctl xds serve -k``: the real CLI serving a live (emulated) cluster, following a VirtualService changed
through the API server; ``meshctl ps -k`` reaching it through a port-forward, as istioctl reaches istiod."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import BOOKINFO
from envoy.config.route.v3 import route_pb2
from envoy.service.discovery.v3 import discovery_pb2
from test_xds_helpers import wait_for

from meshctl.envoy.runner import free_port
from meshctl.testing.kubeapi import KubeEmulator
from meshctl.xds import types as T
from meshctl.xds.bootstrap import istio_node_id
from meshctl.xds.client import AdsClient

pytestmark = [pytest.mark.timeout(90)]


def reviews_clusters(resp: discovery_pb2.DiscoveryResponse) -> set[str]:
    out: set[str] = set()
    for a in resp.resources:
        rc = route_pb2.RouteConfiguration()
        a.Unpack(rc)
        for vh in rc.virtual_hosts:
            if vh.name.startswith("reviews.default"):
                for r in vh.routes:
                    out.add(r.route.cluster)
                    out.update(c.name for c in r.route.weighted_clusters.clusters)
    return out - {""}


def test_serve_live_cluster_and_proxy_status_through_port_forward(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    emu = KubeEmulator(controllers=True, bookmark_interval=1.0)
    emu.load([str(BOOKINFO)])
    with emu:
        kc = emu.write_kubeconfig(tmp_path / "kc")
        port, debug_port = free_port(), free_port()
        log = tmp_path / "serve.log"
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "meshctl",
                "xds",
                "serve",
                "-k",
                "--kubeconfig",
                kc,
                "--port",
                str(port),
                "--debug-port",
                str(debug_port),
            ],
            stdout=subprocess.DEVNULL,
            stderr=open(log, "wb"),  # noqa: SIM115
            start_new_session=True,
        )
        try:
            wait_for(
                lambda: "serving ADS" in log.read_text() or proc.poll() is not None,
                timeout=30,
                what="xds serve -k to start",
            )
            assert proc.poll() is None, log.read_text()
            assert "following the cluster" in log.read_text()
            pod = next(
                o["metadata"]["name"]
                for o in emu.store.list(emu.store.types[("", "pods")], "default")[0]
                if o["metadata"]["name"].startswith("productpage-v1-")
            )
            with AdsClient(f"127.0.0.1:{port}") as c:
                req = discovery_pb2.DiscoveryRequest(type_url=T.ROUTE, resource_names=["9080"])
                req.node.id = istio_node_id(pod, "default", "10.1.2.3")
                c.send(req)
                first = c.recv(10)
                assert reviews_clusters(first) == {
                    f"outbound|9080|{v}|reviews.default.svc.cluster.local" for v in ("v1", "v2", "v3")
                }
                ack = discovery_pb2.DiscoveryRequest(
                    type_url=T.ROUTE,
                    resource_names=["9080"],
                    response_nonce=first.nonce,
                    version_info=first.version_info,
                )
                c.send(ack)
                # `kubectl apply` of a new VirtualService: the proxy gets the new route pushed.
                vs = emu.get("virtualservices", "reviews", "default", group="networking.istio.io")
                emu.apply(
                    [
                        dict(
                            vs,
                            spec={
                                "hosts": ["reviews"],
                                "http": [{"route": [{"destination": {"host": "reviews", "subset": "v3"}}]}],
                            },
                        )
                    ]
                )
                pushed = c.recv(15)
                assert reviews_clusters(pushed) == {"outbound|9080|v3|reviews.default.svc.cluster.local"}
                assert pushed.version_info != first.version_info
                c.send(
                    discovery_pb2.DiscoveryRequest(
                        type_url=T.ROUTE, resource_names=["9080"], response_nonce=pushed.nonce
                    )
                )
                # proxy-status -k: port-forward to the "istiod" pod, which is this server.
                emu.apply(
                    [
                        {
                            "apiVersion": "v1",
                            "kind": "Pod",
                            "metadata": {
                                "name": "istiod-0",
                                "namespace": "istio-system",
                                "labels": {"app": "istiod"},
                            },
                            "spec": {"containers": [{"name": "discovery"}]},
                            "status": {"phase": "Running", "podIP": "10.244.9.9"},
                        }
                    ]
                )
                emu.add_port_forward("istio-system", "istiod-0", 15010, ("127.0.0.1", port))
                code, out, err = cli(["ps", "-k", "--kubeconfig", kc, "-o", "json"])
                assert code == 0, err
                [row] = json.loads(out)
                assert row["name"] == f"{pod}.default"
                assert row["types"]["RDS"]["status"] == "SYNCED"  # ACKed above
                assert row["types"]["RDS"]["version"] == pushed.version_info
        finally:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
                try:
                    assert proc.wait(10) == 0
                finally:
                    if proc.poll() is None:
                        os.killpg(proc.pid, signal.SIGKILL)
