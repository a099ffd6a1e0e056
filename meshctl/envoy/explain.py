"""Walk a proxy's config the way Envoy does for one request, and say why at every step.

``explain(dump, Request("http://reviews:9080/", headers={"end-user": "jason"}))`` follows an outbound request
through a sidecar (or gateway) config dump -- intended (from the translator) or actual (from Envoy):

1. listener: the one bound to the destination ``ip:port``, else ``0.0.0.0:port``, else the ``use_original_dst``
   listener's own chains (Istio's virtualOutbound: passthrough / blackhole);
2. filter chain: Envoy's match order (destination port, destination IP, SNI, transport protocol, application
   protocols), most specific first, else the default chain;
3. network filter: HTTP connection manager -> route configuration (RDS or inline), or tcp_proxy -> cluster;
4. virtual host by domain, with Envoy's precedence: exact > suffix wildcard (longest) > prefix wildcard
   (longest) > ``*``; the port is ignored when the HCM says so;
5. the first route whose match passes, with the reason every earlier route did not;
6. the action: cluster(s) and weights, redirect or direct response, with timeout, retries and faults;
7. the cluster's policy and endpoints (health from ``/clusters`` when reading a live proxy).

Pure functions over :class:`~meshctl.envoy.dump.ConfigDump`, so the TUI and analyzers can call them too.
"""

from __future__ import annotations

import ipaddress
import re
import urllib.parse
from dataclasses import dataclass, field
from typing import Any

from google.protobuf import json_format

from meshctl.envoy.dump import ConfigDump
from meshctl.envoy.views.common import config_ref, istio_config_path
from meshctl.envoy.views.eds import address_parts, health_name
from meshctl.envoy.views.listener import (
    HCM,
    TCP_PROXY,
    hcm_of,
    listener_addresses,
    listener_port,
    tcp_proxy_of,
)
from meshctl.errors import UsageError

DEFAULT_ROUTE_TIMEOUT = "15s"  # Envoy's default when a route sets none


@dataclass
class Request:
    """One HTTP request as the application would send it."""

    url: str
    method: str = "GET"
    headers: dict[str, str] = field(default_factory=dict)
    scheme: str = "http"
    host: str = ""  # the Host/:authority header value (with port when the URL has one)
    hostname: str = ""
    port: int = 80
    path: str = "/"

    @classmethod
    def parse(cls, url: str, method: str = "GET", headers: list[str] | tuple[str, ...] = ()) -> Request:
        """``url`` plus ``-H 'name: value'`` strings; ``Host:`` overrides the authority."""
        if "://" not in url:
            url = "http://" + url
        u = urllib.parse.urlsplit(url)
        if u.scheme not in ("http", "https") or not u.hostname:
            raise UsageError(f"cannot explain {url!r}: expected http://HOST[:PORT]/PATH")
        hdrs: dict[str, str] = {}
        for h in headers:
            name, sep, value = h.partition(":")
            if not sep or not name.strip():
                raise UsageError(f"bad header {h!r}: expected 'Name: value'")
            hdrs[name.strip().lower()] = value.strip()
        try:
            port = u.port or (443 if u.scheme == "https" else 80)
        except ValueError as e:
            raise UsageError(f"bad port in {url!r}") from e
        host = hdrs.pop("host", None) or u.netloc.rpartition("@")[2]
        path = (u.path or "/") + (f"?{u.query}" if u.query else "")
        return cls(url, method.upper(), hdrs, u.scheme, host.lower(), u.hostname.lower(), port, path)

    def header(self, name: str) -> str | None:
        name = name.lower()
        pseudo = {
            ":method": self.method,
            ":path": self.path,
            ":authority": self.host,
            ":scheme": self.scheme,
            "host": self.host,
        }
        return pseudo.get(name, self.headers.get(name))


@dataclass
class RouteCheck:
    index: int
    name: str
    matched: bool
    reason: str
    owner: str = ""


@dataclass
class Explanation:
    """Everything the walk found; :func:`render` prints it, :meth:`to_json` serializes it."""

    request: Request
    steps: list[tuple[str, str]] = field(default_factory=list)  # (stage, text)
    listener: str = ""
    filter_chain: str = ""
    route_config: str = ""
    virtual_host: str = ""
    routes: list[RouteCheck] = field(default_factory=list)
    route: RouteCheck | None = None
    outcome: str = ""  # cluster | weighted | redirect | direct_response | passthrough | blackhole | tcp | no_route | no_listener
    clusters: list[tuple[str, int]] = field(default_factory=list)  # (cluster, weight)
    policies: dict[str, Any] = field(default_factory=dict)  # timeout, retries, faults, mirror, rewrite
    response: dict[str, Any] = field(default_factory=dict)  # redirect / direct response
    cluster_info: dict[str, dict[str, Any]] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    bind_mode: str = ""  # "loopback" when the walk used loopback bind mode (app -> its proxy's own IP)

    def step(self, stage: str, text: str) -> None:
        self.steps.append((stage, text))

    def to_json(self) -> dict[str, Any]:
        r = self.request
        return {
            "request": {
                "method": r.method,
                "url": r.url,
                "authority": r.host,
                "path": r.path,
                "headers": r.headers,
            },
            "listener": self.listener,
            **({"bind_mode": self.bind_mode} if self.bind_mode else {}),
            "filter_chain": self.filter_chain,
            "route_config": self.route_config,
            "virtual_host": self.virtual_host,
            "routes_checked": [
                {"index": c.index, "name": c.name, "matched": c.matched, "reason": c.reason, "owner": c.owner}
                for c in self.routes
            ],
            "outcome": self.outcome,
            "clusters": [{"name": n, "weight": w} for n, w in self.clusters],
            "policies": self.policies,
            "response": self.response,
            "cluster_info": self.cluster_info,
            "steps": [{"stage": s, "text": t} for s, t in self.steps],
            "warnings": self.warnings,
        }


