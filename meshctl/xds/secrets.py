"""SDS ``Secret`` resources the way pilot-agent names them: ``default`` (workload cert) and ``ROOTCA`` (trust root).

Also ``file-cert:<cert>~<key>`` and ``file-root:<ca>`` (DestinationRule/Gateway file paths, read from disk) when
the translated config refers to them.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable

from envoy.extensions.transport_sockets.tls.v3 import secret_pb2
from google.protobuf.message import Message

from meshctl.xds.certs import MeshCA

log = logging.getLogger("meshctl.xds")

_FILE_SECRET = re.compile(rb"(file-(?:cert|root):[^\x00-\x1f\"]+)")


def workload_secrets(ca: MeshCA, namespace: str, service_account: str) -> list[secret_pb2.Secret]:
    chain, key = ca.workload_cert(namespace, service_account)
    default = secret_pb2.Secret(name="default")
    default.tls_certificate.certificate_chain.inline_bytes = chain
    default.tls_certificate.private_key.inline_bytes = key
    root = secret_pb2.Secret(name="ROOTCA")
    root.validation_context.trusted_ca.inline_bytes = ca.root_pem
    return [default, root]


def file_secret_names(resources: Iterable[Message]) -> set[str]:
    """``file-cert:``/``file-root:`` SDS names mentioned anywhere in the resources (they are plain strings in SdsSecretConfig)."""
    names: set[str] = set()
    for r in resources:
        for m in _FILE_SECRET.finditer(r.SerializeToString()):
            names.add(m.group(1).decode(errors="replace"))
    return names


def file_secret(name: str) -> secret_pb2.Secret | None:
    """The Secret for a ``file-cert:<cert>~<key>`` or ``file-root:<ca>`` name, read now; None if unreadable."""

    def read(path: str) -> bytes | None:
        try:
            with open(path, "rb") as fh:
                return fh.read()
        except OSError as e:
            log.warning("xds: SDS %s: cannot read %s: %s", name, path, e.strerror)
            return None

    s = secret_pb2.Secret(name=name)
    if name.startswith("file-cert:"):
        cert_path, _, key_path = name[len("file-cert:") :].partition("~")
        cert, key = read(cert_path), read(key_path)
        if cert is None or key is None:
            return None
        s.tls_certificate.certificate_chain.inline_bytes = cert
        s.tls_certificate.private_key.inline_bytes = key
        return s
    if name.startswith("file-root:"):
        ca = read(name[len("file-root:") :])
        if ca is None:
            return None
        s.validation_context.trusted_ca.inline_bytes = ca
        return s
    return None
