"""``proxy-config rootca-compare``: do two proxies trust a common root CA (can they talk mTLS at all)?"""

from __future__ import annotations

import base64
import re

from meshctl.envoy.dump import ConfigDump
from meshctl.envoy.views.secret import _data_source_bytes, _spiffe_trust_domains
from meshctl.errors import InputError

_PEM_RE = re.compile(rb"-----BEGIN CERTIFICATE-----(.+?)-----END CERTIFICATE-----", re.S)


def root_certs(dump: ConfigDump, label: str) -> set[bytes]:
    """DER bytes of every certificate in the proxy's ``ROOTCA`` secret (trusted CA or SPIFFE trust bundles)."""
    dump.require("secret")
    found: set[bytes] = set()
    seen = False
    for item, secret in dump.messages("secret", ("active",)):
        if (item.name or secret.name) != "ROOTCA":
            continue
        seen = True
        bundles = [_data_source_bytes(secret.validation_context.trusted_ca)]
        bundles += [b for _, b in _spiffe_trust_domains(secret)]
        for pem in bundles:
            for m in _PEM_RE.finditer(pem):
                try:
                    found.add(base64.b64decode(b"".join(m.group(1).split())))
                except ValueError:
                    continue
    if not seen or not found:
        raise InputError(
            f"error when retrieving ROOTCA of [{label}]: no active ROOTCA secret with certificates"
        )
    return found


def compare(a: ConfigDump, b: ConfigDump, label_a: str, label_b: str) -> tuple[bool, str]:
    """(match, istioctl's report line): match when the two ROOTCA sets share a certificate."""
    same = bool(root_certs(a, label_a) & root_certs(b, label_b))
    verdict = (
        "the identical ROOTCA, theoretically the connectivity between them is available"
        if same
        else ("the non identical ROOTCA, theoretically the connectivity between them is unavailable")
    )
    return same, f"Both [{label_a}] and [{label_b}] have {verdict}"