# ---------------------------------------------------------------------------------------------------------------
# destination: host name -> service VIP (from the config itself)
# ---------------------------------------------------------------------------------------------------------------


def _proxy_namespace(dump: ConfigDump) -> str:
    node_id = str(((dump.bootstrap_raw or {}).get("node") or {}).get("id", ""))
    parts = node_id.split("~")
    if len(parts) == 4 and "." in parts[2]:
        return parts[2].rpartition(".")[2]
    return "default"


def _fqdn_candidates(hostname: str, namespace: str) -> list[str]:
    """``reviews`` -> reviews.<ns>.svc.cluster.local (Kubernetes search domains), etc."""
    out = [hostname]
    if hostname.count(".") == 0:
        out.append(f"{hostname}.{namespace}.svc.cluster.local")
    elif hostname.count(".") == 1:
        out.append(f"{hostname}.svc.cluster.local")
    elif hostname.endswith(".svc"):
        out.append(hostname + ".cluster.local")
    return out


def _is_ip(s: str) -> bool:
    try:
        ipaddress.ip_address(s.strip("[]"))
        return True
    except ValueError:
        return False


def resolve_vip(dump: ConfigDump, hostname: str, port: int) -> str:
    """The service address the app would connect to, as the config knows it (vhost domains, VIP listeners)."""
    if _is_ip(hostname):
        return hostname.strip("[]")
    names = set(_fqdn_candidates(hostname, _proxy_namespace(dump)))
    for _, rc in dump.messages("route"):
        for vh in rc.virtual_hosts:
            doms = list(vh.domains)
            if names & set(doms) or vh.name.rpartition(":")[0] in names:
                ips = [d for d in doms if _is_ip(d)]
                if ips:
                    return ips[0]
    for _, lis in dump.messages("listener"):
        if listener_port(lis) != port:
            continue
        addr = listener_addresses(lis)[0]
        if not _is_ip(addr) or ipaddress.ip_address(addr).is_unspecified:
            continue
        for fc in lis.filter_chains:
            for f in fc.filters:
                if f.name == TCP_PROXY:
                    tp = tcp_proxy_of(f)
                    if tp is not None and tp.cluster.rpartition("|")[2] in names:
                        return addr
    return ""


# ---------------------------------------------------------------------------------------------------------------
# listener and filter chain
# ---------------------------------------------------------------------------------------------------------------


def _listeners(dump: ConfigDump) -> list[Any]:
    return [m for _, m in dump.messages("listener", ("active", "static"))]


def _binds(lis: Any) -> bool:
    """Whether Envoy opens a socket for the listener (``bind_to_port`` unset means true)."""
    return not lis.HasField("bind_to_port") or lis.bind_to_port.value


def _wildcard(addr: str) -> bool:
    return _is_ip(addr) and ipaddress.ip_address(addr).is_unspecified


def loopback_bind_ip(dump: ConfigDump) -> str:
    """The proxy's own address when its config is in loopback bind mode (meshctl's demo, ``translate
    --loopback``; docs/translate.md), else ``""``.

    Recognised from the config itself: listeners bound (``bind_to_port``) on a specific, non-wildcard IP, and
    no ``use_original_dst`` listener bound on a wildcard address (the iptables capture entry of a normal
    sidecar). Without capture an app reaches a service by connecting to its sidecar's own IP at the service
    port, with the service in the ``Host`` header.
    """
    from collections import Counter

    bound: Counter[str] = Counter()
    for lis in _listeners(dump):
        if not _binds(lis):
            continue
        addr = listener_addresses(lis)[0]
        if lis.use_original_dst.value and _wildcard(addr):
            return ""
        if _is_ip(addr) and not _wildcard(addr):
            bound[addr] += 1
    if not bound:
        return ""
    node_id = str(((dump.bootstrap_raw or {}).get("node") or {}).get("id", ""))
    parts = node_id.split("~")
    if len(parts) == 4 and parts[1] in bound:
        return parts[1]
    return bound.most_common(1)[0][0]


def select_listener(dump: ConfigDump, ip: str, port: int, *, bind_ip: str = "") -> tuple[Any, str]:
    """The listener that gets a connection to ``ip:port`` (Istio: via iptables to virtualOutbound, then handed
    off by original destination), and why. ``bind_ip``: loopback bind mode, where the app connects to its
    sidecar at ``bind_ip:port`` instead (see :func:`loopback_bind_ip`)."""
    lis = _listeners(dump)
    if ip:
        for lis_ in lis:
            if listener_port(lis_) == port and ip in listener_addresses(lis_):
                return lis_, f"bound to {ip}:{port}"
    if bind_ip:
        for lis_ in lis:
            if listener_port(lis_) == port and bind_ip in listener_addresses(lis_) and _binds(lis_):
                return lis_, (
                    f"loopback bind mode (no iptables capture): clients connect to the proxy's own address {bind_ip}:{port}, "
                    "where this listener is bound"
                )
        return None, (
            f"loopback bind mode (no iptables capture): nothing is bound on {bind_ip}:{port}: "
            "the connection is refused"
        )
    for lis_ in lis:
        if listener_port(lis_) == port and any(_wildcard(a) for a in listener_addresses(lis_)):
            return lis_, f"listens on 0.0.0.0:{port}" + (f" (no listener for {ip}:{port})" if ip else "")
    for lis_ in lis:
        if lis_.use_original_dst.value:
            return (
                lis_,
                f"no listener for port {port}: stays on {lis_.name} (use_original_dst), its own filter chains decide",
            )
    return None, f"no listener for port {port}"


