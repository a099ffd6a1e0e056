"""DestinationRule analyzers: TLS without CA verification, subsets that select no pods, unknown hosts."""

from __future__ import annotations

from meshctl.analyze.analyzers._util import dct, full_name, int_or_none, lst
from meshctl.analyze.context import AnalysisContext, ns_of, selector_matches
from meshctl.analyze.registry import Analyzer

TOPOLOGY_LABELS = ("topology.kubernetes.io/region", "topology.kubernetes.io/zone", "topology.istio.io/subzone")


class CaCertificateAnalyzer(Analyzer):
    name = "destinationrule.CaCertificateAnalyzer"
    description = "Checks if caCertificates is set when TLS mode is SIMPLE/MUTUAL"
    codes = ("IST0128", "IST0129")

    def analyze(self, ctx: AnalysisContext) -> None:
        for dr in ctx.istio("DestinationRule"):
            tp = dct(dr.spec.get("trafficPolicy"))
            # with a workloadSelector, credentialName supplies the CA (ca.crt) for the selected proxies
            selected = bool(dr.spec.get("workloadSelector"))
            host = str(dr.spec.get("host") or "")
            tls = dct(tp.get("tls"))
            mode = str(tls.get("mode") or "")
            if mode in ("SIMPLE", "MUTUAL") and not tls.get("caCertificates") and not (selected and tls.get("credentialName")):
                ctx.report("IST0128", dr, full_name(dr), ns_of(dr), mode, host, path="spec.trafficPolicy.tls.mode")
            for i, pls in enumerate(lst(tp.get("portLevelSettings"))):
                tls = dct(dct(pls).get("tls"))
                mode = str(tls.get("mode") or "")
                if mode in ("SIMPLE", "MUTUAL") and not tls.get("caCertificates") and not (selected and tls.get("credentialName")):
                    port = int_or_none(dct(dct(pls).get("port")).get("number"))
                    ctx.report("IST0129", dr, full_name(dr), ns_of(dr), mode, host, f"number:{port}" if port else "",
                               path=f"spec.trafficPolicy.portLevelSettings[{i}].tls.mode")


class PodNotSelectedAnalyzer(Analyzer):
    name = "destinationrule.SubsetSelectPodAnalyzer"
    description = "Checks if pods are selected by subsets in destination rules"
    codes = ("IST0173", "IST0174")

    def analyze(self, ctx: AnalysisContext) -> None:
        node_labels = {n.name: n.labels for n in ctx.kind("Node", "")}
        pod_labels = []
        # node topology labels only exist for scheduled pods; without them the label index answers directly
        topology = any(p.spec.get("nodeName") for p in ctx.pods)
        for p in ctx.workload_pods if topology else []:
            labels = dict(p.labels)
            node = str(p.spec.get("nodeName") or "")
            if node:
                nl = node_labels.get(node)
                if nl is not None:
                    for k in TOPOLOGY_LABELS:
                        if k in nl:
                            labels[k] = nl[k]
                labels["kubernetes.io/hostname"] = node
            pod_labels.append(labels)
        for dr in ctx.istio("DestinationRule"):
            host = str(dr.spec.get("host") or "")
            export = [str(e) for e in lst(dr.spec.get("exportTo"))]
            sh = ctx.lookup_host(host, ns_of(dr), export)
            if sh is None:
                ctx.report("IST0174", dr, host, path="spec.host")
                continue
            base = dct(dct(sh.resource.spec.get("workloadSelector")).get("labels")) if sh.kind == "ServiceEntry" else {}
            for i, ss in enumerate(lst(dr.spec.get("subsets"))):
                ss = dct(ss)
                sel = {**base, **dct(ss.get("labels"))}
                found = any(selector_matches(sel, labels) for labels in pod_labels) if topology else bool(ctx.pods_matching(sel))
                if not found:
                    ctx.report("IST0173", dr, str(ss.get("name") or ""), path=f"spec.subsets[{i}]")


ANALYZERS: list[Analyzer] = [CaCertificateAnalyzer(), PodNotSelectedAnalyzer()]
