"""The wildcard certificate the ingress serves: it must cover every public name, and the key must be its own."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import serialization

from bundler.island.values.errors import ValuesError


@dataclass(frozen=True)
class Certificate:
    cert_pem: str
    key_pem: str
    names: list[str]
    not_after: str


def _covers(pattern: str, host: str) -> bool:
    if pattern == host:
        return True
    if pattern.startswith("*."):
        head, _, rest = host.partition(".")
        return bool(head) and rest == pattern[2:]
    return False


def load(cert_file: Path, key_file: Path, hosts: list[str]) -> Certificate:
    cert_pem = cert_file.read_text()
    key_pem = key_file.read_text()
    try:
        cert = x509.load_pem_x509_certificate(cert_pem.encode())
    except ValueError:
        raise ValuesError(f"wire_tls_cert_file: {cert_file} is not a PEM certificate") from None
    try:
        key = serialization.load_pem_private_key(key_pem.encode(), password=None)
    except (ValueError, TypeError):
        raise ValuesError(f"wire_tls_key_file: {key_file} is not an unencrypted PEM private key") from None
    pub = serialization.PublicFormat.SubjectPublicKeyInfo
    if key.public_key().public_bytes(serialization.Encoding.DER, pub) != \
            cert.public_key().public_bytes(serialization.Encoding.DER, pub):
        raise ValuesError(f"wire_tls_key_file: {key_file} is not the key of the certificate in wire_tls_cert_file")
    try:
        names = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value \
            .get_values_for_type(x509.DNSName)
    except x509.ExtensionNotFound:
        names = []
    names = [n.lower() for n in names]
    for host in hosts:
        if not any(_covers(n, host) for n in names):
            raise ValuesError(f"wire_tls_cert_file: certificate names {', '.join(names) or '(none)'} do not cover "
                              f"{host}; a wildcard certificate for *.<wire_domain> is expected")
    return Certificate(cert_pem, key_pem, names, cert.not_valid_after_utc.isoformat())


def load_ca(key: str, path: Path) -> str:
    """A file of one or more PEM certificates (CA bundle), returned as read."""
    text = path.read_text()
    try:
        certs = x509.load_pem_x509_certificates(text.encode())
    except ValueError:
        raise ValuesError(f"{key}: {path} holds no PEM certificate") from None
    if not certs:
        raise ValuesError(f"{key}: {path} holds no PEM certificate")
    return text