def _chain_label(fc: Any, i: int | None) -> str:
    if fc.name:
        return fc.name
    return "default filter chain" if i is None else f"filter chain #{i}"


def select_filter_chain(
    lis: Any, *, port: int, ip: str, sni: str, transport: str, alpns: list[str]
) -> tuple[Any, str]:
    """Envoy's filter chain match: each criterion narrows the candidates to the most specific ones."""
    chains = [(i, fc) for i, fc in enumerate(lis.filter_chains)]

    def narrow(
        cands: list[tuple[int, Any]], specific: list[tuple[int, Any]], generic_pred: Any
    ) -> list[tuple[int, Any]]:
        return specific if specific else [c for c in cands if generic_pred(c[1].filter_chain_match)]

    # destination port
    cands = narrow(
        chains,
        [
            c
            for c in chains
            if c[1].filter_chain_match.HasField("destination_port")
            and c[1].filter_chain_match.destination_port.value == port
        ],
        lambda m: not m.HasField("destination_port"),
    )
    # destination IP: longest matching prefix
    best: list[tuple[int, Any]] = []
    best_len = -1
    if ip and _is_ip(ip):
        addr = ipaddress.ip_address(ip)
        for c in cands:
            for pr in c[1].filter_chain_match.prefix_ranges:
                try:
                    net = ipaddress.ip_network(
                        f"{pr.address_prefix}/{pr.prefix_len.value if pr.HasField('prefix_len') else (32 if ':' not in pr.address_prefix else 128)}",
                        strict=False,
                    )
                except ValueError:
                    continue
                if addr in net:
                    if net.prefixlen > best_len:
                        best, best_len = [c], net.prefixlen
                    elif net.prefixlen == best_len:
                        best.append(c)
    elif not ip:
        # address unknown: only catch-all ranges (0.0.0.0/0, ::/0) certainly match
        best = [
            c
            for c in cands
            if any(
                pr.HasField("prefix_len") and pr.prefix_len.value == 0
                for pr in c[1].filter_chain_match.prefix_ranges
            )
        ]
    cands = narrow(cands, best, lambda m: not m.prefix_ranges)
    # server names (SNI): exact, then the longest wildcard
    sni_exact = [c for c in cands if sni and sni in c[1].filter_chain_match.server_names]
    sni_wild = []
    if sni and not sni_exact:
        for c in cands:
            for n in c[1].filter_chain_match.server_names:
                if n.startswith("*.") and sni.endswith(n[1:]):
                    sni_wild.append(c)
    cands = narrow(cands, sni_exact or sni_wild, lambda m: not m.server_names)
    cands = narrow(
        cands,
        [c for c in cands if c[1].filter_chain_match.transport_protocol == transport],
        lambda m: not m.transport_protocol,
    )
    cands = narrow(
        cands,
        [c for c in cands if set(alpns) & set(c[1].filter_chain_match.application_protocols)],
        lambda m: not m.application_protocols,
    )
    cands = [
        c
        for c in cands
        if not (c[1].filter_chain_match.source_prefix_ranges or c[1].filter_chain_match.source_ports)
    ]
    if cands:
        i, fc = cands[0]
        return fc, _chain_label(fc, i)
    if lis.HasField("default_filter_chain"):
        return lis.default_filter_chain, _chain_label(lis.default_filter_chain, None)
    return None, "no filter chain matches: Envoy closes the connection"


# ---------------------------------------------------------------------------------------------------------------
# virtual host and route matching
# ---------------------------------------------------------------------------------------------------------------


def select_virtual_host(rc: Any, host: str, *, ignore_port: bool = False) -> tuple[Any, str]:
    """Envoy's domain precedence: exact > ``*.suffix`` (longest) > ``prefix*`` (longest) > ``*``."""
    h = host.lower()
    candidates = [h]
    if ignore_port and ":" in h and not h.endswith("]"):
        candidates = [h.rpartition(":")[0]]
    h = candidates[0]
    exact = suffix = prefix = star = None
    best_suffix = best_prefix = -1
    for vh in rc.virtual_hosts:
        for d in vh.domains:
            d = d.lower()
            if d == "*":
                star = star or (vh, d)
            elif d == h:
                exact = exact or (vh, d)
            elif d.startswith("*") and h.endswith(d[1:]) and len(h) > len(d) - 1:
                if len(d) > best_suffix:
                    suffix, best_suffix = (vh, d), len(d)
            elif d.endswith("*") and h.startswith(d[:-1]) and len(h) > len(d) - 1:
                if len(d) > best_prefix:
                    prefix, best_prefix = (vh, d), len(d)
    for found, how in (
        (exact, "exact domain"),
        (suffix, "suffix wildcard"),
        (prefix, "prefix wildcard"),
        (star, "catch-all '*'"),
    ):
        if found:
            return found[0], f'{how} "{found[1]}"'
    return None, f'no virtual host matches "{host}": Envoy answers 404 (NR)'


