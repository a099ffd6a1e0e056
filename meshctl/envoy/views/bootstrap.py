"""``proxy-config bootstrap``: the bootstrap, or a version summary (Istio, Istio proxy and Envoy versions)."""

from __future__ import annotations

from typing import Any

from google.protobuf import json_format

from meshctl.envoy.dump import ConfigDump, to_json_dict


def _meta(struct: Any, key: str) -> str:
    v = struct.fields.get(key)
    if v is None:
        return ""
    return v.string_value if v.WhichOneof("kind") == "string_value" else json_format.MessageToJson(v)


def summary(dump: ConfigDump) -> str:
    """``Istio Version / Istio Proxy Version / Envoy Version`` lines, aligned like istioctl's tabwriter(0,8,1)."""
    from meshctl.cli.output import format_table

    dump.require("bootstrap")
    b = dump.bootstrap()
    node = b.node if b is not None else None
    istio_version = proxy_sha = envoy = ""
    if node is not None:
        istio_version = _meta(node.metadata, "ISTIO_VERSION")
        proxy_sha = _meta(node.metadata, "ISTIO_PROXY_SHA")
        proxy_sha = proxy_sha.split(":", 1)[1] if ":" in proxy_sha else proxy_sha
        bv = node.user_agent_build_version
        v = bv.version
        envoy = f"{v.major_number}.{v.minor_number}.{v.patch}"
        label = _meta(bv.metadata, "build.label")
        if label:
            envoy += f"-{label}"
        for key in ("revision.status", "build.type", "ssl.version"):
            envoy += "/" + _meta(bv.metadata, key)
    rows = [["Istio Version:", istio_version], ["Istio Proxy Version:", proxy_sha], ["Envoy Version:", envoy]]
    return format_table(rows[0], rows[1:], minwidth=0, tabwidth=8, padding=1)


def json_data(dump: ConfigDump) -> dict[str, Any]:
    """The BootstrapConfigDump as istioctl prints it (camelCase)."""
    dump.require("bootstrap")
    out: dict[str, Any] = {}
    b = dump.bootstrap()
    if b is not None:
        out["bootstrap"] = to_json_dict(b, mark_structs=True)
    lu = (dump.bootstrap_wrapper or {}).get("last_updated") or (dump.bootstrap_wrapper or {}).get(
        "lastUpdated"
    )
    if lu:
        out["lastUpdated"] = lu
    return out
