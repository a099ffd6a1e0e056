"""A throwaway self-signed certificate for the emulator's HTTPS mode (kubectl sends tokens only over TLS).

Made with the ``openssl`` command (no Python crypto dependency); the certificate is its own CA and is written
into the emulator's kubeconfig as ``certificate-authority-data``, so clients verify it properly.
"""

from __future__ import annotations

import os
import shutil
import ssl
import subprocess
import tempfile

from meshctl.errors import UnavailableError


def make_cert(directory: str | None = None) -> tuple[str, str]:
    """(cert_path, key_path) of a new EC P-256 certificate for 127.0.0.1 / localhost, valid one week."""
    openssl = shutil.which("openssl")
    if openssl is None:
        raise UnavailableError("the emulator's TLS mode needs the openssl command", hints=["install openssl, or run without --tls/--token"])
    d = directory or tempfile.mkdtemp(prefix="meshctl-kubeapi-tls-")
    cert, key = os.path.join(d, "tls.crt"), os.path.join(d, "tls.key")
    cmd = [openssl, "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
           "-subj", "/CN=meshctl-kube-emulator", "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost",
           "-days", "7", "-keyout", key, "-out", cert]
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=30)
    if p.returncode != 0:
        raise UnavailableError(f"openssl could not make a certificate: {p.stderr.strip()[-300:]}")
    return cert, key


def server_context(cert: str, key: str) -> ssl.SSLContext:
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(cert, key)
    ctx.set_alpn_protocols(["http/1.1"])  # no HTTP/2: clients fall back to HTTP/1.1 streams
    return ctx
