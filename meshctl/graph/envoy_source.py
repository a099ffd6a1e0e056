"""Live traffic straight from proxies: poll each Envoy's admin ``/stats?format=json`` and diff two polls.

Why: no Prometheus needed (Kiali cannot run without it). Each proxy reports what it sent per upstream
cluster, and what it received (inbound clusters on sidecars, HTTP connection manager stats on gateways),
which is enough for request rates, error shares, latency quantiles and bytes per edge.
"""

from __future__ import annotations

import json
import time
import urllib.parse
import urllib.request
from collections import deque
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from meshctl.errors import UnavailableError
from meshctl.graph.faults import ListenerFaults, fetch_faults
from meshctl.graph.stats import ClusterDelta, StatsSnapshot, diff_snapshots, parse_stats_json
from meshctl.graph.traffic import BLACKHOLE, PASSTHROUGH, TrafficEdge, TrafficWindow

#: Only cluster and HTTP connection manager stats (``usedonly`` is not used: with a filter it hides histograms).
STATS_PATH = "/stats?format=json&filter=" + urllib.parse.quote(r"^(cluster|http)\.")


@dataclass
class ProxyTarget:
    """One proxy to poll: its admin URL and which workload it belongs to."""

    admin_url: str
    namespace: str
    workload: str
    kind: str = "sidecar"  # sidecar | router (gateway)
    name: str = ""  # pod / proxy name, for messages
    labels: dict[str, str] = field(default_factory=dict)

    @property
    def key(self) -> tuple[str, str]:
        return (self.namespace, self.workload)


def fetch_stats(admin_url: str, timeout: float = 2.0) -> StatsSnapshot:
    """One ``/stats`` poll of one proxy; raises :class:`UnavailableError` when it does not answer."""
    url = admin_url.rstrip("/") + STATS_PATH
    try:
        start = time.monotonic()
        with urllib.request.urlopen(url, timeout=timeout) as r:  # noqa: S310 - admin endpoints
            first = time.monotonic()  # Envoy has built the response by the time its first bytes arrive
            body = r.read()
    except Exception as e:  # connection refused, timeout, HTTP error
        raise UnavailableError(f"cannot read stats from Envoy admin {admin_url}: {e}",
                               hints=["is the proxy running? (check the admin URL / port-forward)"]) from e
    # The counters were read between sending the request and the reply's headers: stamp the midpoint, not the
    # (later, load-dependent) time the body was parsed, so rates are not skewed on a busy machine.
    return parse_stats_json(body, taken_at=(start + first) / 2)


def fetch_node(admin_url: str, timeout: float = 2.0) -> dict[str, object]:
    """The proxy's node (id, cluster, metadata) from ``/server_info`` -- how an admin URL names its workload."""
    try:
        with urllib.request.urlopen(admin_url.rstrip("/") + "/server_info", timeout=timeout) as r:  # noqa: S310
            info = json.loads(r.read())
    except Exception as e:
        raise UnavailableError(f"cannot reach Envoy admin {admin_url}: {e}") from e
    node = info.get("node") or {}
    return node if isinstance(node, dict) else {}


def target_from_admin(admin_url: str, timeout: float = 2.0) -> ProxyTarget:
    """Identify the proxy behind an admin URL from its Istio node id / metadata.

    Node ids look like ``sidecar~10.0.0.5~reviews-v1-5d9c-x7k2.default~default.svc.cluster.local``; metadata
    may carry ``WORKLOAD_NAME``, ``NAMESPACE`` and ``LABELS``. Without either, the URL itself names it.
    """
    node = fetch_node(admin_url, timeout)
    meta = node.get("metadata") if isinstance(node.get("metadata"), dict) else {}
    assert isinstance(meta, dict)
    node_id = str(node.get("id") or "")
    kind, pod, ns = "sidecar", "", ""
    parts = node_id.split("~")
    if len(parts) == 4:
        kind = "router" if parts[0] == "router" else "sidecar"
        pod, _, ns = parts[2].rpartition(".")
    ns = str(meta.get("NAMESPACE") or ns or "default")
    workload = str(meta.get("WORKLOAD_NAME") or "")
    labels = meta.get("LABELS") if isinstance(meta.get("LABELS"), dict) else {}
    assert isinstance(labels, dict)
    if not workload:
        workload = pod or urllib.parse.urlparse(admin_url).netloc
    return ProxyTarget(admin_url, ns, workload, kind, name=pod or workload, labels={str(k): str(v) for k, v in labels.items()})


def _per_second(counts: dict[str, int], seconds: float) -> dict[str, float]:
    return {k: v / seconds for k, v in counts.items()} if seconds > 0 else {}


