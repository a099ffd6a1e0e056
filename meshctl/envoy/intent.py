"""The intended side of ``pc diff`` taken from a running control plane instead of from YAML.

A proxy of meshctl's demo (or of ``meshctl xds serve``, or of istiod) gets its config from a control plane that
knows things a fresh translation of the YAML does not: the demo generates its own pods (127.x addresses, its
loopback bind mode) and may have had config applied since. What that control plane *intends* for the proxy is
what its istiod-style debug endpoint serves: ``/debug/config_dump?proxyID=<pod>.<ns>`` (or the full node id),
in Envoy's ``/config_dump?include_eds`` shape. This module finds the proxy there and fetches it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from meshctl.envoy.dump import ConfigDump
from meshctl.errors import UsageError


@dataclass
class DemoProxy:
    """One proxy of a running demo, from its status file."""

    name: str  # <pod>.<ns>
    node_id: str
    admin_url: str
    workload: str


def demo_proxies(status: dict[str, Any]) -> list[DemoProxy]:
    return [
        DemoProxy(
            str(p.get("name") or ""),
            str(p.get("node_id") or ""),
            str(p.get("admin_url") or "").rstrip("/"),
            str(p.get("workload") or ""),
        )
        for p in status.get("proxies") or []
    ]


def find_demo_proxy(
    proxies: list[DemoProxy],
    *,
    name: str | None = None,
    admin_url: str | None = None,
    node_id: str | None = None,
    namespace: str | None = None,
) -> DemoProxy:
    """The demo proxy a user named: ``pod.ns`` / ``pod`` / ``deploy/x`` / ``x`` (a workload), or its admin URL or
    node id. A usage error lists the demo's proxies when none matches."""
    want_url = (admin_url if "://" in admin_url else "http://" + admin_url).rstrip("/") if admin_url else None
    for p in proxies:
        if want_url and p.admin_url == want_url:
            return p
        if node_id and p.node_id == node_id:
            return p
    if name:
        kind, _, bare = name.rpartition("/")
        ns = namespace or "default"
        for p in proxies:
            pod, _, pns = p.name.partition(".")
            if kind in ("", "pod", "pods", "po") and bare in (p.name, pod if pns == ns else None):
                return p
            if kind in ("", "deploy", "deployment", "deployments") and bare in (
                p.workload if pns == ns else None,
                f"{p.workload}.{pns}",
            ):
                return p
    what = name or admin_url or node_id or "(nothing)"
    raise UsageError(
        f"{what} is not a proxy of the running demo",
        hints=["demo proxies: " + ", ".join(f"{p.name} ({p.admin_url})" for p in proxies)],
    )


def proxy_id_of(actual: ConfigDump) -> str:
    """The node id the actual proxy announces (what the control plane keys its config by)."""
    return str(((actual.bootstrap_raw or {}).get("node") or {}).get("id", ""))


def debug_url_of(debug_url: str) -> str:
    url = debug_url.rstrip("/")
    return url if url.startswith(("http://", "https://")) else "http://" + url


def from_debug_endpoint(debug_url: str, proxy_id: str) -> tuple[ConfigDump, str]:
    """(the control plane's intended dump for ``proxy_id``, the URL it came from)."""
    import urllib.parse

    from meshctl.xds.compare import intended_from_server

    if not proxy_id:
        raise UsageError(
            "which proxy? the actual dump carries no node id: give --proxy POD.NS (the debug endpoint's proxyID)"
        )
    url = debug_url_of(debug_url)
    dump = intended_from_server(url, proxy_id)
    return dump, f"{url}/debug/config_dump?proxyID={urllib.parse.quote(proxy_id)}"
