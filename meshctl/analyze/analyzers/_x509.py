"""Just enough X.509 to judge a gateway credential: PEM decoding and the validity period (no crypto needed)."""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import re

_PEM = re.compile(rb"-----BEGIN ([A-Z0-9 ]+)-----\s*(.*?)\s*-----END \1-----", re.S)


class CertError(ValueError):
    pass


def pem_blocks(data: bytes) -> list[tuple[str, bytes]]:
    out = []
    for label, body in _PEM.findall(data):
        try:
            out.append((label.decode(), base64.b64decode(b"".join(body.split()), validate=True)))
        except (binascii.Error, ValueError):
            raise CertError(f"invalid base64 in PEM block {label.decode()}") from None
    return out


def _tlv(buf: bytes, pos: int) -> tuple[int, int, int]:
    """(tag, content start, content end) of the DER element at ``pos``."""
    if pos + 2 > len(buf):
        raise CertError("truncated DER")
    tag = buf[pos]
    length = buf[pos + 1]
    pos += 2
    if length & 0x80:
        n = length & 0x7F
        if n == 0 or n > 4 or pos + n > len(buf):
            raise CertError("bad DER length")
        length = int.from_bytes(buf[pos : pos + n], "big")
        pos += n
    if pos + length > len(buf):
        raise CertError("truncated DER")
    return tag, pos, pos + length


def _time(tag: int, raw: bytes) -> dt.datetime:
    s = raw.decode("ascii")
    if tag == 0x17:  # UTCTime YYMMDDHHMMSSZ
        year = int(s[:2])
        return dt.datetime.strptime(("19" if year >= 50 else "20") + s[:12], "%Y%m%d%H%M%S").replace(tzinfo=dt.UTC)
    if tag == 0x18:  # GeneralizedTime YYYYMMDDHHMMSSZ
        return dt.datetime.strptime(s[:14], "%Y%m%d%H%M%S").replace(tzinfo=dt.UTC)
    raise CertError("unexpected time encoding")


def validity(der: bytes) -> tuple[dt.datetime, dt.datetime]:
    """(notBefore, notAfter) of a DER certificate."""
    tag, s, _ = _tlv(der, 0)
    if tag != 0x30:
        raise CertError("not a certificate")
    tag, s, e = _tlv(der, s)  # tbsCertificate
    if tag != 0x30:
        raise CertError("not a certificate")
    pos = s
    tag, cs, ce = _tlv(der, pos)
    if tag == 0xA0:  # explicit version
        pos = ce
        tag, cs, ce = _tlv(der, pos)
    pos = ce  # serial
    for _ in range(2):  # signature algorithm, issuer
        _, _, ce = _tlv(der, pos)
        pos = ce
    tag, vs, _ = _tlv(der, pos)
    if tag != 0x30:
        raise CertError("certificate has no validity")
    t1, a1, b1 = _tlv(der, vs)
    t2, a2, b2 = _tlv(der, b1)
    return _time(t1, der[a1:b1]), _time(t2, der[a2:b2])


def check_key_pair(cert_pem: bytes, key_pem: bytes, now: dt.datetime | None = None) -> str | None:
    """Why a certificate/key pair is unusable, or None when it looks valid."""
    try:
        certs = [d for label, d in pem_blocks(cert_pem) if label == "CERTIFICATE"]
        keys = [label for label, _ in pem_blocks(key_pem) if label.endswith("PRIVATE KEY")]
    except CertError as e:
        return str(e)
    if not certs:
        return "no PEM certificate found"
    if not keys:
        return "no PEM private key found"
    now = now or dt.datetime.now(dt.UTC)
    try:
        not_before, not_after = validity(certs[0])
    except (CertError, ValueError, UnicodeDecodeError) as e:
        return f"cannot parse certificate: {e}"
    if now > not_after:
        return f"certificate expired at {not_after.isoformat()}"
    if now < not_before:
        return f"certificate not valid before {not_before.isoformat()}"
    return None
