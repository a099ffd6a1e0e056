"""A throwaway mesh CA: Istio-style workload certificates (SPIFFE URI SANs) for proxies served by meshctl.

pilot-agent normally gives each sidecar its certificate over SDS (``default``) and the mesh root (``ROOTCA``).
``meshctl xds serve`` plays that role so mTLS between served Envoys works without istiod. ECDSA P-256 keys
keep issuing fast; certificates are cached per SPIFFE id, so reloads do not rotate them (no needless pushes).
"""

from __future__ import annotations

import datetime
import threading

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID


def _pem_key(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


class MeshCA:
    """Self-signed root plus leaf certificates for ``spiffe://<trust domain>/ns/<ns>/sa/<sa>``."""

    def __init__(self, trust_domain: str = "cluster.local", days: int = 30) -> None:
        self.trust_domain = trust_domain
        self._days = days
        self._key = ec.generate_private_key(ec.SECP256R1())
        now = datetime.datetime.now(datetime.UTC)
        name = x509.Name(
            [
                x509.NameAttribute(NameOID.ORGANIZATION_NAME, trust_domain),
                x509.NameAttribute(NameOID.COMMON_NAME, "meshctl root CA"),
            ]
        )
        self._cert = (
            x509.CertificateBuilder()
            .subject_name(name)
            .issuer_name(name)
            .public_key(self._key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(days=days))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .add_extension(
                x509.KeyUsage(True, False, False, False, False, True, True, False, False), critical=True
            )
            .sign(self._key, hashes.SHA256())
        )
        self.root_pem = self._cert.public_bytes(serialization.Encoding.PEM)
        self._issued: dict[str, tuple[bytes, bytes]] = {}
        self._lock = threading.Lock()

    def server_cert(self, hosts: list[str]) -> tuple[bytes, bytes]:
        """``(cert PEM, key PEM)`` for a TLS server known by ``hosts`` (DNS names or IPs), e.g. the xDS server itself."""
        import ipaddress

        sans: list[x509.GeneralName] = []
        for h in hosts:
            try:
                sans.append(x509.IPAddress(ipaddress.ip_address(h)))
            except ValueError:
                sans.append(x509.DNSName(h))
        key = ec.generate_private_key(ec.SECP256R1())
        now = datetime.datetime.now(datetime.UTC)
        cert = (
            x509.CertificateBuilder()
            .subject_name(
                x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, hosts[0] if hosts else "meshctl")])
            )
            .issuer_name(self._cert.subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(days=self._days))
            .add_extension(x509.SubjectAlternativeName(sans), critical=False)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(
                x509.ExtendedKeyUsage(
                    [x509.oid.ExtendedKeyUsageOID.SERVER_AUTH, x509.oid.ExtendedKeyUsageOID.CLIENT_AUTH]
                ),
                critical=False,
            )
            .sign(self._key, hashes.SHA256())
        )
        return cert.public_bytes(serialization.Encoding.PEM), _pem_key(key)

    def spiffe_id(self, namespace: str, service_account: str) -> str:
        return f"spiffe://{self.trust_domain}/ns/{namespace}/sa/{service_account}"

    def workload_cert(self, namespace: str, service_account: str) -> tuple[bytes, bytes]:
        """``(cert chain PEM, key PEM)`` for a workload identity; the same pair every time for that identity."""
        sid = self.spiffe_id(namespace, service_account)
        with self._lock:
            hit = self._issued.get(sid)
            if hit:
                return hit
            key = ec.generate_private_key(ec.SECP256R1())
            now = datetime.datetime.now(datetime.UTC)
            cert = (
                x509.CertificateBuilder()
                .subject_name(x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, self.trust_domain)]))
                .issuer_name(self._cert.subject)
                .public_key(key.public_key())
                .serial_number(x509.random_serial_number())
                .not_valid_before(now - datetime.timedelta(minutes=5))
                .not_valid_after(now + datetime.timedelta(days=self._days))
                .add_extension(
                    x509.SubjectAlternativeName([x509.UniformResourceIdentifier(sid)]), critical=True
                )
                .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
                .add_extension(
                    x509.KeyUsage(True, False, True, False, False, False, False, False, False), critical=True
                )
                .add_extension(
                    x509.ExtendedKeyUsage(
                        [x509.oid.ExtendedKeyUsageOID.SERVER_AUTH, x509.oid.ExtendedKeyUsageOID.CLIENT_AUTH]
                    ),
                    critical=False,
                )
                .sign(self._key, hashes.SHA256())
            )
            pair = (cert.public_bytes(serialization.Encoding.PEM) + self.root_pem, _pem_key(key))
            self._issued[sid] = pair
            return pair
