"""Per-proxy sync status as ``meshctl proxy-status`` shows it, from a running ``meshctl xds serve``.

Two ways to ask, same result: over ADS with istiod's debug type ``istio.io/debug/syncz`` (what ``istioctl
proxy-status`` does; answers are CSDS ``ClientConfig`` messages), or over HTTP from ``/debug/syncz``.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from typing import Any

from meshctl.errors import UnavailableError, UsageError
from meshctl.xds import types as T
from meshctl.xds.status import NACK, NOT_SENT, STALE, SYNCED

#: The columns istioctl shows, in its order.
COLUMNS = ("CDS", "LDS", "EDS", "RDS")


@dataclass
class TypeState:
    status: str  # SYNCED | STALE | NOT SENT | NACK
    version: str = ""
    error: str | None = None

    @property
    def label(self) -> str:
        """One line for a table cell: ``NACK: <Envoy's message, summarised>`` or the status."""
        return f"NACK: {summarize_nack(self.error or '')}" if self.status == NACK else self.status


def summarize_nack(message: str, limit: int = 200) -> str:
    """Envoy's NACK text on one line: proto debug dumps of the rejected resource dropped, whitespace folded.

    Envoy prefixes constraint errors with the offending resource in text format (many lines); the reason is
    after the last ``: ``-prefixed line. Several rejected resources are joined by newlines: keep each reason.
    """
    reasons = []
    for line in message.splitlines():
        line = line.strip()
        if line.startswith(": "):
            reasons.append(line[2:])
    text = "; ".join(reasons) if reasons else " ".join(message.split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


@dataclass
class ProxyStatus:
    name: str  # <pod>.<ns>
    cluster: str
    namespace: str
    node_id: str
    version: str
    types: dict[str, TypeState] = field(default_factory=dict)

    def state(self, short: str) -> TypeState:
        return self.types.get(short) or TypeState(NOT_SENT)

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "cluster": self.cluster,
            "namespace": self.namespace,
            "node_id": self.node_id,
            "version": self.version,
            "types": {
                k: {"status": v.status, "version": v.version, "error": v.error}
                for k, v in sorted(self.types.items())
            },
        }


def from_client_configs(configs: list[Any]) -> list[ProxyStatus]:
    """Rows from CSDS ``ClientConfig`` messages (the ``istio.io/debug/syncz`` answer)."""
    from envoy.service.status.v3 import csds_pb2
    from google.protobuf.json_format import MessageToDict

    names = {
        csds_pb2.SYNCED: SYNCED,
        csds_pb2.STALE: STALE,
        csds_pb2.NOT_SENT: NOT_SENT,
        csds_pb2.ERROR: NACK,
    }
    out = []
    for cc in configs:
        md = MessageToDict(cc.node.metadata) if cc.node.HasField("metadata") else {}
        ps = ProxyStatus(
            name=cc.node.id,
            cluster=str(md.get("CLUSTER_ID", "")),
            namespace=str(md.get("NAMESPACE", "")),
            node_id=str(md.get("NODE_ID", cc.node.id)),
            # meshctl's server sends VERSION (config version); istiod's rows carry ISTIO_VERSION instead.
            version=str(md.get("VERSION") or md.get("ISTIO_VERSION") or ""),
        )
        for g in cc.generic_xds_configs:
            status = names.get(g.config_status, "IGNORED")
            ps.types[T.short_name(g.type_url)] = TypeState(
                status, g.version_info, g.error_state.details if status == NACK else None
            )
        out.append(ps)
    return out


def from_syncz_json(data: list[dict[str, Any]]) -> list[ProxyStatus]:
    """Rows from the HTTP ``/debug/syncz`` document."""
    out = []
    for c in data:
        ps = ProxyStatus(
            c["proxy"],
            c.get("cluster_id", ""),
            c.get("namespace", ""),
            c.get("node_id", c["proxy"]),
            c.get("version", ""),
        )
        for short, t in (c.get("types") or {}).items():
            ps.types[short] = TypeState(t["status"], t.get("sent_version", ""), t.get("nack"))
        out.append(ps)
    return out


