"""Secrets the generator makes itself: the zauth signing key pair, MinIO's keys, the TURN (zrest) secret,
RabbitMQ's Erlang cookie, the RabbitMQ and PostgreSQL passwords of wire-server's accounts and nginz's basic-auth
entry.

They are made once and kept: a re-run reads them back from the existing vault file and reuses them, so brig's
tokens, MinIO's credentials, restund's secret and the database passwords stay valid. `rotate` names the ones to
make anew. A vault file from an older version lacking a group gets that group made (and reported) on the next run.
"""

from __future__ import annotations

import base64
import hashlib
import secrets as pysecrets
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from bundler.island.values.errors import ValuesError

# What a rotation names -> the keys of the `generated` section it renews.
ROTATABLE = {
    "zauth": ("zauth_private_key", "zauth_public_key"),
    "minio": ("minio_access_key", "minio_secret_key"),
    "turn": ("turn_secret",),
    "rabbitmq": ("rabbitmq_erlang_cookie", "rabbitmq_password"),
    "postgresql": ("postgresql_password",),
    "nginz": ("nginz_basic_auth_password", "nginz_basic_auth"),
}
NGINZ_BASIC_AUTH_USER = "wire-admin"


def zauth_keypair() -> tuple[str, str]:
    """(private, public) as zauth reads them: libsodium's 64-byte sign secret key (seed then public key) and the
    32-byte public key, each URL-safe base64."""
    key = Ed25519PrivateKey.generate()
    seed = key.private_bytes_raw()
    public = key.public_key().public_bytes_raw()
    return (base64.urlsafe_b64encode(seed + public).decode(), base64.urlsafe_b64encode(public).decode())


def check_zauth(private_b64: str, public_b64: str) -> None:
    """The pair belongs together: the secret key's seed derives its public half, which is the public key."""
    try:
        sk = base64.urlsafe_b64decode(private_b64)
        pk = base64.urlsafe_b64decode(public_b64)
    except (ValueError, TypeError):
        raise ValuesError("secrets file: zauth keys are not base64; rotate them with --rotate zauth") from None
    if len(sk) != 64 or len(pk) != 32 or sk[32:] != pk:
        raise ValuesError("secrets file: zauth key pair is damaged (wrong lengths or halves that do not match); "
                          "rotate it with --rotate zauth")
    derived = Ed25519PrivateKey.from_private_bytes(sk[:32]).public_key().public_bytes_raw()
    if derived != pk:
        raise ValuesError("secrets file: zauth private key does not derive its public key; rotate with --rotate zauth")
    Ed25519PublicKey.from_public_bytes(pk)


def htpasswd_ssha(user: str, password: str) -> str:
    """One line of an nginx auth_basic_user_file: RFC 2307 {SSHA} (salted SHA-1), which nginx reads natively."""
    salt = pysecrets.token_bytes(8)
    digest = hashlib.sha1(password.encode() + salt).digest()  # noqa: S324 - the format nginx reads
    return f"{user}:{{SSHA}}{base64.b64encode(digest + salt).decode()}"


def _password() -> str:
    # Letters and digits only: these land in URLs (amqp://, postgresql://), config files and shell variables.
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
    return "".join(pysecrets.choice(alphabet) for _ in range(32))


def fresh() -> dict[str, str]:
    private, public = zauth_keypair()
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
    basic_auth_password = _password()
    return {
        "zauth_private_key": private,
        "zauth_public_key": public,
        # MinIO: access key 3..128 chars, secret 8..40; these stay clear of both limits and of shell quoting.
        "minio_access_key": "".join(pysecrets.choice(alphabet) for _ in range(20)),
        "minio_secret_key": pysecrets.token_urlsafe(30)[:40],
        "turn_secret": pysecrets.token_urlsafe(32),
        # The cookie: letters and digits only (Erlang reads it as an atom).
        "rabbitmq_erlang_cookie": "".join(pysecrets.choice(alphabet) for _ in range(40)),
        "rabbitmq_password": _password(),
        "postgresql_password": _password(),
        "nginz_basic_auth_password": basic_auth_password,
        "nginz_basic_auth": htpasswd_ssha(NGINZ_BASIC_AUTH_USER, basic_auth_password),
    }


def settle(existing: dict[str, Any] | None, rotate: set[str]) -> tuple[dict[str, str], list[str]]:
    """The generated secrets to use now, and the names of those made anew on this run."""
    unknown = rotate - set(ROTATABLE) - {"all"}
    if unknown:
        raise ValuesError(f"--rotate: {sorted(unknown)[0]!r} is not one of {', '.join([*ROTATABLE, 'all'])}")
    if "all" in rotate:
        rotate = set(ROTATABLE)
    new = fresh()
    kept = dict(existing or {})
    made = []
    for group, keys in ROTATABLE.items():
        if group in rotate or any(not kept.get(k) for k in keys):
            for k in keys:
                kept[k] = new[k]
            made.append(group)
    check_zauth(kept["zauth_private_key"], kept["zauth_public_key"])
    return {k: kept[k] for k in new}, made
