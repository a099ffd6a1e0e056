"""Istio's names for generated Envoy resources and the metadata that points back to Istio config.

Shared by every builder (clusters, endpoints, routes, listeners) so a name is spelled in one place.
Spec: ``../shared/research/istio-translation.md`` §1.
"""

from __future__ import annotations

from collections.abc import Iterable

from envoy.config.core.v3 import base_pb2
from google.protobuf import struct_pb2

from meshctl.model.types import ConfigRef

BLACKHOLE_CLUSTER = "BlackHoleCluster"
PASSTHROUGH_CLUSTER = "PassthroughCluster"
INBOUND_PASSTHROUGH_CLUSTER = "InboundPassthroughCluster"
STATS_DELIMITER = ";"


def outbound_cluster_name(port: int, subset: str | None, host: str) -> str:
    """``outbound|9080|v1|reviews.default.svc.cluster.local`` (port = the *service* port)."""
    return f"outbound|{port}|{subset or ''}|{host}"


def inbound_cluster_name(port: int) -> str:
    """``inbound|9080||`` (port = the *workload* target port)."""
    return f"inbound|{port}||"


def sni_name(port: int, subset: str | None, host: str) -> str:
    """``outbound_.9080_.v1_.reviews.default.svc.cluster.local``: default SNI for ISTIO_MUTUAL."""
    return f"outbound_.{port}_.{subset or ''}_.{host}"


def parse_cluster_name(name: str) -> tuple[str, int, str, str] | None:
    """``outbound|9080|v1|reviews...`` -> ("outbound", 9080, "v1", "reviews..."); None if not that shape."""
    parts = name.split("|")
    if len(parts) != 4 or parts[0] not in ("outbound", "inbound"):
        return None
    try:
        port = int(parts[1])
    except ValueError:
        return None
    return parts[0], port, parts[2], parts[3]


def parse_sni_cluster_name(name: str) -> tuple[int, str, str] | None:
    """``outbound_.9080_.v1_.reviews...`` -> (9080, "v1", "reviews..."); None if not that shape."""
    if not name.startswith("outbound_."):
        return None
    parts = name.split("_.", 3)
    if len(parts) != 4:
        return None
    try:
        return int(parts[1]), parts[2], parts[3]
    except ValueError:
        return None


def alt_stat_name(name: str) -> str:
    """Istio's default ``alt_stat_name``: the cluster name plus the stats delimiter."""
    return name + STATS_DELIMITER


def to_struct(data: dict[str, object]) -> struct_pb2.Struct:
    s = struct_pb2.Struct()
    s.update(data)
    return s


def istio_metadata(
    config: ConfigRef | None = None,
    *,
    subset: str | None = None,
    services: Iterable[tuple[str, str, str]] = (),
    extra: dict[str, object] | None = None,
) -> base_pb2.Metadata:
    """``metadata.filter_metadata.istio``: ``config`` (blame path), ``subset``, ``services`` [(host, name, ns)]."""
    md = base_pb2.Metadata()
    fields: dict[str, object] = {}
    if config is not None:
        fields["config"] = config.istio_path
    if subset:
        fields["subset"] = subset
    svc = [{"host": h, "name": n, "namespace": ns} for h, n, ns in services]
    if svc:
        fields["services"] = svc
    if extra:
        fields.update(extra)
    if fields:
        md.filter_metadata["istio"].CopyFrom(to_struct(fields))
    return md


def istio_config_path(ref: ConfigRef) -> str:
    """The ``istio.config`` metadata value for ``ref`` (``/apis/networking.istio.io/v1/namespaces/ns/kind/name``)."""
    return ref.istio_path
