"""Generated secrets: made once, kept on re-runs, rotated on request, stored only in the vault file."""

from __future__ import annotations

import base64
import os
import re
import subprocess

import pytest
import yaml
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from bundler.island.values import secrets, vault
from bundler.island.values.errors import ValuesError
from tests.island.values.conftest import PASSWORD, ROOT

VENV_BIN = ROOT / ".venv" / "bin"


def test_zauth_keypair_signs_and_verifies():
    private, public = secrets.zauth_keypair()
    sk, pk = base64.urlsafe_b64decode(private), base64.urlsafe_b64decode(public)
    assert len(sk) == 64 and len(pk) == 32 and sk[32:] == pk  # libsodium's layout: seed then public key
    signature = Ed25519PrivateKey.from_private_bytes(sk[:32]).sign(b"zauth token body")
    Ed25519PublicKey.from_public_bytes(pk).verify(signature, b"zauth token body")  # raises if wrong


def test_damaged_zauth_pair_is_refused():
    private, _ = secrets.zauth_keypair()
    _, other_public = secrets.zauth_keypair()
    with pytest.raises(ValuesError, match="zauth key pair is damaged"):
        secrets.check_zauth(private, other_public)


def test_nginz_basic_auth_entry_verifies_its_password():
    import hashlib

    gen = secrets.fresh()
    user, _, entry = gen["nginz_basic_auth"].partition(":")
    assert user == "wire-admin" and entry.startswith("{SSHA}")
    raw = base64.b64decode(entry.removeprefix("{SSHA}"))
    digest, salt = raw[:20], raw[20:]
    assert hashlib.sha1(gen["nginz_basic_auth_password"].encode() + salt).digest() == digest  # noqa: S324
    assert hashlib.sha1(b"not the password" + salt).digest() != digest  # noqa: S324


def test_vault_from_an_older_version_gets_the_new_groups(site):
    """A vault written before RabbitMQ/PostgreSQL/nginz secrets existed keeps its secrets and gains the new ones."""
    site.generate()
    old = site.secrets()
    for k in ("rabbitmq_password", "postgresql_password", "nginz_basic_auth_password", "nginz_basic_auth"):
        del old["generated"][k]
    (site.out / "secrets.vault.yaml").write_bytes(vault.encrypt(old, PASSWORD.encode()))
    result = site.generate()
    assert result.generated_now == ["rabbitmq", "postgresql", "nginz"]
    now = site.secrets()["generated"]
    assert now["zauth_private_key"] == old["generated"]["zauth_private_key"] and now["rabbitmq_password"]


def test_secrets_are_kept_on_rerun(site):
    site.generate()
    first = site.secrets()["generated"]
    blob = (site.out / "secrets.vault.yaml").read_bytes()
    result = site.generate()
    assert site.secrets()["generated"] == first
    assert result.generated_now == []
    # Same content: the vault file is not even rewritten (its ciphertext would change with a new salt).
    assert (site.out / "secrets.vault.yaml").read_bytes() == blob
    assert "secrets.vault.yaml" in result.unchanged
    assert result.written == []


def test_changed_setting_keeps_generated_secrets(site):
    site.generate()
    first = site.secrets()["generated"]
    site.generate(wire_smtp_password="a-new-password")
    sec = site.secrets()
    assert sec["generated"] == first
    assert sec["releases"]["wire-server"]["brig"]["secrets"]["smtpPassword"] == "a-new-password"


@pytest.mark.parametrize("group,keys", list(secrets.ROTATABLE.items()))
def test_rotate_one_group(site, group, keys):
    site.generate()
    first = site.secrets()["generated"]
    result = site.generate(rotate={group})
    now = site.secrets()["generated"]
    assert result.generated_now == [group]
    for k in first:
        assert (now[k] != first[k]) == (k in keys), k


def test_rotate_all(site):
    site.generate()
    first = site.secrets()["generated"]
    site.generate(rotate={"all"})
    now = site.secrets()["generated"]
    assert all(now[k] != first[k] for k in first)


