"""Check the PEM files given for xDS TLS (server certificate/key, client CA) before gRPC or Envoy sees them.

gRPC reports a bad certificate only as C++ log lines plus a failed bind (``cannot listen on ...``), and Envoy
only when it connects; reading the files with ``cryptography`` first turns each problem into one clear
``Error: FILE: not a PEM certificate`` (exit 65) naming the file at fault.
"""

from __future__ import annotations

from typing import Any

from cryptography import x509
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization

from meshctl.errors import InputError, UsageError


def _read(path: str) -> bytes:
    try:
        with open(path, "rb") as fh:
            return fh.read()
    except OSError as e:
        raise InputError(f"cannot read: {e.strerror}", file=path) from None


def read_certificates(path: str) -> tuple[bytes, list[x509.Certificate]]:
    """The file's bytes and the certificates in it (a chain or CA bundle); InputError unless it holds one or more."""
    data = _read(path)
    try:
        certs = x509.load_pem_x509_certificates(data)
    except ValueError:
        certs = []
    if not certs:
        raise InputError("not a PEM certificate", file=path)
    return data, certs


def read_private_key(path: str) -> tuple[bytes, Any]:
    """The file's bytes and its private key; InputError if it is not an unencrypted PEM private key."""
    data = _read(path)
    try:
        key = serialization.load_pem_private_key(data, password=None)
    except TypeError:
        raise InputError("the private key is encrypted; give an unencrypted PEM key", file=path) from None
    except (ValueError, UnsupportedAlgorithm):
        raise InputError("not a PEM private key", file=path) from None
    return data, key


def _spki(public_key: Any) -> bytes:
    return bytes(
        public_key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    )


def read_key_pair(cert_path: str, key_path: str) -> tuple[bytes, bytes]:
    """(certificate chain PEM, key PEM), checked to be PEM and to belong together (the key signs the first cert)."""
    cert_pem, certs = read_certificates(cert_path)
    key_pem, key = read_private_key(key_path)
    if _spki(certs[0].public_key()) != _spki(key.public_key()):
        raise InputError(f"the private key does not match the certificate in {cert_path}", file=key_path)
    return cert_pem, key_pem


def read_client_tls(
    ca: str | None, cert: str | None, key: str | None
) -> tuple[bytes, bytes | None, bytes | None] | None:
    """A client's ``--ca [--cert --key]`` as checked PEM (root, chain, key); None without ``--ca``.

    UsageError (64) for an incomplete combination, InputError (65) naming a file that is not what it should be.
    """
    if bool(cert) != bool(key):
        raise UsageError("--cert and --key go together")
    if cert and not ca:
        raise UsageError("--cert/--key (mTLS) need --ca, the CA of the server's certificate")
    if not ca:
        return None
    root = read_certificates(ca)[0]
    if cert and key:
        chain, private_key = read_key_pair(cert, key)
        return root, chain, private_key
    return root, None, None