def _string_match(sm: Any, value: str) -> tuple[bool, str]:
    which = sm.WhichOneof("match_pattern")
    target = getattr(sm, which) if which and which != "safe_regex" else sm.safe_regex.regex if which else ""
    v, t = (
        (value.lower(), str(target).lower())
        if sm.ignore_case and which != "safe_regex"
        else (value, str(target))
    )
    ok = {
        "exact": lambda: v == t,
        "prefix": lambda: v.startswith(t),
        "suffix": lambda: v.endswith(t),
        "contains": lambda: t in v,
        "safe_regex": lambda: re.fullmatch(t, v) is not None,
    }.get(which or "", lambda: True)()
    return ok, f'{which} "{target}"'


def _header_match(hm: Any, req: Request) -> tuple[bool, str]:
    value = req.header(hm.name)
    which = hm.WhichOneof("header_match_specifier")
    if value is None and hm.treat_missing_header_as_empty:
        value = ""
    if which == "present_match":
        ok = (value is not None) == hm.present_match
        want = "present" if hm.present_match else "absent"
    elif value is None:
        _, want = _header_match_want(hm)
        ok = False
    elif which == "string_match":
        ok, want = _string_match(hm.string_match, value)
    elif which in ("exact_match", "prefix_match", "suffix_match", "contains_match"):
        t = getattr(hm, which)
        ok = {
            "exact_match": value == t,
            "prefix_match": value.startswith(t),
            "suffix_match": value.endswith(t),
            "contains_match": t in value,
        }[which]
        want = f'{which.replace("_match", "")} "{t}"'
    elif which == "safe_regex_match":
        ok, want = (
            re.fullmatch(hm.safe_regex_match.regex, value) is not None,
            f'regex "{hm.safe_regex_match.regex}"',
        )
    elif which == "range_match":
        try:
            n = int(value)
            ok = hm.range_match.start <= n < hm.range_match.end
        except ValueError:
            ok = False
        want = f"in [{hm.range_match.start}, {hm.range_match.end})"
    else:
        ok, want = value is not None, "present"
    if hm.invert_match:
        ok, want = not ok, f"not {want}"
    got = "absent" if value is None else f'"{value}"'
    return ok, f"header {hm.name}: {got}, wants {want}"


def _header_match_want(hm: Any) -> tuple[bool, str]:
    """What a header matcher wants, for messages about an absent header."""
    which = hm.WhichOneof("header_match_specifier")
    if which == "string_match":
        return _string_match(hm.string_match, "")[0], _string_match(hm.string_match, "")[1]
    if which in ("exact_match", "prefix_match", "suffix_match", "contains_match"):
        return False, f'{which.replace("_match", "")} "{getattr(hm, which)}"'
    if which == "safe_regex_match":
        return False, f'regex "{hm.safe_regex_match.regex}"'
    return False, "present"


def match_route(route: Any, req: Request) -> tuple[bool, str]:
    """Does ``route`` match ``req``? Returns (matched, reason)."""
    m = route.match
    path = req.path.split("?", 1)[0]
    cs = m.case_sensitive.value if m.HasField("case_sensitive") else True
    p, which = (path if cs else path.lower()), m.WhichOneof("path_specifier")
    reasons = []
    if which == "prefix":
        t = m.prefix if cs else m.prefix.lower()
        if not p.startswith(t):
            return False, f'path "{path}" does not start with "{m.prefix}"'
        reasons.append(f'prefix "{m.prefix}"')
    elif which == "path":
        t = m.path if cs else m.path.lower()
        if p != t:
            return False, f'path "{path}" is not "{m.path}"'
        reasons.append(f'path "{m.path}"')
    elif which == "safe_regex":
        if re.fullmatch(m.safe_regex.regex, path) is None:
            return False, f'path "{path}" does not match regex "{m.safe_regex.regex}"'
        reasons.append(f'regex "{m.safe_regex.regex}"')
    elif which == "path_separated_prefix":
        t = m.path_separated_prefix
        if not (p == t or p.startswith(t + "/")):
            return False, f'path "{path}" is not under "{t}"'
        reasons.append(f'path prefix "{t}"')
    elif which == "connect_matcher":
        if req.method != "CONNECT":
            return False, "only CONNECT requests"
    elif which:
        reasons.append(f"{which} (not evaluated; assumed to match)")
    for hm in m.headers:
        ok, why = _header_match(hm, req)
        if not ok:
            return False, why
        reasons.append(why.split(":", 1)[0] + " " + why.rpartition("wants ")[2])
    if m.query_parameters:
        query = urllib.parse.parse_qs(req.path.partition("?")[2], keep_blank_values=True)
        for qp in m.query_parameters:
            vals = query.get(qp.name)
            if qp.WhichOneof("query_parameter_match_specifier") == "present_match":
                if (vals is not None) != qp.present_match:
                    return False, f"query {qp.name}: {'absent' if vals is None else 'present'}"
                continue
            if vals is None:
                return False, f"query {qp.name}: absent"
            ok, want = _string_match(qp.string_match, vals[0])
            if not ok:
                return False, f'query {qp.name}: "{vals[0]}", wants {want}'
            reasons.append(f"query {qp.name} {want}")
    if (
        m.HasField("grpc")
        and (req.header("content-type") or "").split(";")[0] not in ("application/grpc",)
        and not (req.header("content-type") or "").startswith("application/grpc")
    ):
        return False, "not a gRPC request"
    if m.HasField("runtime_fraction"):
        reasons.append("runtime fraction (assumed to match)")
    return True, " + ".join(reasons) or "matches everything"


