"""The simulator's own certificate authority and serving certificate.

kubectl (client-go) sends a kubeconfig's bearer token only over TLS, so the simulator serves HTTPS and writes its CA
into the kubeconfig as `certificate-authority-data`; every client then verifies the server as it would a real one.
"""

import ipaddress
import os
import ssl
import tempfile
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

# Fixed, wide validity: tests move Python's clock (time-machine), while OpenSSL and kubectl check the real one.
NOT_BEFORE = datetime(2020, 1, 1, tzinfo=UTC)
NOT_AFTER = datetime(2100, 1, 1, tzinfo=UTC)
LOOPBACK = ("127.0.0.1", "::1", "localhost")
_FILES = ("ca.crt", "server.crt", "server.key")


@dataclass(frozen=True)
class Certificates:
    """PEM bytes: the CA clients trust, and the server's certificate and private key, signed by that CA."""

    ca: bytes
    certificate: bytes
    key: bytes

    @classmethod
    def create(cls, hosts: tuple[str, ...] = LOOPBACK) -> "Certificates":
        ca_key = ec.generate_private_key(ec.SECP256R1())
        ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "portal-simulator-ca (SIMULATED cluster)")])
        ca = (
            _builder(ca_name, ca_name, ca_key.public_key())
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(_key_usage(cert_sign=True), critical=True)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False)
            .sign(ca_key, hashes.SHA256())
        )
        key = ec.generate_private_key(ec.SECP256R1())
        names: list[x509.GeneralName] = []
        for host in dict.fromkeys(hosts):
            try:
                names.append(x509.IPAddress(ipaddress.ip_address(host)))
            except ValueError:
                names.append(x509.DNSName(host))
        subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "portal-simulator")])
        certificate = (
            _builder(subject, ca_name, key.public_key())
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(_key_usage(cert_sign=False), critical=True)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
            .add_extension(x509.SubjectAlternativeName(names), critical=False)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False)
            .sign(ca_key, hashes.SHA256())
        )
        return cls(
            ca=ca.public_bytes(serialization.Encoding.PEM),
            certificate=certificate.public_bytes(serialization.Encoding.PEM),
            key=key.private_bytes(
                serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
            ),
        )

    @classmethod
    def load_or_create(cls, directory: Path, hosts: tuple[str, ...] = LOOPBACK) -> "Certificates":
        """The certificates kept in `directory`, made anew when missing or not covering `hosts`, so a kubeconfig
        copied elsewhere keeps working across restarts."""
        paths = [directory / name for name in _FILES]
        if all(path.exists() for path in paths):
            kept = cls(*(path.read_bytes() for path in paths))
            if kept.covers(hosts):
                return kept
        made = cls.create(hosts)
        directory.mkdir(parents=True, exist_ok=True)
        for path, data in zip(paths, (made.ca, made.certificate, made.key), strict=True):
            # Private to its owner from the start, the key included.
            with os.fdopen(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "wb") as file:
                file.write(data)
        return made

    def covers(self, hosts: tuple[str, ...]) -> bool:
        try:
            names = (
                x509.load_pem_x509_certificate(self.certificate)
                .extensions.get_extension_for_class(x509.SubjectAlternativeName)
                .value
            )
        except (ValueError, x509.ExtensionNotFound):
            return False
        present = {str(ip) for ip in names.get_values_for_type(x509.IPAddress)}
        present |= set(names.get_values_for_type(x509.DNSName))
        return all(str(_normalised(host)) in present for host in hosts)

    def server_context(self) -> ssl.SSLContext:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        # The standard library loads a certificate chain only from files.
        with tempfile.TemporaryDirectory() as directory:
            chain, key = Path(directory) / "chain.pem", Path(directory) / "key.pem"
            chain.write_bytes(self.certificate + self.ca)
            key.write_bytes(self.key)
            context.load_cert_chain(chain, key)
        return context


def _normalised(host: str) -> object:
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        return host


def _builder(subject: x509.Name, issuer: x509.Name, public_key: ec.EllipticCurvePublicKey) -> x509.CertificateBuilder:
    return (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer)
        .public_key(public_key)
        .serial_number(x509.random_serial_number())
        .not_valid_before(NOT_BEFORE)
        .not_valid_after(NOT_AFTER)
    )


def _key_usage(*, cert_sign: bool) -> x509.KeyUsage:
    return x509.KeyUsage(
        digital_signature=True,
        content_commitment=False,
        key_encipherment=False,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=cert_sign,
        crl_sign=cert_sign,
        encipher_only=False,
        decipher_only=False,
    )
