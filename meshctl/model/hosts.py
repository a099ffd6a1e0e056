"""Hostname rules as Istio's ``host.Name``: wildcard matching, subset checks, shortname -> FQDN, exportTo.

Why a module: the same three questions (does this VS/DR/Sidecar host cover that service? what FQDN does a
short name mean in this config's namespace? may namespace X see this config?) are asked by every part of
the model and must be answered identically.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable

DOMAIN_SUFFIX = "cluster.local"


def is_wildcard(h: str) -> bool:
    return h.startswith("*")


def host_matches(a: str, b: str) -> bool:
    """Istio ``Name.Matches``: equal, or one side's wildcard covers the other (either direction)."""
    if a == b:
        return True
    if is_wildcard(a):
        if is_wildcard(b):
            return b[1:].endswith(a[1:]) or a[1:].endswith(b[1:])
        return b.endswith(a[1:])
    if is_wildcard(b):
        return a.endswith(b[1:])
    return False


def host_subset_of(h: str, o: str) -> bool:
    """Istio ``Name.SubsetOf``: every name ``h`` covers is covered by ``o``."""
    if h == o:
        return True
    if is_wildcard(o):
        return (h[1:] if is_wildcard(h) else h).endswith(o[1:])
    return False


def most_specific_match(host: str, candidates: Iterable[str]) -> str | None:
    """Istio ``MostSpecificHostMatch``: an exact candidate, else the longest wildcard covering ``host``."""
    best: str | None = None
    for c in candidates:
        if c == host:
            return c
        if is_wildcard(c) and host_subset_of(host, c) and (best is None or len(c) > len(best)):
            best = c
    return best


def is_ip(s: str) -> bool:
    try:
        ipaddress.ip_address(s)
        return True
    except ValueError:
        return False


def resolve_shortname(host: str, namespace: str, domain: str = DOMAIN_SUFFIX) -> str:
    """Istio ``ResolveShortnameToFQDN``: a name without dots becomes ``name.<ns>.svc.<domain>``.

    Names with a dot are taken as written (``reviews.default`` stays as is, like Istio), as are ``*`` and IPs.
    """
    if not host or host == "*" or "." in host or ":" in host:  # dotted names, IPv4 and IPv6 stay as written
        return host
    return f"{host}.{namespace}.svc.{domain}"


def resolve_gateway_name(name: str, namespace: str) -> str:
    """A VS ``gateways`` entry as ``ns/name`` (``mesh`` kept; ``gw.ns.svc.cluster.local`` legacy form handled)."""
    if name == "mesh":
        return name
    if "/" in name:
        ns, _, n = name.partition("/")
        return f"{namespace if ns in ('', '.') else ns}/{n}"
    if "." in name:
        parts = name.split(".")
        return f"{parts[1]}/{parts[0]}"
    return f"{namespace}/{name}"


def fqdn(name: str, namespace: str, domain: str = DOMAIN_SUFFIX) -> str:
    return f"{name}.{namespace}.svc.{domain}"


def export_visible(export_to: Iterable[str] | None, config_ns: str, client_ns: str) -> bool:
    """May a proxy in ``client_ns`` see a config/service from ``config_ns`` exported to ``export_to``?

    Empty means the mesh default (``*``). ``.`` is the config's own namespace, ``~`` nobody.
    """
    values = list(export_to or ())
    if not values:
        return True
    for e in values:
        if e == "*" or e == client_ns or (e == "." and client_ns == config_ns):
            return True
    return False


def labels_match(selector: dict[str, str] | None, labels: dict[str, str]) -> bool:
    """``selector`` ⊆ ``labels`` (an empty selector matches everything)."""
    if not selector:
        return True
    return all(labels.get(k) == v for k, v in selector.items())
