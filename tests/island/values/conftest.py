"""Fixtures for the values generator: a lab-sized inventory, a wildcard certificate, a vault password."""

from __future__ import annotations

import datetime
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from tests.support.cli import run_cli

ROOT = Path(__file__).resolve().parents[3]
CHARTS = Path(__file__).resolve().parent / "charts"
DOMAIN = "wire.example.org"
PASSWORD = "correct horse battery staple"

# Documentation addresses (RFC 5737): nothing is ever sent to them, they only fill values files.
HOSTS = {
    "kubenode1": {"ansible_host": "192.0.2.11", "groups": ["kube_control_plane", "kube_node"]},
    "kubenode2": {"ansible_host": "192.0.2.12", "groups": ["kube_control_plane", "kube_node"]},
    "kubenode3": {"ansible_host": "192.0.2.13", "groups": ["kube_control_plane", "kube_node"]},
    "sft1": {"ansible_host": "192.0.2.21", "wire_external_ip": "198.51.100.21", "groups": ["kube_node", "sft"]},
    "sft2": {"ansible_host": "192.0.2.22", "wire_external_ip": "198.51.100.22", "groups": ["kube_node", "sft"]},
    "cassandra1": {"ansible_host": "192.0.2.31", "groups": ["cassandra"]},
    "cassandra2": {"ansible_host": "192.0.2.32", "groups": ["cassandra"]},
    "cassandra3": {"ansible_host": "192.0.2.33", "groups": ["cassandra"]},
    "es1": {"ansible_host": "192.0.2.41", "groups": ["elasticsearch"]},
    "es2": {"ansible_host": "192.0.2.42", "groups": ["elasticsearch"]},
    "es3": {"ansible_host": "192.0.2.43", "groups": ["elasticsearch"]},
    "minio1": {"ansible_host": "192.0.2.51", "groups": ["minio"]},
    "minio2": {"ansible_host": "192.0.2.52", "groups": ["minio"]},
    "minio3": {"ansible_host": "192.0.2.53", "groups": ["minio"]},
    "rabbitmq1": {"ansible_host": "192.0.2.81", "groups": ["rabbitmq"]},
    "rabbitmq2": {"ansible_host": "192.0.2.82", "groups": ["rabbitmq"]},
    "rabbitmq3": {"ansible_host": "192.0.2.83", "groups": ["rabbitmq"]},
    "postgresql1": {"ansible_host": "192.0.2.91", "groups": ["postgresql", "postgresql_rw"]},
    "postgresql2": {"ansible_host": "192.0.2.92", "groups": ["postgresql", "postgresql_ro"]},
    "postgresql3": {"ansible_host": "192.0.2.93", "groups": ["postgresql", "postgresql_ro"]},
    "restund1": {"ansible_host": "192.0.2.61", "wire_external_ip": "198.51.100.61", "groups": ["restund"]},
    "restund2": {"ansible_host": "192.0.2.62", "wire_external_ip": "198.51.100.62", "groups": ["restund"]},
    "asset1": {"ansible_host": "192.0.2.71", "groups": ["assethost"]},
}


def make_cert(directory: Path, names: list[str], stem: str = "wildcard") -> tuple[Path, Path]:
    key = ec.generate_private_key(ec.SECP256R1())
    now = datetime.datetime.now(datetime.UTC)
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, names[0])])
    cert = (x509.CertificateBuilder().subject_name(subject).issuer_name(subject).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now)
            .not_valid_after(now + datetime.timedelta(days=30))
            .add_extension(x509.SubjectAlternativeName([x509.DNSName(n) for n in names]), critical=False)
            .sign(key, hashes.SHA256()))
    crt, pem = directory / f"{stem}.crt", directory / f"{stem}.key"
    crt.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    pem.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                      serialization.NoEncryption()))
    return crt, pem


def inventory_yaml(settings: dict[str, Any], hosts: dict[str, dict] | None = None) -> dict[str, Any]:
    hosts = HOSTS if hosts is None else hosts
    groups: dict[str, dict] = {}
    for name, h in hosts.items():
        hv = {k: v for k, v in h.items() if k != "groups"}
        for g in h["groups"]:
            groups.setdefault(g, {"hosts": {}})["hosts"][name] = hv
    return {"all": {"vars": settings, "children": groups}}


class Site:
    """A directory with an inventory, the wildcard certificate and a vault password file."""

    def __init__(self, root: Path):
        self.root = root
        self.cert, self.key = make_cert(root, [f"*.{DOMAIN}", DOMAIN])
        self.password_file = root / "vault-pass"
        self.password_file.write_text(PASSWORD + "\n")
        self.out = root / "values"
        self.inventory = root / "inventory.yml"
        self.settings: dict[str, Any] = {
            "wire_domain": DOMAIN,
            "wire_tls_cert_file": "wildcard.crt",  # relative: resolved against the inventory's directory
            "wire_tls_key_file": "wildcard.key",
            "wire_smtp": {"host": "smtp.wire.example.org", "username": "wire", "sender": "noreply@wire.example.org"},
            "wire_smtp_password": "smtp-sekrit-pw",
        }
        self.hosts = {k: dict(v) for k, v in HOSTS.items()}
        self.write()

    def write(self, **changes: Any) -> Path:
        self.settings.update(changes)
        self.inventory.write_text(yaml.safe_dump(inventory_yaml(self.settings, self.hosts), sort_keys=False))
        return self.inventory

    def run(self, *extra: str, check: bool = True) -> subprocess.CompletedProcess:
        proc = run_cli("values", "-i", self.inventory, "-o", self.out, "--vault-password-file", self.password_file,
                       *extra, cwd=ROOT, timeout=120, env={"PYTHONPATH": str(ROOT)})
        if check:
            assert proc.returncode == 0, proc.stderr
        return proc

    def generate(self, settings_file: Path | None = None, rotate: set[str] | None = None, **changes: Any):
        """Write the inventory with these setting changes and run the generator in-process."""
        from bundler.island.values.run import run

        self.write(**changes)
        return run(self.inventory, self.out, PASSWORD.encode(), settings_file, rotate)

    def values(self, release: str) -> dict[str, Any]:
        return yaml.safe_load((self.out / f"{release}.yaml").read_text())

    def secrets(self) -> dict[str, Any]:
        from bundler.island.values.vault import decrypt

        return decrypt(self.out / "secrets.vault.yaml", PASSWORD.encode())


@pytest.fixture
def site(tmp_path: Path) -> Site:
    return Site(tmp_path)
