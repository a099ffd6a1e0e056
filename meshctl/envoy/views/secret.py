"""``proxy-config secret``: SDS secrets with certificate facts (type, validity, serial, dates), never key material.

Certificates are read with a small DER walker (only the TBSCertificate fields needed), so no crypto library is
required just to list secrets.
"""

from __future__ import annotations

import base64
import dataclasses
import datetime as dt
import re
from dataclasses import dataclass
from typing import Any

from meshctl.envoy.dump import ConfigDump, to_json_dict
from meshctl.envoy.views.common import Table

_PEM_RE = re.compile(rb"-----BEGIN CERTIFICATE-----(.+?)-----END CERTIFICATE-----", re.S)


@dataclass
class CertInfo:
    serial: str
    not_before: dt.datetime
    not_after: dt.datetime
    uris: list[str] = dataclasses.field(default_factory=list)  # URI subject alternative names

    @property
    def trust_domain(self) -> str:
        """The SPIFFE trust domain of the certificate's identity (``spiffe://<td>/ns/...``), if any."""
        for u in self.uris:
            if u.startswith("spiffe://"):
                return u[len("spiffe://") :].split("/", 1)[0]
        return ""


def _tlv(data: bytes, pos: int) -> tuple[int, int, int]:
    """(tag, content start, content end) of the DER element at ``pos``."""
    tag = data[pos]
    length = data[pos + 1]
    pos += 2
    if length & 0x80:
        n = length & 0x7F
        length = int.from_bytes(data[pos : pos + n], "big")
        pos += n
    if pos + length > len(data):
        raise ValueError("truncated DER")
    return tag, pos, pos + length


def _time(data: bytes, pos: int) -> tuple[dt.datetime, int]:
    tag, s, e = _tlv(data, pos)
    text = data[s:e].decode("ascii").rstrip("Z")
    if tag == 0x17:  # UTCTime YYMMDDHHMMSS
        year = int(text[:2])
        year += 2000 if year < 50 else 1900
        rest = text[2:]
    else:  # GeneralizedTime YYYYMMDDHHMMSS
        year, rest = int(text[:4]), text[4:]
    value = dt.datetime(
        year,
        int(rest[0:2]),
        int(rest[2:4]),
        int(rest[4:6]),
        int(rest[6:8]),
        int(rest[8:10] or 0),
        tzinfo=dt.UTC,
    )
    return value, e


