"""Istio Gateway analyzers: workload selector and service ports, conflicting servers, duplicate and invalid certificates."""

from __future__ import annotations

import base64
import binascii
from collections import defaultdict
from collections.abc import Mapping

from meshctl.analyze.analyzers._util import dct, full_name, int_or_none, lst, short_or_full
from meshctl.analyze.analyzers._x509 import check_key_pair
from meshctl.analyze.context import AnalysisContext, ns_of, selector_matches
from meshctl.analyze.registry import Analyzer
from meshctl.model.hosts import host_matches
from meshctl.sources.resource import Resource


def selector_string(sel: Mapping[str, object]) -> str:
    """Kubernetes ``labels.SelectorFromSet(sel).String()``: ``k=v`` pairs sorted by key, comma-joined."""
    return ",".join(f"{k}={v}" for k, v in sorted((str(k), str(v)) for k, v in sel.items()))


def _gateways(ctx: AnalysisContext) -> list[Resource]:
    return ctx.kind("Gateway", "networking.istio.io")


def _selector_path(gw: Resource) -> str:
    sel = dct(gw.spec.get("selector"))
    return f"spec.selector.{sorted(sel)[0]}" if sel else "spec"


class IngressGatewayPortAnalyzer(Analyzer):
    name = "gateway.IngressGatewayPortAnalyzer"
    description = "Checks a gateway's ports against the gateway's Kubernetes service ports"
    codes = ("IST0101", "IST0162")

    def analyze(self, ctx: AnalysisContext) -> None:
        cache: dict[str, tuple[bool, set[int]]] = {}
        for gw in _gateways(ctx):
            sel = dct(gw.spec.get("selector"))
            key = selector_string(sel)
            if key not in cache:
                cache[key] = self._ports(ctx, sel)
            found, ports = cache[key]
            if not found:
                ctx.report("IST0101", gw, "selector", key, path=_selector_path(gw))
                continue
            for i, server in enumerate(lst(gw.spec.get("servers"))):
                num = int_or_none(dct(dct(server).get("port")).get("number"))
                if num is not None and num not in ports:
                    ctx.report("IST0162", gw, num, key, path=f"spec.servers[{i}].port.number")

    @staticmethod
    def _ports(ctx: AnalysisContext, sel: dict[str, object]) -> tuple[bool, set[int]]:
        """Whether any pod matches ``sel``, and the TCP ports/targetPorts of Services selecting those pods."""
        pods = ctx.pods_matching({str(k): str(v) for k, v in sel.items()})
        ports: set[int] = set()
        if pods:
            for pod in pods:
                for svc in ctx.services_in(ns_of(pod)):
                    ssel = dct(svc.spec.get("selector"))
                    if not ssel or not selector_matches(ssel, pod.labels):
                        continue
                    for p in lst(svc.spec.get("ports")):
                        p = dct(p)
                        if str(p.get("protocol") or "TCP") != "TCP":
                            continue
                        for key in ("port", "targetPort"):
                            n = int_or_none(p.get(key))
                            if n is not None:
                                ports.add(n)
        return bool(pods), ports


class ConflictingGatewayAnalyzer(Analyzer):
    name = "gateway.ConflictingGatewayAnalyzer"
    description = "Checks a gateway's selector, port number and hosts"
    codes = ("IST0101", "IST0145")

    def analyze(self, ctx: AnalysisContext) -> None:
        table: dict[tuple[str, int], dict[str, list[str]]] = defaultdict(dict)
        for gw in _gateways(ctx):
            sel = selector_string(dct(gw.spec.get("selector")))
            for server in lst(gw.spec.get("servers")):
                num = int_or_none(dct(dct(server).get("port")).get("number")) or 0
                table[(sel, num)][full_name(gw)] = [str(h) for h in lst(dct(server).get("hosts"))]
        selectors = {s for s, _ in table}
        for gw in _gateways(ctx):
            sel = selector_string(dct(gw.spec.get("selector")))
            if sel and sel not in selectors and not any(sel in s for s in selectors):
                ctx.report("IST0101", gw, "selector", sel, path=_selector_path(gw))
                continue
            me = full_name(gw)
            for i, server in enumerate(lst(gw.spec.get("servers"))):
                num = int_or_none(dct(dct(server).get("port")).get("number")) or 0
                hosts = [str(h) for h in lst(dct(server).get("hosts"))]
                others = []
                for other, other_hosts in table[(sel, num)].items():
                    if other == me:
                        continue
                    for h in hosts:
                        if h in other_hosts or (("*" in h or any("*" in oh for oh in other_hosts)) and any(host_matches(h, oh) for oh in other_hosts)):
                            others.append(other)
                if others:
                    ctx.report("IST0145", gw, ",".join(others), sel, str(num), ",".join(hosts), path=f"spec.servers[{i}]")


