"""The secrets file, encrypted with ansible-vault (Ansible's own VaultLib: `ansible-vault view` reads it)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import yaml

from bundler.island.values.errors import ValuesError

PASSWORD_ENV = "ANSIBLE_VAULT_PASSWORD_FILE"


def read_password(path: Path | None) -> bytes:
    """The vault password from the file given, else from the file $ANSIBLE_VAULT_PASSWORD_FILE names."""
    if path is None:
        env = os.environ.get(PASSWORD_ENV)
        if not env:
            raise ValuesError(f"vault password: none given; pass --vault-password-file FILE or set {PASSWORD_ENV}")
        path = Path(env)
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise ValuesError(f"vault password file {path}: {exc.strerror}") from None
    password = raw.strip()
    if not password:
        raise ValuesError(f"vault password file {path}: empty")
    return password


def _lib(password: bytes):
    from ansible.parsing.vault import VaultLib, VaultSecret

    return VaultLib([("default", VaultSecret(password))])


def encrypt(content: dict[str, Any], password: bytes) -> bytes:
    text = yaml.safe_dump(content, sort_keys=True, default_flow_style=False)
    return _lib(password).encrypt(text.encode())


def decrypt(path: Path, password: bytes) -> dict[str, Any]:
    from ansible.errors import AnsibleError
    from ansible.parsing.vault import is_encrypted

    blob = path.read_bytes()
    if not is_encrypted(blob):
        raise ValuesError(f"secrets file {path}: not ansible-vault encrypted; refusing to read or overwrite it")
    try:
        plain = _lib(password).decrypt(blob)
    except AnsibleError:
        raise ValuesError(f"secrets file {path}: cannot decrypt with this vault password (is it the one used "
                          "when the file was made?)") from None
    loaded = yaml.safe_load(plain)
    if not isinstance(loaded, dict):
        raise ValuesError(f"secrets file {path}: decrypted content is not a mapping")
    return loaded
