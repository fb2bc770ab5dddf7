"""The production example inventory serves every tool: pre-flight, the island roles and `wire-bundle values`;
the files it references (the wildcard certificate) sit beside it, so Ansible parses it without a warning."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

from tests.support.cli import run_cli

REPO = Path(__file__).resolve().parents[3]


def _example(tmp_path: Path) -> Path:
    inv = tmp_path / "inventory" / "production"
    shutil.copytree(REPO / "inventory" / "examples" / "production", inv)
    certs = tmp_path / "inventory" / "certs"  # where the example's ../certs/ points: beside the inventory
    certs.mkdir()
    # A real self-signed wildcard certificate stands in for the operator's.
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "30",
                    "-subj", "/CN=*.wire.example.com", "-addext", "subjectAltName=DNS:*.wire.example.com",
                    "-keyout", str(certs / "wildcard.key"), "-out", str(certs / "wildcard.crt")],
                   check=True, capture_output=True)
    return inv


def test_values_from_the_production_example(tmp_path):
    inv = _example(tmp_path)
    password = tmp_path / "vault-pass"
    password.write_text("example-only\n")
    out = tmp_path / "values"
    r = run_cli("values", "-i", inv, "-o", out, "--vault-password-file", password)
    assert r.returncode == 0, r.stderr
    assert "WARNING" not in r.stderr, r.stderr
    assert (out / "wire-server.yaml").exists() and (out / "secrets.vault.yaml").exists()
    assert "10.0.0.31" in (out / "cassandra-external.yaml").read_text()
    assert "10.0.0.71" in (out / "rabbitmq-external.yaml").read_text()
    assert "10.0.0.81" in (out / "postgresql-external.yaml").read_text()


def test_ansible_parses_the_example_without_a_warning(tmp_path):
    """With the certificate in the inventory directory Ansible warns for every file (the old layout, shown to
    fail); beside it, not once."""
    inv = _example(tmp_path)
    env = {**os.environ, "ANSIBLE_INVENTORY_UNPARSED_WARNING": "true", "ANSIBLE_NOCOLOR": "1"}
    cmd = [str(REPO / ".venv" / "bin" / "ansible-inventory"), "-i", str(inv), "--list"]
    clean = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=120)
    assert clean.returncode == 0, clean.stderr
    assert "WARNING" not in clean.stderr and "Unable to parse" not in clean.stderr, clean.stderr
    shutil.copytree(tmp_path / "inventory" / "certs", inv / "certs")
    old = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=120)
    assert "Unable to parse" in old.stderr and "wildcard.crt" in old.stderr