def fetch(
    xds: str | None = None, debug: str | None = None, credentials: Any = None, timeout: float = 5.0
) -> list[ProxyStatus]:
    """Status of every connected proxy, sorted by name; UnavailableError (exit 69) if the server cannot be reached."""
    if debug:
        url = debug.rstrip("/")
        if not url.startswith(("http://", "https://")):
            url = "http://" + url
        if not url.endswith("/debug/syncz"):
            url += "/debug/syncz"
        try:
            with urllib.request.urlopen(url, timeout=timeout) as r:  # noqa: S310 - user-chosen debug URL
                data = json.load(r)
        except (urllib.error.URLError, OSError) as e:
            raise UnavailableError(
                f"cannot reach the xDS debug endpoint {url}: {getattr(e, 'reason', e)}",
                hints=["is `meshctl xds serve` running? its debug port is the gRPC port + 4 by default"],
            ) from None
        except json.JSONDecodeError:
            raise UnavailableError(
                f"{url} did not answer with JSON; is it meshctl's debug endpoint?"
            ) from None
        rows = from_syncz_json(data)
    else:
        from meshctl.xds.client import fetch_syncz

        target = xds or "127.0.0.1:15010"
        try:
            rows = from_client_configs(fetch_syncz(target, timeout=timeout, credentials=credentials))
        except UnavailableError as e:
            e.hints.append("is `meshctl xds serve` running there? (--xds HOST:PORT, or --debug URL)")
            raise
    return sorted(rows, key=lambda r: (r.name, r.node_id))


def matches(proxy: str, name: str, node_id: str = "") -> bool:
    """Whether PROXY (``<pod>.<ns>``, the full node id, or the pod name alone) names this row."""
    return proxy in (name, node_id) or name.split(".")[0] == proxy


def unknown_proxy(proxy: str, known: list[str], where: str, namespace: str | None = None) -> UsageError:
    """The error (exit 64, like an unknown workload elsewhere) for a PROXY the server does not know, listing those it does."""
    names = sorted(set(known))
    listed = ", ".join(names[:20]) + (f" and {len(names) - 20} more" if len(names) > 20 else "")
    return UsageError(
        f"proxy {proxy!r}{f' in namespace {namespace!r}' if namespace else ''} is not connected to {where}; "
        + (f"connected proxies: {listed}" if names else "no proxy is connected"),
        hints=["name it <pod>.<namespace> as the NAME column of `meshctl proxy-status` shows"],
    )


def table_rows(rows: list[ProxyStatus]) -> tuple[list[str], list[list[str]]]:
    headers = ["NAME", "CLUSTER", *COLUMNS, "VERSION"]
    return headers, [[r.name, r.cluster, *(r.state(c).label for c in COLUMNS), r.version] for r in rows]


# --------------------------------------------------------------------------- istiod's syncz, offline (--file)

#: istioctl's short type names (``pilot/pkg/xds/v3`` GetShortType) for the types istiod reports.
_ISTIO_SHORT = {
    **T.SHORT,
    "type.googleapis.com/envoy.config.core.v3.TypedExtensionConfig": "ECDS",
    "type.googleapis.com/istio.networking.nds.v1.NameTable": "NDS",
    "type.googleapis.com/istio.mesh.v1alpha1.ProxyConfig": "PCDS",
}
_CORE = ("CDS", "LDS", "EDS", "RDS")
_ISTIO_STATUS = {
    "SYNCED": "SYNCED",
    "STALE": "STALE",
    "NOT_SENT": "NOT SENT",
    "ERROR": "ERROR",
    "UNKNOWN": "IGNORED",
}


@dataclass
class IstiodRow:
    """One proxy as istiod reported it: ``types`` maps short type names to istioctl's status words."""

    name: str
    cluster: str
    istiod: str
    version: str
    types: dict[str, str]

    def subscribed(self) -> str:
        """``N (CDS,LDS,EDS,RDS,...)`` over the types not IGNORED: core types first, then the rest sorted."""
        live = [t for t, s in self.types.items() if s != "IGNORED"]
        ordered = [t for t in _CORE if t in live] + sorted(t for t in live if t not in _CORE)
        return f"{len(ordered)} ({','.join(ordered)})" if ordered else "0"