def _edge_from_delta(target: ProxyTarget, d: ClusterDelta) -> TrafficEdge | None:
    secs = d.seconds
    if secs <= 0:
        return None
    name = d.cluster
    if name.direction == "outbound":
        host, subset, port = name.host, name.subset, name.port
    elif name.raw in (PASSTHROUGH, BLACKHOLE):
        host, subset, port = name.raw, "", None
    else:
        return None
    tcp = d.requests == 0 and (d.cx_new > 0 or d.bytes_sent + d.bytes_received > 0)
    if d.requests == 0 and not tcp:
        return None
    codes = _per_second(d.codes, secs)
    flags: dict[str, float] = {}
    if d.no_route_or_healthy:
        flags["UH"] = d.no_route_or_healthy / secs
    if d.overflow:
        flags["UO"] = d.overflow / secs
    if d.connect_fail:
        flags["UF"] = d.connect_fail / secs
    if d.retry_limit_exceeded or d.retry_overflow:
        flags["URX"] = (d.retry_limit_exceeded + d.retry_overflow) / secs
    # Requests Envoy answered locally without an upstream response (UH/UO) have no 5xx in upstream_rq_5xx
    # on every path: count them as "no response" (Kiali's "-" code) when the 5xx counter missed them.
    local = (d.no_route_or_healthy + d.overflow) / secs
    if local > codes.get("5xx", 0.0):
        codes["0"] = local - codes.get("5xx", 0.0)
    return TrafficEdge(
        source=target.key,
        dest_host=host,
        dest_subset=subset,
        dest_port=port,
        protocol="tcp" if tcp else "http",
        rps=(d.cx_new if tcp else d.requests) / secs,
        codes=codes,
        code_detail={str(k): v / secs for k, v in d.code_detail.items()},
        latency_ms=dict(d.latency_ms),
        bytes_per_s=(d.bytes_sent + d.bytes_received) / secs,
        flags=flags,
        attempts_rps=(d.cx_new if tcp else d.attempts) / secs,
        retries_rps=d.retries / secs,
        retried_codes=_per_second(d.retried, secs),
    )


def _fault_traffic(window: TrafficWindow, t: ProxyTarget, before: StatsSnapshot, now: StatsSnapshot, secs: float,
                   faults: dict[str, ListenerFaults]) -> None:
    """Aborts/delays the proxy's fault filter injected -> edges (one faulted destination) or node figures."""
    for prefix, stats in now.http.items():
        old = before.http.get(prefix, {})
        aborts = max(stats.get("fault.aborts_injected", 0) - old.get("fault.aborts_injected", 0), 0)
        delays = max(stats.get("fault.delays_injected", 0) - old.get("fault.delays_injected", 0), 0)
        if not aborts and not delays:
            continue
        lf = faults.get(prefix.removesuffix(";"))
        hosts = sorted(lf.hosts) if lf else []
        status = lf.abort_status(hosts[0]) if lf and len(hosts) == 1 else None
        if lf and len(hosts) > 1:
            statuses = {f.abort_status for f in lf.faults if f.abort_status}
            status = statuses.pop() if len(statuses) == 1 else None
        cls = f"{status // 100}xx" if status else "5xx"
        if len(hosts) == 1:
            window.edges.append(TrafficEdge(
                source=t.key, dest_host=hosts[0], rps=aborts / secs, codes={cls: aborts / secs} if aborts else {},
                code_detail={str(status or "fault"): aborts / secs} if aborts else {},
                flags={k: v / secs for k, v in (("FI", aborts), ("DI", delays)) if v},
                attempts_rps=0.0, local=True, fault="exact"))
            continue
        flags = window.node_flags.setdefault(t.key, {})
        for flag, n in (("FI", aborts), ("DI", delays)):
            if n:
                flags[flag] = flags.get(flag, 0.0) + n / secs
        if aborts:
            codes = window.node_codes.setdefault(t.key, {})
            codes[cls] = codes.get(cls, 0.0) + aborts / secs
        window.fault_hosts.setdefault(t.key, set()).update(hosts)


