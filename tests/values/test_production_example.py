"""The production example inventory serves every tool: pre-flight, the island roles and `wire-bundle values`."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def test_values_from_the_production_example(tmp_path):
    inv = tmp_path / "production"
    shutil.copytree(REPO / "inventory" / "examples" / "production", inv)
    certs = inv / "certs"
    certs.mkdir()
    # A real self-signed wildcard certificate stands in for the operator's.
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "30",
                    "-subj", "/CN=*.wire.example.com", "-addext", "subjectAltName=DNS:*.wire.example.com",
                    "-keyout", str(certs / "wildcard.key"), "-out", str(certs / "wildcard.crt")],
                   check=True, capture_output=True)
    password = tmp_path / "vault-pass"
    password.write_text("example-only\n")
    out = tmp_path / "values"
    r = subprocess.run([sys.executable, "-m", "bundler.cli", "values", "-i", str(inv), "-o", str(out),
                        "--vault-password-file", str(password)], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert (out / "wire-server.yaml").exists() and (out / "secrets.vault.yaml").exists()
    assert "10.0.0.31" in (out / "cassandra-external.yaml").read_text()