# ---------------------------------------------------------------------------------------------------------------
# actions and clusters
# ---------------------------------------------------------------------------------------------------------------


def _duration(d: Any) -> str:
    s = json_format.MessageToDict(d) if hasattr(d, "seconds") else str(d)
    return s if isinstance(s, str) else str(s)


def _owner(metadata_holder: Any) -> str:
    path = istio_config_path(metadata_holder.metadata if metadata_holder.HasField("metadata") else None)
    ref = config_ref(path) if path else None
    return f"{ref[0]} {ref[1]}/{ref[2]}" if ref else path


def _faults(route: Any, vh: Any) -> dict[str, Any]:
    from envoy.extensions.filters.http.fault.v3 import fault_pb2

    for holder in (route, vh):
        cfg = holder.typed_per_filter_config.get("envoy.filters.http.fault")
        if cfg is None:
            continue
        f = fault_pb2.HTTPFault()
        if not cfg.Unpack(f):
            continue
        out: dict[str, Any] = {}
        if f.HasField("delay"):
            pct = f.delay.percentage
            out["delay"] = {"fixed": _duration(f.delay.fixed_delay), "percent": _percent(pct)}
        if f.HasField("abort"):
            pct = f.abort.percentage
            out["abort"] = {"http_status": f.abort.http_status, "percent": _percent(pct)}
        return out
    return {}


def _percent(p: Any) -> float:
    denom = {0: 100, 1: 10_000, 2: 1_000_000}.get(p.denominator, 100)
    return round(p.numerator * 100 / denom, 4)


def _retry(rp: Any) -> dict[str, Any]:
    out: dict[str, Any] = {
        "retry_on": rp.retry_on,
        "num_retries": rp.num_retries.value if rp.HasField("num_retries") else 1,
    }
    if rp.HasField("per_try_timeout"):
        out["per_try_timeout"] = _duration(rp.per_try_timeout)
    return out


def describe_action(route: Any, vh: Any, exp: Explanation) -> None:
    which = route.WhichOneof("action")
    if which == "route":
        ra = route.route
        spec = ra.WhichOneof("cluster_specifier")
        if spec == "cluster":
            exp.clusters = [(ra.cluster, 100)]
            exp.outcome = (
                "passthrough"
                if ra.cluster in ("PassthroughCluster", "InboundPassthroughCluster")
                else "blackhole"
                if ra.cluster == "BlackHoleCluster"
                else "cluster"
            )
        elif spec == "weighted_clusters":
            total = sum(c.weight.value for c in ra.weighted_clusters.clusters) or 1
            exp.clusters = [(c.name, c.weight.value) for c in ra.weighted_clusters.clusters]
            exp.policies["weights_total"] = total
            exp.outcome = "weighted"
        elif spec == "cluster_header":
            exp.outcome = "cluster"
            exp.warnings.append(f"cluster chosen at runtime from header {ra.cluster_header!r}")
        else:
            exp.outcome = "cluster"
            exp.warnings.append(f"cluster chosen by {spec} (not evaluated)")
        if ra.HasField("timeout"):
            t = _duration(ra.timeout)
            exp.policies["timeout"] = t + " (disabled)" if t in ("0s", "0.000s") else t
        else:
            exp.policies["timeout"] = f"{DEFAULT_ROUTE_TIMEOUT} (Envoy default)"
        rp = (
            ra.retry_policy
            if ra.HasField("retry_policy")
            else vh.retry_policy
            if vh.HasField("retry_policy")
            else None
        )
        exp.policies["retries"] = _retry(rp) if rp is not None else None
        if ra.prefix_rewrite:
            exp.policies["prefix_rewrite"] = ra.prefix_rewrite
        if ra.HasField("regex_rewrite"):
            exp.policies["regex_rewrite"] = {
                "pattern": ra.regex_rewrite.pattern.regex,
                "substitution": ra.regex_rewrite.substitution,
            }
        if ra.host_rewrite_literal:
            exp.policies["host_rewrite"] = ra.host_rewrite_literal
        if ra.request_mirror_policies:
            exp.policies["mirrors"] = [
                {
                    "cluster": m.cluster,
                    "percent": _percent(m.runtime_fraction.default_value)
                    if m.HasField("runtime_fraction")
                    else 100.0,
                }
                for m in ra.request_mirror_policies
            ]
        if ra.HasField("cors") or vh.HasField("cors"):
            exp.policies["cors"] = True
    elif which == "redirect":
        rd = route.redirect
        exp.outcome = "redirect"
        code = {0: 301, 1: 302, 2: 303, 3: 307, 4: 308}.get(rd.response_code, 301)
        exp.response = {
            "status": code,
            "scheme": rd.scheme_redirect
            if rd.WhichOneof("scheme_rewrite_specifier") == "scheme_redirect"
            else ("https" if rd.https_redirect else ""),
            "host": rd.host_redirect,
            "port": rd.port_redirect,
            "path": rd.path_redirect if rd.WhichOneof("path_rewrite_specifier") == "path_redirect" else "",
            "prefix_rewrite": rd.prefix_rewrite
            if rd.WhichOneof("path_rewrite_specifier") == "prefix_rewrite"
            else "",
        }
    elif which == "direct_response":
        dr = route.direct_response
        exp.outcome = "direct_response"
        body = (
            dr.body.inline_string or dr.body.inline_bytes.decode(errors="replace")
            if dr.HasField("body")
            else ""
        )
        exp.response = {"status": dr.status, "body": body}
    else:
        exp.outcome = "no_route"
        exp.warnings.append(f"route action {which!r} is not explained")
    faults = _faults(route, vh)
    if faults:
        exp.policies["faults"] = faults


