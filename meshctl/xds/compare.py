"""``proxy-status <pod>``: istioctl's comparison of the control plane's intended config with the proxy's.

Per type (clusters, listeners, routes) the dynamic active resources of both dumps, sorted by name, with
``version_info``/``last_updated`` stripped, are printed as indented JSON and compared with a unified diff
(context 7). Equal: ``Clusters Match``; else ``Clusters Don't Match`` and the diff, headed
``--- Istiod Clusters`` / ``+++ Envoy Clusters``, like istioctl. Parsing reuses :mod:`meshctl.envoy.dump`, so both
dumps are canonicalised the same way (spelling differences in the JSON cannot show up as diffs). For a
field-by-field semantic diff with Istio blame use ``meshctl pc diff`` instead.
"""

from __future__ import annotations

import difflib
import json
import time
from typing import Any

from meshctl.envoy.dump import ConfigDump, to_envoy_dict

_TYPES = (("cluster", "Clusters"), ("listener", "Listeners"), ("route", "Routes"))


def _text(dump: ConfigDump, kind: str) -> list[str]:
    items = sorted(dump.messages(kind, ("active",)), key=lambda im: im[0].name)
    doc = [to_envoy_dict(m) for _, m in items]
    return (json.dumps(doc, indent=4, sort_keys=True) + "\n").splitlines(keepends=True)


def _rds_loaded(dump: ConfigDump) -> str:
    """The newest route ``last_updated`` of the Envoy dump, as Go's RFC1123 in local time ('' if unknown)."""
    import datetime

    stamps = [it.last_updated for it in dump.of("route", ("active",)) if it.last_updated]
    if not stamps:
        return ""
    try:
        t = max(datetime.datetime.fromisoformat(s.replace("Z", "+00:00")) for s in stamps)
    except ValueError:
        return ""
    return time.strftime("%a, %d %b %Y %H:%M:%S %Z", time.localtime(t.timestamp()))


def compare(intended: ConfigDump, actual: ConfigDump) -> tuple[str, bool]:
    """istioctl's text for the comparison, and whether everything matched."""
    out: list[str] = []
    all_match = True
    for kind, label in _TYPES:
        a, b = _text(intended, kind), _text(actual, kind)
        diff = list(difflib.unified_diff(a, b, fromfile=f"Istiod {label}", tofile=f"Envoy {label}", n=7))
        if not diff:
            line = f"{label} Match"
            if kind == "route":
                loaded = _rds_loaded(actual)
                if loaded:
                    line += f" (RDS last loaded at {loaded})"
            out.append(line + "\n")
        else:
            all_match = False
            out.append(f"{label} Don't Match\n")
            out.extend(d if d.endswith("\n") else d + "\n" for d in diff)
    return "".join(out), all_match


def intended_from_server(debug_url: str, proxy: str, timeout: float = 10.0) -> Any:
    """The server's intended dump for ``proxy`` from ``/debug/config_dump?proxyID=`` (UnavailableError if unreachable)."""
    import urllib.error
    import urllib.parse
    import urllib.request

    from meshctl.envoy.dump import load_dump
    from meshctl.errors import UnavailableError, UsageError

    url = debug_url.rstrip("/")
    if not url.startswith(("http://", "https://")):
        url = "http://" + url
    url += "/debug/config_dump?proxyID=" + urllib.parse.quote(proxy)
    try:
        with urllib.request.urlopen(url, timeout=timeout) as r:  # noqa: S310 - user-chosen debug URL
            data = r.read()
    except urllib.error.HTTPError as e:
        if e.code == 404:
            known = json.loads(e.read() or b"{}").get("known", [])
            raise UsageError(
                f"the xDS server has no proxy {proxy!r}; it serves: {', '.join(known) or '(none)'}"
            ) from None
        raise UnavailableError(f"unexpected status {e.code} from {url}") from None
    except (urllib.error.URLError, OSError) as e:
        raise UnavailableError(
            f"cannot reach the xDS debug endpoint {url}: {getattr(e, 'reason', e)}"
        ) from None
    return load_dump(data, source=url)
