"""One analysis finding and its serialisation; the shape every output format starts from."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING, Any

from meshctl.analyze.messages import Level, MessageType

if TYPE_CHECKING:
    from meshctl.sources.resource import Resource


@dataclass
class Message:
    """A code with its arguments, the resource it is about and where in the files that is.

    ``path`` is a field path (``spec.http[0].route[1]``) inside the resource, so the line points at the
    offending field, not just the document. ``origin_*`` describe resources that are not loaded
    objects (for example the mesh config file).
    """

    type: MessageType
    args: tuple[Any, ...]
    resource: Resource | None = None
    path: str | None = None
    analyzer: str = ""
    origin_kind: str | None = None
    origin_name: str | None = None
    origin_namespace: str | None = None
    origin_file: str | None = None
    origin_line: int | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def code(self) -> str:
        return self.type.code

    @property
    def level(self) -> Level:
        return self.type.level

    @cached_property
    def text(self) -> str:
        return self.type.render(*self.args)

    @property
    def kind(self) -> str | None:
        return self.resource.kind if self.resource is not None else self.origin_kind

    @property
    def namespace(self) -> str | None:
        return (self.resource.namespace or None) if self.resource is not None else self.origin_namespace

    @property
    def name(self) -> str | None:
        return self.resource.name if self.resource is not None else self.origin_name

    @property
    def origin(self) -> str:
        """``Kind ns/name`` (``Kind name`` without a namespace), as istioctl prints it; "" if none."""
        if self.kind is None:
            return ""
        return f"{self.kind} {self.namespace}/{self.name}" if self.namespace else f"{self.kind} {self.name}"

    @property
    def file(self) -> str | None:
        return self.resource.file if self.resource is not None else self.origin_file

    @cached_property
    def line(self) -> int | None:
        if self.resource is not None:
            return self.resource.pos(self.path).line
        return self.origin_line

    @property
    def reference(self) -> str:
        """``file:line`` like istioctl's origin reference, or "" when the resource came from a cluster."""
        if not self.file:
            return ""
        return f"{self.file}:{self.line}" if self.line else self.file

    def dedup_key(self) -> tuple[Any, ...]:
        return (self.code, self.origin, self.text)

    def render(self) -> str:
        """istioctl's text line: ``Error [IST0101] (VirtualService ns/name file:12) Referenced ...``."""
        where = ""
        if self.origin:
            ref = f" {self.reference}" if self.reference else ""
            where = f" ({self.origin}{ref})"
        return f"{self.level.label} [{self.code}]{where} {self.text}"

    def to_dict(self) -> dict[str, Any]:
        return {
            "code": self.code,
            "level": self.level.label,
            "message": self.text,
            "origin": self.origin,
            "kind": self.kind,
            "namespace": self.namespace,
            "name": self.name,
            "file": self.file,
            "line": self.line,
            "field": self.path,
            "reference": self.reference,
            "analyzer": self.analyzer,
            "documentationUrl": self.type.doc_url,
        }