def _cluster_map(dump: ConfigDump) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for _, c in dump.messages("cluster", ("active", "static", "warming")):
        out.setdefault(c.name, c)
    return out


def _endpoints(dump: ConfigDump, c: Any) -> list[tuple[str, str, str]]:
    """(address, health, locality) of a cluster's endpoints: EDS, or the cluster's own load assignment."""
    cla = None
    if c.WhichOneof("cluster_discovery_type") == "type" and c.type == c.EDS:
        want = c.eds_cluster_config.service_name or c.name
        for it in dump.of("endpoint"):
            if it.name == want:
                cla = dump.message(it)
                break
    elif c.HasField("load_assignment"):
        cla = c.load_assignment
    out = []
    if cla is not None:
        for lle in cla.endpoints:
            loc = "/".join(x for x in (lle.locality.region, lle.locality.zone, lle.locality.sub_zone) if x)
            for lb in lle.lb_endpoints:
                out.append((address_parts(lb.endpoint.address)[2], health_name(lb.health_status), loc))
    return out


def describe_cluster(dump: ConfigDump, name: str, status: Any = None) -> dict[str, Any]:
    """The policy that applies once a cluster is chosen, and where its endpoints are."""
    c = _cluster_map(dump).get(name)
    if c is None:
        return {"missing": True}
    info: dict[str, Any] = {
        "type": c.DiscoveryType.Name(c.type)
        if c.WhichOneof("cluster_discovery_type") == "type"
        else c.cluster_type.name,
        "lb_policy": c.LbPolicy.Name(c.lb_policy),
        "connect_timeout": _duration(c.connect_timeout)
        if c.HasField("connect_timeout")
        else "5s (Envoy default)",
    }
    owner = _owner(c)
    if owner:
        info["owner"] = owner
    if c.HasField("circuit_breakers") and c.circuit_breakers.thresholds:
        t = c.circuit_breakers.thresholds[0]
        limits = {
            k: getattr(t, k).value
            for k in ("max_connections", "max_pending_requests", "max_requests", "max_retries")
            if t.HasField(k)
        }
        limits = {k: v for k, v in limits.items() if v != 4294967295}  # Istio's "unlimited"
        if limits:
            info["circuit_breakers"] = limits
    if c.HasField("outlier_detection"):
        od = c.outlier_detection
        info["outlier_detection"] = json_format.MessageToDict(od, preserving_proto_field_name=True)
    if c.HasField("transport_socket") or c.transport_socket_matches:
        names = (
            [c.transport_socket.name]
            if c.HasField("transport_socket")
            else [m.name for m in c.transport_socket_matches]
        )
        info["tls"] = names
    eps = _endpoints(dump, c)
    live = _live_health(status, name)
    info["endpoints"] = [
        {
            "address": a,
            "health": live.get(a, h) if live else h,
            **({"locality": loc} if loc else {}),
            **({"source": "live /clusters"} if live else {}),
        }
        for a, h, loc in eps
    ]
    if live and not eps:
        info["endpoints"] = [{"address": a, "health": h, "source": "live /clusters"} for a, h in live.items()]
    return info


def _live_health(status: Any, name: str) -> dict[str, str]:
    if status is None:
        return {}
    out = {}
    for cs in status.cluster_statuses:
        if cs.name != name:
            continue
        for h in cs.host_statuses:
            addr = address_parts(h.address)[2]
            state = health_name(h.health_status.eds_health_status)
            if h.health_status.failed_outlier_check:
                state += " (outlier-ejected)"
            out[addr] = state
    return out


# ---------------------------------------------------------------------------------------------------------------
# the walk
# ---------------------------------------------------------------------------------------------------------------


def _route_config(dump: ConfigDump, name: str) -> Any:
    for _, rc in dump.messages("route", ("active", "static")):
        if rc.name == name:
            return rc
    return None


def _gateway_port(dump: ConfigDump, port: int, exp: Explanation) -> int:
    """A gateway listens on its Service's target port: map the URL's (service) port to it."""
    node_id = str(((dump.bootstrap_raw or {}).get("node") or {}).get("id", ""))
    if not node_id.startswith("router~"):
        return port
    if any(listener_port(lis) == port for lis in _listeners(dump)):
        return port
    origin = dump.origin
    if origin is not None:
        mesh, proxy = origin
        for t in mesh.service_targets(proxy.workload):
            if t.port.port == port:
                exp.step("gateway", f"service {t.service.name} port {port} -> target port {t.target_port}")
                return int(t.target_port)
    if any(listener_port(lis) == port + 8000 for lis in _listeners(dump)):
        exp.step(
            "gateway",
            f"port {port} -> {port + 8000} (assumed: Istio's gateway charts map service port P to target port P+8000; see --port)",
        )
        return port + 8000
    return port


