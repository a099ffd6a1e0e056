"""Multi-cluster analyzer: MeshNetworks endpoints that name an unknown service registry (IST0126)."""

from __future__ import annotations

from meshctl.analyze.analyzers._util import dct, lst
from meshctl.analyze.context import AnalysisContext
from meshctl.analyze.registry import Analyzer

MULTICLUSTER_SECRET_LABEL = "istio/multiCluster"


class MeshNetworksAnalyzer(Analyzer):
    name = "meshnetworks.MeshNetworksAnalyzer"
    description = "Check the validity of MeshNetworks in the cluster"
    codes = ("IST0126",)

    def analyze(self, ctx: AnalysisContext) -> None:
        networks = dct(ctx.mesh_networks.get("networks"))
        if not networks:
            return
        # the local cluster ("Kubernetes") plus every remote cluster named in a multi-cluster secret
        known = {"Kubernetes"}
        for s in ctx.kind("Secret", ""):
            if str(s.labels.get(MULTICLUSTER_SECRET_LABEL)) == "true":
                known.update(str(k) for k in dct(s.obj.get("data")))
                known.update(str(k) for k in dct(s.obj.get("stringData")))
        for net_name, net in sorted(networks.items()):
            for ep in lst(dct(net).get("endpoints")):
                reg = dct(ep).get("fromRegistry")
                if reg and str(reg) not in known:
                    ctx.report("IST0126", None, str(reg), str(net_name), origin_kind="MeshNetworks", origin_namespace=ctx.istio_namespace,
                               origin_name="meshnetworks", origin_file=ctx.mesh_networks_file)


ANALYZERS: list[Analyzer] = [MeshNetworksAnalyzer()]
