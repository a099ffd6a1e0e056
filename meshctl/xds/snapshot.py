"""Immutable, versioned resource sets for one node: what the server serves on that node's streams.

A :class:`Snapshot` holds, per type URL, ``name -> Entry(any, version)``. Resources are packed into ``Any`` once
and hashed (deterministic serialization) once, so streams compare per-resource versions cheaply to decide what
changed: SotW resends a type only when the subscribed set changed; delta sends only changed resources.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from google.protobuf import any_pb2
from google.protobuf.message import Message

from meshctl.xds import types as T


@dataclass(frozen=True)
class Entry:
    """One resource: the packed ``Any`` and its content version (a short hash of its bytes)."""

    name: str
    any: any_pb2.Any
    version: str


def resource_name(msg: Message) -> str:
    """The xDS name of a resource message (``cluster_name`` for ClusterLoadAssignment, else ``name``)."""
    if msg.DESCRIPTOR.full_name == "envoy.config.endpoint.v3.ClusterLoadAssignment":
        return str(msg.cluster_name)  # type: ignore[attr-defined]
    return str(msg.name)  # type: ignore[attr-defined]


def pack(msg: Message) -> Entry:
    """Pack a resource into an :class:`Entry` (``Any`` + content hash)."""
    a = any_pb2.Any()
    a.Pack(msg)
    digest = hashlib.sha256(msg.SerializeToString(deterministic=True)).hexdigest()[:16]
    return Entry(resource_name(msg), a, digest)


def _type_url(msg: Message) -> str:
    return "type.googleapis.com/" + msg.DESCRIPTOR.full_name


@dataclass(frozen=True)
class Snapshot:
    """Per type URL: the resources (by name) and the version label of that type's current content."""

    version: str
    resources: Mapping[str, Mapping[str, Entry]] = field(default_factory=dict)
    versions: Mapping[str, str] = field(default_factory=dict)

    @classmethod
    def build(
        cls,
        version: str,
        *,
        clusters: Iterable[Message] = (),
        endpoints: Iterable[Message] = (),
        listeners: Iterable[Message] = (),
        routes: Iterable[Message] = (),
        secrets: Iterable[Message] = (),
    ) -> Snapshot:
        """A snapshot from protobuf messages; every type gets ``version`` as its version label."""
        res: dict[str, dict[str, Entry]] = {t: {} for t in T.ORDER}
        for msgs in (clusters, endpoints, listeners, routes, secrets):
            for m in msgs:
                e = pack(m)
                bucket = res.setdefault(_type_url(m), {})
                if e.name in bucket:
                    raise ValueError(f"duplicate {T.short_name(_type_url(m))} resource name {e.name!r}")
                bucket[e.name] = e
        return cls(version, res, {t: version for t in res})

    @classmethod
    def from_proxy_config(cls, pc: Any, version: str) -> Snapshot:
        """A snapshot from the translator's ``ProxyConfig`` (``.clusters .endpoints .listeners .routes``)."""
        return cls.build(
            version,
            clusters=getattr(pc, "clusters", ()),
            endpoints=getattr(pc, "endpoints", ()),
            listeners=getattr(pc, "listeners", ()),
            routes=getattr(pc, "routes", ()),
            secrets=getattr(pc, "secrets", ()) or (),
        )

    def get(self, type_url: str) -> Mapping[str, Entry]:
        return self.resources.get(type_url, {})

    def type_version(self, type_url: str) -> str:
        return self.versions.get(type_url, self.version)

    def digest(self, type_url: str) -> dict[str, str]:
        """``name -> content version`` for one type: equal digests mean identical content."""
        return {n: e.version for n, e in self.get(type_url).items()}

    def carry_versions(self, previous: Snapshot | None) -> Snapshot:
        """This snapshot, with each type whose content equals ``previous``'s keeping the previous version label.

        So a reload that changes only one proxy's routes bumps only that proxy's RDS version, and nothing is
        pushed to the others.
        """
        if previous is None:
            return self
        versions = dict(self.versions)
        changed = False
        for t in self.resources:
            if self.digest(t) == previous.digest(t):
                versions[t] = previous.type_version(t)
            else:
                changed = True
        version = self.version if changed else previous.version
        return Snapshot(version, self.resources, versions)

    def same_content(self, other: Snapshot | None) -> bool:
        return other is not None and all(
            self.digest(t) == other.digest(t) for t in set(self.resources) | set(other.resources)
        )

    def messages(self, type_url: str) -> list[Message]:
        """The unpacked messages of one type, sorted by name (for debug dumps)."""
        from meshctl.xds.protos import message_class

        cls_ = message_class(type_url)
        out = []
        for name in sorted(self.get(type_url)):
            m = cls_()
            self.get(type_url)[name].any.Unpack(m)
            out.append(m)
        return out

    def inconsistencies(self) -> list[str]:
        """References that cannot be resolved inside the snapshot (like go-control-plane's ``Consistent()``).

        EDS clusters need a ClusterLoadAssignment and HCM listeners using RDS need a RouteConfiguration, else
        Envoy stays warming until its initial-fetch timeout.
        """
        from meshctl.xds.protos import eds_cluster_names, rds_route_names

        problems = []
        eds = set(self.get(T.ENDPOINT))
        for name in sorted(eds_cluster_names(self.messages(T.CLUSTER)) - eds):
            problems.append(f"cluster {name!r} uses EDS but has no ClusterLoadAssignment")
        rds = set(self.get(T.ROUTE))
        for name in sorted(rds_route_names(self.messages(T.LISTENER)) - rds):
            problems.append(f"route configuration {name!r} is referenced by a listener but missing")
        return problems