def explain(
    dump: ConfigDump, req: Request, *, clusters_status: Any = None, port: int | None = None
) -> Explanation:
    """Follow ``req`` through ``dump``; ``port`` overrides the destination port (e.g. a gateway's target port)."""
    exp = Explanation(req)
    dport = port or _gateway_port(dump, req.port, exp)
    vip = resolve_vip(dump, req.hostname, dport)
    exp.step(
        "destination",
        f"{req.hostname}:{dport}"
        + (
            f" -> service address {vip}"
            if vip and vip != req.hostname
            else " (address not in the config)"
            if not vip
            else ""
        ),
    )
    bind_ip = loopback_bind_ip(dump)
    lis, why = select_listener(dump, vip, dport, bind_ip=bind_ip)
    conn_ip = vip
    if bind_ip and "loopback bind mode" in why:
        exp.bind_mode = "loopback"
        conn_ip = bind_ip  # Envoy matches filter chains on the connection's local address
    if lis is None:
        exp.outcome = "no_listener"
        exp.step("listener", why)
        return exp
    exp.listener = lis.name
    exp.step("listener", f"{lis.name}: {why}")
    tls = req.scheme == "https"
    fc, chain_why = select_filter_chain(
        lis,
        port=dport,
        ip=conn_ip,
        sni=req.hostname if tls else "",
        transport="tls" if tls else "raw_buffer",
        alpns=[] if tls else ["http/1.1"],
    )
    if fc is None:
        exp.outcome = "no_listener"
        exp.step("filter chain", chain_why)
        return exp
    from meshctl.envoy.views.listener import describe_chain_match

    match = describe_chain_match(fc)
    chain_why = f"{chain_why} ({match})" if match != "ALL" else f"{chain_why} (matches all)"
    exp.filter_chain = chain_why
    for f in fc.filters:
        if f.name == HCM:
            hcm = hcm_of(f)
            if hcm is None:
                exp.warnings.append("HTTP connection manager config does not parse")
                return exp
            if hcm.HasField("route_config"):
                rc = hcm.route_config
                exp.step(
                    "filter chain",
                    f"{chain_why} -> HTTP connection manager with an inline route configuration",
                )
            else:
                name = hcm.rds.route_config_name
                exp.step(
                    "filter chain",
                    f'{chain_why} -> HTTP connection manager, RDS route configuration "{name}"',
                )
                rc = _route_config(dump, name)
                if rc is None:
                    exp.outcome = "no_route"
                    exp.step(
                        "route config",
                        f'"{name}" is not in the dump (not received yet?): Envoy answers 404 (NR)',
                    )
                    return exp
            exp.route_config = rc.name
            return _explain_http(
                dump,
                exp,
                rc,
                ignore_port=hcm.strip_any_host_port or hcm.strip_matching_host_port,
                clusters_status=clusters_status,
            )
        if f.name == TCP_PROXY:
            tp = tcp_proxy_of(f)
            if tp is None:
                continue
            if tp.WhichOneof("cluster_specifier") == "weighted_clusters":
                exp.clusters = [(c.name, c.weight) for c in tp.weighted_clusters.clusters]
            else:
                exp.clusters = [(tp.cluster, 100)]
            target = exp.clusters[0][0] if exp.clusters else ""
            exp.outcome = (
                "blackhole"
                if target == "BlackHoleCluster"
                else "passthrough"
                if "Passthrough" in target
                else "tcp"
            )
            exp.step(
                "filter chain",
                f"{chain_why} -> TCP proxy to {', '.join(n for n, _ in exp.clusters)} (not HTTP: no routes apply)",
            )
            for n, _ in exp.clusters:
                exp.cluster_info[n] = describe_cluster(dump, n, clusters_status)
            return exp
    exp.outcome = "no_route"
    exp.step("filter chain", f"{chain_why} -> no HTTP or TCP proxy filter")
    return exp


def _explain_http(
    dump: ConfigDump, exp: Explanation, rc: Any, *, ignore_port: bool, clusters_status: Any
) -> Explanation:
    req = exp.request
    host = req.header(rc.vhost_header) or req.host if rc.vhost_header else req.host
    vh, why = select_virtual_host(rc, host or "", ignore_port=ignore_port or rc.ignore_port_in_host_matching)
    if vh is None:
        exp.outcome = "no_route"
        exp.step("virtual host", why)
        return exp
    exp.virtual_host = vh.name
    port_note = (
        " (port ignored)" if (ignore_port or rc.ignore_port_in_host_matching) and ":" in (host or "") else ""
    )
    exp.step("virtual host", f'{vh.name}: Host "{host}"{port_note} matches {why}')
    for i, r in enumerate(vh.routes):
        ok, reason = match_route(r, req)
        check = RouteCheck(i, r.name, ok, reason, _owner(r))
        exp.routes.append(check)
        if ok:
            exp.route = check
            break
    if exp.route is None:
        exp.outcome = "no_route"
        exp.step("route", f"no route of {vh.name} matches: Envoy answers 404 (NR)")
        return exp
    describe_action(vh.routes[exp.route.index], vh, exp)
    for n, _ in exp.clusters:
        exp.cluster_info[n] = describe_cluster(dump, n, clusters_status)
    return exp