def test_rotate_unknown_name(site):
    with pytest.raises(ValuesError, match="--rotate: 'tls' is not one of"):
        site.generate(rotate={"tls"})


def test_vault_decrypts_with_password_and_not_without(site, tmp_path):
    site.generate()
    path = site.out / "secrets.vault.yaml"
    assert path.read_bytes().startswith(b"$ANSIBLE_VAULT;1.1;AES256")
    assert oct(path.stat().st_mode & 0o777) == "0o600"
    gen = site.secrets()["generated"]
    raw = path.read_text()
    for value in gen.values():
        assert value not in raw
    with pytest.raises(ValuesError, match="cannot decrypt with this vault password"):
        vault.decrypt(path, b"wrong password")
    # Ansible's own CLI reads it with the password file, and refuses without the right one.
    env = {**os.environ, "ANSIBLE_VAULT_PASSWORD_FILE": ""}
    ok = subprocess.run([str(VENV_BIN / "ansible-vault"), "view", str(path), "--vault-password-file",
                         str(site.password_file)], capture_output=True, text=True, env=env, timeout=60)
    assert ok.returncode == 0, ok.stderr
    assert yaml.safe_load(ok.stdout)["generated"] == gen
    wrong = tmp_path / "wrong-pass"
    wrong.write_text("not the password\n")
    bad = subprocess.run([str(VENV_BIN / "ansible-vault"), "view", str(path), "--vault-password-file", str(wrong)],
                         capture_output=True, text=True, env=env, timeout=60)
    assert bad.returncode != 0
    assert gen["turn_secret"] not in bad.stdout + bad.stderr


def test_rerun_with_another_password_is_refused(site):
    site.generate()
    from bundler.island.values.run import run

    with pytest.raises(ValuesError, match="cannot decrypt with this vault password"):
        run(site.inventory, site.out, b"another password")


def test_plaintext_secrets_file_is_not_overwritten(site):
    site.out.mkdir()
    (site.out / "secrets.vault.yaml").write_text("generated: {turn_secret: plain}\n")
    with pytest.raises(ValuesError, match="not ansible-vault encrypted; refusing"):
        site.generate()
    assert (site.out / "secrets.vault.yaml").read_text() == "generated: {turn_secret: plain}\n"


def test_vault_password_sources(tmp_path, monkeypatch):
    f = tmp_path / "p"
    f.write_text("  s3cret \n")
    assert vault.read_password(f) == b"s3cret"
    monkeypatch.setenv(vault.PASSWORD_ENV, str(f))
    assert vault.read_password(None) == b"s3cret"
    monkeypatch.delenv(vault.PASSWORD_ENV)
    with pytest.raises(ValuesError, match="vault password: none given"):
        vault.read_password(None)
    (tmp_path / "empty").write_text("\n")
    with pytest.raises(ValuesError, match="vault password file .*empty: empty"):
        vault.read_password(tmp_path / "empty")
    with pytest.raises(ValuesError, match="No such file"):
        vault.read_password(tmp_path / "missing")


def test_vault_round_trip():
    blob = vault.encrypt({"a": {"b": "c"}}, PASSWORD.encode())
    from ansible.parsing.vault import VaultLib, VaultSecret

    plain = VaultLib([("default", VaultSecret(PASSWORD.encode()))]).decrypt(blob)
    assert yaml.safe_load(plain) == {"a": {"b": "c"}}


def test_rabbitmq_cookie_and_password_for_the_role(site):
    site.generate()
    sec = site.secrets()
    cookie, password = sec["generated"]["rabbitmq_erlang_cookie"], sec["generated"]["rabbitmq_password"]
    # What roles/rabbitmq reads (its `ansible` section) and accepts (tasks/main.yml's input check).
    assert sec["ansible"]["rabbitmq_erlang_cookie"] == cookie
    assert sec["ansible"]["rabbitmq_password"] == password
    assert re.fullmatch(r"[A-Za-z0-9]{20,255}", cookie)
    assert len(password) >= 16 and password.isalnum()
