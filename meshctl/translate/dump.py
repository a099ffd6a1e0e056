"""``config_dump(proxy_config)``: the translator's output in exactly the JSON shape of Envoy's
``/config_dump?include_eds`` (``configs[]`` of Bootstrap, Clusters, Endpoints, Listeners, Routes, Secrets
dumps, snake_case field names, int64 as strings), so every reader of a live dump (``proxy-config --file``,
the diff) reads a translated one too.

Resources Istio sends over xDS go into the ``dynamic_*`` sections, as on a real proxy. The whole dump is
built as one ``envoy.admin.v3.ConfigDump`` proto and converted to JSON once (per-object conversion is
what makes naive dumps slow).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from envoy.admin.v3 import config_dump_pb2
from envoy.admin.v3 import config_dump_shared_pb2 as cds
from envoy.config.bootstrap.v3 import bootstrap_pb2
from envoy.config.core.v3 import base_pb2
from google.protobuf import json_format

# Typed configs referenced through Any must be importable for json_format; the builders import them,
# and this makes sure a dump of deserialized protos works too.
import meshctl.translate.known_types  # noqa: F401
from meshctl.translate.protoutil import pack

if TYPE_CHECKING:
    from meshctl.translate import ProxyConfig

VERSION_INFO = "meshctl"

SECTIONS = ("bootstrap", "cluster", "endpoint", "listener", "route", "secret")


def node_of(pc: ProxyConfig) -> base_pb2.Node:
    """Istio's node identity for the proxy (id ``sidecar~ip~pod.ns~ns.svc.cluster.local``, cluster ``app.ns``)."""
    node = base_pb2.Node(id=pc.node_id, cluster=pc.node_cluster)
    if pc.node_metadata:
        node.metadata.update(pc.node_metadata)
    return node


def config_dump_proto(pc: ProxyConfig, types: frozenset[str] | None = None) -> config_dump_pb2.ConfigDump:
    """The dump as a proto; ``types`` limits it to some of :data:`SECTIONS` (default: all)."""
    want = types or frozenset(SECTIONS)
    out = config_dump_pb2.ConfigDump()
    if "bootstrap" in want:
        b = config_dump_pb2.BootstrapConfigDump()
        b.bootstrap.node.CopyFrom(node_of(pc))
        out.configs.append(pack(b))
    if "cluster" in want:
        c = cds.ClustersConfigDump(version_info=VERSION_INFO)
        for cl in pc.clusters:
            c.dynamic_active_clusters.add(version_info=VERSION_INFO).cluster.Pack(cl)
        out.configs.append(pack(c))
    if "endpoint" in want:
        e = cds.EndpointsConfigDump()
        for cla in pc.endpoints:
            e.dynamic_endpoint_configs.add(version_info=VERSION_INFO).endpoint_config.Pack(cla)
        out.configs.append(pack(e))
    if "listener" in want:
        ld = cds.ListenersConfigDump(version_info=VERSION_INFO)
        for lis in pc.listeners:
            dl = ld.dynamic_listeners.add(name=lis.name)
            dl.active_state.version_info = VERSION_INFO
            dl.active_state.listener.Pack(lis)
        out.configs.append(pack(ld))
    if "route" in want:
        r = cds.RoutesConfigDump()
        for rc in pc.routes:
            r.dynamic_route_configs.add(version_info=VERSION_INFO).route_config.Pack(rc)
        out.configs.append(pack(r))
    if "secret" in want:
        out.configs.append(pack(config_dump_pb2.SecretsConfigDump()))
    return out


def config_dump(pc: ProxyConfig, types: frozenset[str] | None = None) -> dict[str, Any]:
    """``/config_dump?include_eds`` JSON (as a dict) of a translated proxy."""
    return json_format.MessageToDict(config_dump_proto(pc, types), preserving_proto_field_name=True)


def bootstrap_dump_type() -> type:
    return bootstrap_pb2.Bootstrap
