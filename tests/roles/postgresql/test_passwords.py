"""playbooks/postgresql.yml's first play on the admin host (no lab): Wire's user gets the password `wire-bundle
values` gave wire-server's charts (its vault's `ansible` section), repmgr's is generated once, and both are kept
ansible-vault encrypted in group_vars/postgresql/vault.yml, never printed."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[3]
BIN = Path(sys.executable).parent


def _run(*args: str, cwd: Path, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([str(BIN / args[0]), *args[1:]], cwd=cwd, capture_output=True, text=True, timeout=300,
                          env={**os.environ, "ANSIBLE_CONFIG": str(REPO / "ansible.cfg"), **(env or {})})


def _admin_play(tmp: Path) -> subprocess.CompletedProcess:
    return _run("ansible-playbook", "-i", str(tmp / "inv" / "hosts.yml"), str(REPO / "playbooks" / "postgresql.yml"),
                "--limit", "localhost", cwd=REPO, env={"ANSIBLE_VAULT_PASSWORD_FILE": str(tmp / "vp")})


def test_wire_password_from_values_and_repmgr_generated_once(tmp_path):
    (tmp_path / "vp").write_text("test-only\n")
    inv = tmp_path / "inv"
    (inv / "values").mkdir(parents=True)
    (inv / "hosts.yml").write_text(yaml.safe_dump({"all": {"children": {
        "postgresql": {"hosts": {"pg1": {"ansible_host": "192.0.2.1"}}},
        "admin": {"hosts": {"localhost": {"ansible_connection": "local",
                                          "ansible_python_interpreter": sys.executable}}}}}}))
    secrets = inv / "values" / "secrets.vault.yaml"
    secrets.write_text(yaml.safe_dump({"ansible": {"postgresql_wire_password": "given-to-wire-server-1"}}))
    assert _run("ansible-vault", "encrypt", "--vault-password-file", str(tmp_path / "vp"), str(secrets),
                cwd=tmp_path).returncode == 0

    first = _admin_play(tmp_path)
    assert first.returncode == 0, first.stdout + first.stderr
    vault = inv / "group_vars" / "postgresql" / "vault.yml"
    text = vault.read_text()
    assert "given-to-wire-server-1" not in text and "given-to-wire-server-1" not in first.stdout
    second = _admin_play(tmp_path)
    assert second.returncode == 0, second.stdout + second.stderr
    assert vault.read_text() == text  # kept, not made anew
    decrypted = _run("ansible", "localhost", "-i", str(inv / "hosts.yml"), "-e", f"@{vault}", "--vault-password-file",
                     str(tmp_path / "vp"), "-m", "debug", "-a",
                     'msg="{{ postgresql_wire_password }}/{{ postgresql_repmgr_password | length }}"', cwd=REPO)
    assert '"msg": "given-to-wire-server-1/32"' in decrypted.stdout, decrypted.stdout + decrypted.stderr