def parse_certificate(der: bytes) -> CertInfo:
    """Serial number and validity of a DER X.509 certificate."""
    _, s, _ = _tlv(der, 0)  # Certificate
    _, pos, _ = _tlv(der, s)  # TBSCertificate content
    tag, vs, ve = _tlv(der, pos)
    if tag == 0xA0:  # [0] version
        pos = ve
    tag, ss, se = _tlv(der, pos)
    serial = int.from_bytes(der[ss:se], "big")
    pos = se
    for _ in range(2):  # signature AlgorithmIdentifier, issuer Name
        _, _, pos = _tlv(der, pos)
    _, vstart, vend = _tlv(der, pos)  # Validity
    nb, p = _time(der, vstart)
    na, _ = _time(der, p)
    # Go prints the serial's big-endian magnitude bytes as hex (so a leading 0x01 byte shows as "01").
    info = CertInfo(serial.to_bytes((serial.bit_length() + 7) // 8, "big").hex(), nb, na)
    try:
        info.uris = _san_uris(der, vend)
    except (ValueError, IndexError, UnicodeDecodeError):
        pass
    return info


_SAN_OID = bytes([0x55, 0x1D, 0x11])  # 2.5.29.17 subjectAltName


def _san_uris(der: bytes, pos: int) -> list[str]:
    """URI SANs from the extensions that follow Validity (subject, SPKI, optional unique IDs, [3] extensions)."""
    _, tbs_start, tbs_end = _tlv(der, _tlv(der, 0)[1])
    for _ in range(2):  # subject Name, SubjectPublicKeyInfo
        _, _, pos = _tlv(der, pos)
    while pos < tbs_end:
        tag, cs, ce = _tlv(der, pos)
        pos = ce
        if tag != 0xA3:  # skip [1]/[2] unique identifiers
            continue
        _, es, ee = _tlv(der, cs)  # Extensions SEQUENCE
        p = es
        while p < ee:
            _, xs, xe = _tlv(der, p)  # Extension
            p = xe
            _, os_, oe = _tlv(der, xs)
            if der[os_:oe] != _SAN_OID:
                continue
            q = oe
            tag, vs, ve = _tlv(der, q)
            if tag == 0x01:  # critical BOOLEAN
                tag, vs, ve = _tlv(der, ve)
            _, gs, ge = _tlv(der, vs)  # GeneralNames SEQUENCE inside the OCTET STRING
            uris, g = [], gs
            while g < ge:
                gtag, ns, ne = _tlv(der, g)
                if gtag == 0x86:  # [6] uniformResourceIdentifier
                    uris.append(der[ns:ne].decode("ascii"))
                g = ne
            return uris
    return []


def certificates(pem: bytes) -> list[CertInfo]:
    """Every certificate in a PEM bundle (unparsable blocks are skipped)."""
    out = []
    for m in _PEM_RE.finditer(pem):
        try:
            out.append(parse_certificate(base64.b64decode(b"".join(m.group(1).split()))))
        except (ValueError, IndexError, UnicodeDecodeError):
            continue
    return out


def _rfc3339(t: dt.datetime) -> str:
    return t.strftime("%Y-%m-%dT%H:%M:%SZ")


def _data_source_bytes(ds: Any) -> bytes:
    which = ds.WhichOneof("specifier")
    if which == "inline_bytes":
        return bytes(ds.inline_bytes)
    if which == "inline_string":
        return ds.inline_string.encode()
    return b""


def _spiffe_trust_domains(secret: Any) -> list[tuple[str, bytes]]:
    """(trust domain, trust bundle PEM) of a SPIFFE certificate validator config, if the secret has one."""
    cvc = secret.validation_context.custom_validator_config
    if not cvc.name or ("spiffe" not in cvc.name.lower() and "SPIFFE" not in cvc.typed_config.type_url):
        return []
    try:
        from envoy.extensions.transport_sockets.tls.v3 import tls_spiffe_validator_config_pb2 as sp

        cfg = sp.SPIFFECertValidatorConfig.FromString(cvc.typed_config.value)
    except Exception:
        return []
    return [(td.name, _data_source_bytes(td.trust_bundle)) for td in cfg.trust_domains]


def table(dump: ConfigDump, now: dt.datetime | None = None, *, with_name: bool = False) -> Table | None:
    """Rows for warming then active secrets (one row each, from its first certificate); None when there are none."""
    dump.require("secret")
    now = now or dt.datetime.now(dt.UTC)
    rows: list[list[Any]] = []
    domains: list[str] = []
    for state, label in (("warming", "WARMING"), ("active", "ACTIVE")):
        for item, secret in dump.messages("secret", (state,)):
            name = item.name or secret.name
            chain = _data_source_bytes(secret.tls_certificate.certificate_chain)
            ca = _data_source_bytes(secret.validation_context.trusted_ca)
            # (type, first certificate or None, trust domain) per row; a SPIFFE validator lists one CA per domain
            entries: list[tuple[str, CertInfo | None, str]] = []
            if chain:
                certs = certificates(chain)
                entries.append(
                    ("Cert Chain", certs[0] if certs else None, certs[0].trust_domain if certs else "")
                )
            elif ca:
                certs = certificates(ca)
                entries.append(("CA", certs[0] if certs else None, ""))
            for td, bundle in _spiffe_trust_domains(secret):
                certs = certificates(bundle)
                entries.append(("CA", certs[0] if certs else None, td))
            if not entries:
                entries.append(("", None, ""))
            for kind, c, td in entries:
                domains.append(td)
                if c is None:
                    rows.append([name, kind, label, "false", "", "", ""])
                    continue
                valid = c.not_before < now < c.not_after
                rows.append(
                    [
                        name,
                        kind,
                        label,
                        "true" if valid else "false",
                        c.serial,
                        _rfc3339(c.not_after),
                        _rfc3339(c.not_before),
                    ]
                )
    if not rows:
        return None
    headers = ["RESOURCE NAME", "TYPE", "STATUS", "VALID CERT", "SERIAL NUMBER", "NOT AFTER", "NOT BEFORE"]
    if all(domains):
        headers.append("TRUST DOMAIN")
        rows = [[*r, d] for r, d in zip(rows, domains, strict=True)]
    if with_name:
        headers = ["NAME", *headers]
        rows = [[f"secret/{r[0]}", *r] for r in rows]
    return Table(headers, rows, 0, 5, 5)


def redacted_json(dump: ConfigDump) -> dict[str, Any]:
    """The SecretsConfigDump as JSON, with any private key material replaced by ``[redacted]``."""
    out: dict[str, Any] = {}
    for state, key in (
        ("static", "staticSecrets"),
        ("active", "dynamicActiveSecrets"),
        ("warming", "dynamicWarmingSecrets"),
    ):
        entries = []
        for item, secret in dump.messages("secret", (state,)):
            s = to_json_dict(secret)
            _redact(s)
            entry: dict[str, Any] = {"name": item.name}
            if item.version_info:
                entry["versionInfo"] = item.version_info
            if item.last_updated:
                entry["lastUpdated"] = item.last_updated
            entry["secret"] = {
                "@type": "type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.Secret",
                **s,
            }
            entries.append(entry)
        if entries:
            out[key] = entries
    return out


def _redact(obj: Any) -> None:
    if isinstance(obj, dict):
        for k, v in list(obj.items()):
            if k in ("privateKey", "password", "sessionTicketKeys", "hmacSecret") and isinstance(v, dict):
                obj[k] = {
                    kk: "W3JlZGFjdGVkXQ==" if kk == "inlineBytes" else "[redacted]"
                    for kk in v
                    if kk.startswith("inline")
                } or v
            else:
                _redact(v)
    elif isinstance(obj, list):
        for v in obj:
            _redact(v)