def window_from_snapshots(
    targets: list[ProxyTarget],
    prev: dict[str, StatsSnapshot],
    cur: dict[str, StatsSnapshot],
    errors: dict[str, str] | None = None,
    faults: dict[str, dict[str, ListenerFaults]] | None = None,
) -> TrafficWindow:
    """Turn two polls of each proxy (keyed by admin URL) into a :class:`TrafficWindow`.

    ``faults`` (admin URL -> stat prefix -> faults, see :mod:`meshctl.graph.faults`) attributes injected
    aborts to destinations; without it they are counted on the caller's node.
    """
    seconds = 0.0
    window = TrafficWindow(seconds=0.0, errors=dict(errors or {}))
    for t in targets:
        now = cur.get(t.admin_url)
        before = prev.get(t.admin_url)
        if now is None:
            continue
        window.measured.add(t.key)
        if before is None:
            continue
        secs = now.taken_at - before.taken_at
        seconds = max(seconds, secs)
        inbound = 0.0
        in_codes: dict[str, float] = {}
        for d in diff_snapshots(before, now).values():
            if d.cluster.direction == "inbound":
                inbound += d.rps
                for k, v in _per_second(d.codes, secs).items():
                    in_codes[k] = in_codes.get(k, 0.0) + v
                continue
            edge = _edge_from_delta(t, d)
            if edge is not None:
                window.edges.append(edge)
        if t.kind == "router" and secs > 0:
            # Gateways have no inbound clusters: what clients sent is the HCMs' downstream counters.
            for prefix, stats in now.http.items():
                old = before.http.get(prefix, {})
                n = stats.get("downstream_rq_total", 0) - old.get("downstream_rq_total", 0)
                inbound += max(n, 0) / secs
                for cls in ("2xx", "4xx", "5xx"):
                    v = stats.get(f"downstream_rq_{cls}", 0) - old.get(f"downstream_rq_{cls}", 0)
                    if v > 0:
                        in_codes[cls] = in_codes.get(cls, 0.0) + v / secs
        if secs > 0:
            _fault_traffic(window, t, before, now, secs, (faults or {}).get(t.admin_url, {}))
            # Router stats per HTTP connection manager: no route matched (NR, 404) / the route's cluster is
            # unknown to the proxy (NC, 503). Neither has a destination, so they belong to this proxy's node.
            for stat, flag in (("no_route", "NR"), ("no_cluster", "NC")):
                n = sum(max(s.get(stat, 0) - before.http.get(p, {}).get(stat, 0), 0) for p, s in now.http.items())
                if n:
                    window.node_flags.setdefault(t.key, {})[flag] = n / secs
        if inbound > 0:
            window.inbound[t.key] = window.inbound.get(t.key, 0.0) + inbound
            codes = window.inbound_codes.setdefault(t.key, {})
            for k, v in in_codes.items():
                codes[k] = codes.get(k, 0.0) + v
    window.seconds = seconds
    return window


class StatsPoller:
    """Polls a set of proxies; each :meth:`poll` returns the traffic over the last ``window`` seconds.

    Rates are deltas against the oldest earlier poll at most ``window`` seconds old (else the previous
    one), so a TUI refreshing every second shows a steady few-second rate instead of one-second noise.
    """

    def __init__(self, targets: list[ProxyTarget], timeout: float = 2.0, window: float = 5.0) -> None:
        self.targets = list(targets)
        self.timeout = timeout
        self.window = window
        self._hist: dict[str, deque[StatsSnapshot]] = {}
        #: admin URL -> (read at, fault map); read from /config_dump only when a proxy's fault counters move
        self._faults: dict[str, tuple[float, dict[str, ListenerFaults]]] = {}
        self.fault_ttl = 10.0

    def _faults_for(self, base: dict[str, StatsSnapshot], cur: dict[str, StatsSnapshot]) -> dict[str, dict[str, ListenerFaults]]:
        out: dict[str, dict[str, ListenerFaults]] = {}
        for url, snap in cur.items():
            old = base.get(url)
            if old is None:
                continue
            moved = any(s.get(k, 0) != old.http.get(p, {}).get(k, 0)
                        for p, s in snap.http.items() for k in ("fault.aborts_injected", "fault.delays_injected"))
            if not moved:
                continue
            cached = self._faults.get(url)
            if cached is None or snap.taken_at - cached[0] > self.fault_ttl:
                cached = self._faults[url] = (snap.taken_at, fetch_faults(url, self.timeout))
            out[url] = cached[1]
        return out

    def _fetch_all(self) -> tuple[dict[str, StatsSnapshot], dict[str, str]]:
        snaps: dict[str, StatsSnapshot] = {}
        errors: dict[str, str] = {}
        if not self.targets:
            return snaps, errors
        with ThreadPoolExecutor(max_workers=min(16, len(self.targets))) as pool:
            futures = {t.admin_url: pool.submit(fetch_stats, t.admin_url, self.timeout) for t in self.targets}
            for url, fut in futures.items():
                try:
                    snaps[url] = fut.result()
                except UnavailableError as e:
                    errors[url] = e.message
        return snaps, errors

    def poll(self) -> TrafficWindow:
        cur, errors = self._fetch_all()
        base: dict[str, StatsSnapshot] = {}
        for url, snap in cur.items():
            hist = self._hist.setdefault(url, deque(maxlen=256))
            pick = next((old for old in hist if snap.taken_at - old.taken_at <= self.window), None)
            if pick is None and hist:
                pick = hist[-1]
            if pick is not None:
                base[url] = pick
            hist.append(snap)
            while len(hist) > 1 and snap.taken_at - hist[0].taken_at > self.window:
                hist.popleft()
        return window_from_snapshots(self.targets, base, cur, errors, self._faults_for(base, cur))

    def sample(self, interval: float = 1.0) -> TrafficWindow:
        """Two polls ``interval`` seconds apart (one-shot CLI use); the first one only primes the counters."""
        if not self._hist:
            self.poll()
            time.sleep(interval)
        return self.poll()
