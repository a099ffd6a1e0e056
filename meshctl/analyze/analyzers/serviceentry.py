"""ServiceEntry analyzers: TCP ports without addresses, and hosts whose port protocols conflict."""

from __future__ import annotations

from collections import defaultdict

from meshctl.analyze.analyzers._util import dct, full_name, int_or_none, lst
from meshctl.analyze.context import AnalysisContext, ns_of
from meshctl.analyze.registry import Analyzer
from meshctl.sources.resource import Resource


class ProtocolAddressesAnalyzer(Analyzer):
    name = "serviceentry.Analyzer"
    description = "Checks the validity of ServiceEntry"
    codes = ("IST0134",)

    def analyze(self, ctx: AnalysisContext) -> None:
        meta = dct(dct(ctx.mesh_config.get("defaultConfig")).get("proxyMetadata"))
        auto_allocated = str(meta.get("ISTIO_META_DNS_CAPTURE")) == "true" and str(meta.get("ISTIO_META_DNS_AUTO_ALLOCATE")) == "true"
        if auto_allocated:
            return
        for se in ctx.istio("ServiceEntry"):
            # addresses given, or allocated by the controller (status.addresses, Istio >= 1.25)
            if lst(se.spec.get("addresses")) or lst(dct(se.obj.get("status")).get("addresses")):
                continue
            for i, p in enumerate(lst(se.spec.get("ports"))):
                if str(dct(p).get("protocol") or "").upper() in ("", "TCP"):
                    ctx.report("IST0134", se, path=f"spec.ports[{i}]")


class ConflictingServiceEntryProtocolAnalyzer(Analyzer):
    name = "serviceentry.ConflictingServiceEntryProtocolAnalyzer"
    description = "Checks if multiple ServiceEntries define the same host and port with different protocols"
    codes = ("IST0177",)

    def analyze(self, ctx: AnalysisContext) -> None:
        index: dict[tuple[str, str, int], list[tuple[str, Resource]]] = defaultdict(list)
        for se in ctx.istio("ServiceEntry"):
            export = [str(e) for e in lst(se.spec.get("exportTo"))]
            scopes = {"*"} if not export or "*" in export else {ns_of(se) if e == "." else e for e in export}
            for sc in sorted(scopes):
                for h in lst(se.spec.get("hosts")):
                    for p in lst(se.spec.get("ports")):
                        num = int_or_none(dct(p).get("number")) or 0
                        index[(sc, str(h), num)].append((str(dct(p).get("protocol") or ""), se))
        reported: set[str] = set()
        for (sc, host, port), entries in sorted(index.items()):
            if sc != "*":
                entries = entries + index.get(("*", host, port), [])
            protocols = sorted({p.upper() for p, _ in entries})
            if len(protocols) < 2:
                continue
            names = ", ".join(sorted({full_name(r) for _, r in entries}))
            for _, r in entries:
                if full_name(r) in reported:
                    continue
                reported.add(full_name(r))
                ctx.report("IST0177", r, names, host, port, ", ".join(protocols), path="metadata.name")


ANALYZERS: list[Analyzer] = [ProtocolAddressesAnalyzer(), ConflictingServiceEntryProtocolAnalyzer()]