def _same_certificate(a: dict[str, object], b: dict[str, object]) -> bool:
    ca, cb = a.get("credentialName") or "", b.get("credentialName") or ""
    if ca and cb:
        return ca == cb
    if not ca and not cb:
        sa, sb = a.get("serverCertificate") or "", b.get("serverCertificate") or ""
        if sa and sb and sa == sb:
            ka, kb = a.get("privateKey") or "", b.get("privateKey") or ""
            return bool(ka and kb and ka == kb)
    return False


class CertificateAnalyzer(Analyzer):
    name = "gateway.CertificateAnalyzer"
    description = "Checks a gateway certificate"
    codes = ("IST0138",)

    def analyze(self, ctx: AnalysisContext) -> None:
        # gateways sharing a certificate identity (credentialName, or serverCertificate+privateKey) are the only candidates
        groups: dict[tuple[str, ...], list[Resource]] = defaultdict(list)
        tls_of: dict[int, list[dict[str, object]]] = {}
        for gw in _gateways(ctx):
            tlss = [t for t in (dct(s).get("tls") for s in lst(gw.spec.get("servers"))) if isinstance(t, dict)]
            tls_of[id(gw)] = tlss
            for key in {_cert_key(t) for t in tlss} - {None}:
                groups[key].append(gw)  # type: ignore[index]
        for members in groups.values():
            if len(members) < 2:
                continue
            sels = [{str(k): str(v) for k, v in dct(g.spec.get("selector")).items()} for g in members]
            # label index: the other gateway's selector must be a superset of this one's (empty selects all)
            by_label: dict[tuple[str, str], set[int]] = defaultdict(set)
            for n, sel in enumerate(sels):
                for item in sel.items():
                    by_label[item].add(n)
            everyone = set(range(len(members)))
            for n, gw in enumerate(members):
                sel = sels[n]
                cands = set.intersection(*(by_label[item] for item in sel.items())) if sel else everyone
                for m in sorted(cands - {n}):
                    other = members[m]
                    if any(_same_certificate(t1, t2) for t1 in tls_of[id(gw)] for t2 in tls_of[id(other)]):
                        ctx.report("IST0138", gw, [full_name(gw), full_name(other)], path="metadata.name")


def _cert_key(t: dict[str, object]) -> tuple[str, ...] | None:
    if t.get("credentialName"):
        return ("cred", str(t["credentialName"]))
    if t.get("serverCertificate") and t.get("privateKey"):
        return ("file", str(t["serverCertificate"]), str(t["privateKey"]))
    return None


CERT_KEYS = (("tls.crt", "tls.key"), ("cert", "key"))


def credential_problem(secret: Resource) -> str | None:
    """Why a TLS secret cannot serve as a gateway credential (Istio's secret controller rules)."""
    data = dct(secret.obj.get("data"))
    string_data = dct(secret.obj.get("stringData"))
    for ck, kk in CERT_KEYS:
        if (ck in data or ck in string_data) and (kk in data or kk in string_data):
            def value(k: str) -> bytes:
                if k in string_data:
                    return str(string_data[k]).encode()
                return base64.b64decode(str(data[k]), validate=False)

            try:
                return check_key_pair(value(ck), value(kk))
            except (binascii.Error, ValueError) as e:
                return f"invalid base64: {e}"
    return "secret has neither tls.crt/tls.key nor cert/key"


class SecretAnalyzer(Analyzer):
    name = "gateway.SecretAnalyzer"
    description = "Checks a gateway's referenced secrets for correctness"
    codes = ("IST0101", "IST0161")

    def analyze(self, ctx: AnalysisContext) -> None:
        for gw in _gateways(ctx):
            sel = dct(gw.spec.get("selector"))
            matching = ctx.pods_matching({str(k): str(v) for k, v in sel.items()})
            pod = matching[0] if matching else None
            if pod is None:
                ctx.report("IST0101", gw, "selector", selector_string(sel), path=_selector_path(gw))
                continue
            gw_ns = ns_of(pod)
            for i, server in enumerate(lst(gw.spec.get("servers"))):
                cn = str(dct(dct(server).get("tls")).get("credentialName") or "")
                if not cn:
                    continue
                sns, sname = short_or_full(gw_ns, cn)
                secret = ctx.find("Secret", sns, sname, "")
                path = f"spec.servers[{i}].tls.credentialName"
                if secret is None:
                    ctx.report("IST0101", gw, "credentialName", cn, path=path)
                    continue
                if credential_problem(secret):
                    ctx.report("IST0161", gw, gw.name, ns_of(gw), path=path)


ANALYZERS: list[Analyzer] = [IngressGatewayPortAnalyzer(), ConflictingGatewayAnalyzer(), CertificateAnalyzer(), SecretAnalyzer()]