def load_syncz_file(path: str) -> dict[str, Any]:
    """Recorded ``istio.io/debug/syncz`` answers: ``{istiod: DiscoveryResponse JSON}`` or one DiscoveryResponse.

    Returns ``{istiod name: DiscoveryResponse proto}``; InputError (exit 65) naming the file for bad content.
    """
    from envoy.service.discovery.v3 import discovery_pb2
    from envoy.service.status.v3 import csds_pb2  # noqa: F401 - registers ClientConfig for Any parsing
    from google.protobuf import json_format

    from meshctl.errors import InputError

    try:
        with open(path, encoding="utf-8") as fh:
            data = json.load(fh)
    except OSError as e:
        raise InputError(f"cannot read: {e.strerror}", file=path) from None
    except json.JSONDecodeError as e:
        raise InputError(f"not JSON: {e.msg}", file=path, line=e.lineno) from None
    if isinstance(data, dict) and ("resources" in data or "typeUrl" in data or "type_url" in data):
        data = {"": data}
    if not isinstance(data, dict):
        raise InputError(
            "expected a DiscoveryResponse or an object of istiod name -> DiscoveryResponse", file=path
        )
    out = {}
    for istiod, doc in data.items():
        try:
            out[istiod] = json_format.ParseDict(
                doc, discovery_pb2.DiscoveryResponse(), ignore_unknown_fields=True
            )
        except json_format.ParseError as e:
            raise InputError(f"not a DiscoveryResponse: {e}", file=path, field=istiod or None) from None
    return out


def istiod_rows(responses: dict[str, Any]) -> list[IstiodRow]:
    """Rows from istiod syncz responses, sorted by proxy id like istioctl."""
    from envoy.service.status.v3 import csds_pb2
    from google.protobuf.json_format import MessageToDict

    rows = []
    for istiod, dr in responses.items():
        cp_id = istiod
        if dr.control_plane.identifier:
            try:
                cp_id = json.loads(dr.control_plane.identifier).get("ID") or istiod
            except (json.JSONDecodeError, AttributeError):
                pass
        for a in dr.resources:
            if a.type_url != T.CLIENT_CONFIG:
                continue
            cc = csds_pb2.ClientConfig()
            a.Unpack(cc)
            md = MessageToDict(cc.node.metadata) if cc.node.HasField("metadata") else {}
            types = {}
            for g in cc.generic_xds_configs:
                short = _ISTIO_SHORT.get(g.type_url, g.type_url.rsplit(".", 1)[-1])
                types[short] = _ISTIO_STATUS.get(csds_pb2.ConfigStatus.Name(g.config_status), "IGNORED")
            rows.append(
                IstiodRow(
                    cc.node.id, str(md.get("CLUSTER_ID", "")), cp_id, str(md.get("ISTIO_VERSION", "")), types
                )
            )
    return sorted(rows, key=lambda r: r.name)


def istiod_table(rows: list[IstiodRow], verbosity: int = 0) -> tuple[list[str], list[list[str]]]:
    """istioctl's tables: v0 ``NAME CLUSTER ISTIOD VERSION SUBSCRIBED TYPES``; v1 one column per type (sorted)."""
    if verbosity <= 0:
        return ["NAME", "CLUSTER", "ISTIOD", "VERSION", "SUBSCRIBED TYPES"], [
            [r.name, r.cluster, r.istiod, r.version, r.subscribed()] for r in rows
        ]
    cols = sorted({*_CORE, "ECDS"} | {t for r in rows for t in r.types})
    return ["NAME", "CLUSTER", *cols, "ISTIOD", "VERSION"], [
        [r.name, r.cluster, *(r.types.get(c, "NOT SENT") for c in cols), r.istiod, r.version] for r in rows
    ]
