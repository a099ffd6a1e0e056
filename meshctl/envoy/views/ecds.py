"""``proxy-config ecds``: extension configs delivered by ECDS (e.g. Wasm plugins, telemetry filters)."""

from __future__ import annotations

from typing import Any

from meshctl.envoy.dump import ConfigDump, to_json_dict
from meshctl.envoy.views.common import Table

TYPE_PREFIX = "type.googleapis.com/"


def _type_of(msg: Any) -> str:
    url = msg.typed_config.type_url if msg.HasField("typed_config") else ""
    return url[len(TYPE_PREFIX) :] if url.startswith(TYPE_PREFIX) else url


def table(dump: ConfigDump) -> Table:
    dump.require("ecds")
    rows = sorted(([m.name, _type_of(m)] for _, m in dump.messages("ecds")), key=lambda r: (r[1], r[0]))
    return Table(["ECDS NAME", "TYPE"], rows, 0, 8, 5)


def json_data(dump: ConfigDump) -> dict[str, Any]:
    """All ECDS entries merged into one EcdsConfigDump, in dump order."""
    dump.require("ecds")
    filters = []
    for item, m in dump.messages("ecds"):
        entry: dict[str, Any] = {}
        if item.version_info:
            entry["versionInfo"] = item.version_info
        entry["ecdsFilter"] = {
            "@type": "type.googleapis.com/envoy.config.core.v3.TypedExtensionConfig",
            **to_json_dict(m),
        }
        if item.last_updated:
            entry["lastUpdated"] = item.last_updated
        filters.append(entry)
    return {"ecdsFilters": filters}