# ---------------------------------------------------------------------------------------------------------------
# rendering
# ---------------------------------------------------------------------------------------------------------------


def render(exp: Explanation) -> str:
    """The explanation as text, one stage per line, as a user reads Envoy's decision."""
    r = exp.request
    lines = [
        f"Request:       {r.method} {r.scheme}://{r.host}{r.path}"
        + "".join(f"\n               {k}: {v}" for k, v in r.headers.items())
    ]
    label = {
        "gateway": "Gateway",
        "destination": "Destination",
        "listener": "Listener",
        "filter chain": "Filter chain",
        "route config": "Route config",
        "virtual host": "Virtual host",
        "route": "Route",
    }
    for stage, text in exp.steps:
        if stage != "route":  # the route verdict follows the list of routes checked
            lines.append(f"{label.get(stage, stage.capitalize()) + ':':<15}{text}")
    if exp.route_config and not any(s == "route config" for s, _ in exp.steps):
        pass
    if exp.routes:
        lines.append("Routes:")
        for c in exp.routes:
            mark = "MATCH" if c.matched else "no   "
            name = f" {c.name}" if c.name else ""
            owner = f"  [{c.owner}]" if c.owner else ""
            lines.append(f"  [{c.index}]{name}: {mark} {c.reason}{owner}")
    lines += [f"{'Route:':<15}{text}" for stage, text in exp.steps if stage == "route"]
    if exp.outcome in ("cluster", "weighted", "passthrough", "blackhole", "tcp"):
        total = exp.policies.get("weights_total") or sum(w for _, w in exp.clusters) or 1
        if exp.outcome == "weighted":
            lines.append(
                "Action:        split across "
                + ", ".join(f"{n} {w * 100 / total:g}%" for n, w in exp.clusters)
            )
        else:
            what = {
                "passthrough": " (passthrough: the original destination, outside the mesh)",
                "blackhole": " (blackhole: the request is dropped)",
            }.get(exp.outcome, "")
            lines.append(
                f"Action:        {'forward' if exp.outcome != 'tcp' else 'TCP proxy'} to {', '.join(n for n, _ in exp.clusters)}{what}"
            )
        pol = exp.policies
        if "timeout" in pol:
            retries = pol.get("retries")
            rtext = (
                "none"
                if not retries
                else f"{retries['num_retries']} on {retries['retry_on'] or '(default)'}"
                + (f", per try {retries['per_try_timeout']}" if "per_try_timeout" in retries else "")
            )
            lines.append(f"               timeout {pol['timeout']}; retries {rtext}")
        if "faults" in pol:
            f = pol["faults"]
            parts = []
            if "delay" in f:
                parts.append(f"delay {f['delay']['fixed']} for {f['delay']['percent']:g}%")
            if "abort" in f:
                parts.append(f"abort {f['abort']['http_status']} for {f['abort']['percent']:g}%")
            lines.append(f"               faults: {'; '.join(parts)}")
        for key in ("prefix_rewrite", "host_rewrite"):
            if key in pol:
                lines.append(f"               {key.replace('_', ' ')}: {pol[key]}")
        for m in pol.get("mirrors", []):
            lines.append(f"               mirror to {m['cluster']} ({m['percent']:g}%)")
        for n, info in exp.cluster_info.items():
            if info.get("missing"):
                lines.append(f"Cluster:       {n}: NOT IN THE CONFIG (Envoy answers 503 NC)")
                continue
            owner = f"  [{info['owner']}]" if info.get("owner") else ""
            extra = []
            if "circuit_breakers" in info:
                extra.append(
                    "circuit breakers " + ", ".join(f"{k}={v}" for k, v in info["circuit_breakers"].items())
                )
            if "outlier_detection" in info:
                extra.append("outlier detection")
            if "tls" in info:
                extra.append("TLS (" + ", ".join(info["tls"]) + ")")
            lines.append(
                f"Cluster:       {n}: {info['type']}, {info['lb_policy']}, connect timeout {info['connect_timeout']}{owner}"
            )
            if extra:
                lines.append("               " + "; ".join(extra))
            eps = info.get("endpoints") or []
            if eps:
                lines.append(
                    "               endpoints: " + ", ".join(f"{e['address']} {e['health']}" for e in eps)
                )
            elif info["type"] not in ("ORIGINAL_DST",) and n not in (
                "BlackHoleCluster",
                "PassthroughCluster",
                "InboundPassthroughCluster",
            ):
                lines.append("               endpoints: none (Envoy answers 503 UH)")
    elif exp.outcome == "redirect":
        rd = exp.response
        target = f"{rd['scheme'] + '://' if rd['scheme'] else ''}{rd['host'] or '(same host)'}{':' + str(rd['port']) if rd['port'] else ''}{rd['path'] or rd['prefix_rewrite'] or '(same path)'}"
        lines.append(f"Action:        redirect {rd['status']} to {target}")
    elif exp.outcome == "direct_response":
        body = exp.response.get("body") or ""
        lines.append(
            f"Action:        direct response {exp.response['status']}" + (f": {body[:80]!r}" if body else "")
        )
    for w in exp.warnings:
        lines.append(f"Warning:       {w}")
    return "\n".join(lines) + "\n"
