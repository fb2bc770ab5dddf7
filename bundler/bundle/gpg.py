"""The bundle's archive signing key and the signatures on Release files, with gpg in a throw-away GNUPGHOME.

The key made for the bundle is cached (one per cache directory), valid for years: an island keeps using the
repository long after the build, and an expired archive key is exactly how field installs have broken before.
Signatures are made at a fixed time (the lock's date, or the key's creation if later) with an RSA key, whose
PKCS#1 v1.5 signatures have no randomness: two builds from one lock sign byte for byte identically.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from bundler.errors import BundleError

KEY_UID = "wire-bundle archive signing key <archive@wire-bundle.invalid>"
KEY_ALGO = "rsa4096"  # RSA: accepted by every gpgv an island target may have, and deterministic signatures
KEY_VALIDITY = "5y"
RENEW_BEFORE = 365 * 86400  # a cached key closer than a year to expiry is replaced by a new one
WARN_BEFORE = 365 * 86400


@dataclass(frozen=True)
class SigningKey:
    fingerprint: str
    created: int  # epoch seconds
    expires: int | None
    secret: bytes  # armored secret key, no passphrase
    public: bytes  # binary public key (an apt `signed-by` keyring)
    public_armored: bytes
    origin: str  # "generated" or the file it was read from


@contextlib.contextmanager
def gnupg_home() -> Iterator[Path]:
    home = Path(tempfile.mkdtemp(prefix="wb-gnupg-"))  # short path: the agent's socket lives inside
    os.chmod(home, 0o700)
    try:
        yield home
    finally:
        subprocess.run(["gpgconf", "--kill", "all"], env=_env(home), capture_output=True)
        shutil.rmtree(home, ignore_errors=True)


def _env(home: Path) -> dict[str, str]:
    return {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "GNUPGHOME": str(home), "LC_ALL": "C.UTF-8"}


def gpg(home: Path, *args: str, stdin: bytes | None = None, what: str = "gpg") -> bytes:
    if shutil.which("gpg") is None:
        raise BundleError("gpg not found: install gnupg (apt-get install gnupg)")
    r = subprocess.run(["gpg", "--batch", "--no-tty", "--pinentry-mode", "loopback", "--passphrase", "", *args],
                       input=stdin, env=_env(home), capture_output=True)
    if r.returncode != 0:
        err = [ln for ln in r.stderr.decode(errors="replace").splitlines() if "faked system time" not in ln]
        raise BundleError(f"{what}: {(err or ['gpg failed'])[-1].removeprefix('gpg: ')}")
    return r.stdout


def _describe(home: Path, origin: str, secret: bytes) -> SigningKey:
    listing = gpg(home, "--with-colons", "--fixed-list-mode", "--list-secret-keys", what=origin).decode()
    primaries = [ln.split(":") for ln in listing.splitlines() if ln.startswith("sec:")]
    if len(primaries) != 1:
        raise BundleError(f"{origin}: expected exactly one secret key, found {len(primaries)}")
    sec = primaries[0]
    fpr = next(ln.split(":")[9] for ln in listing.splitlines() if ln.startswith("fpr:"))
    if sec[1] in ("e", "r", "d"):
        raise BundleError(f"{origin}: key {fpr} is {'expired' if sec[1] == 'e' else 'revoked or disabled'}")
    if "S" not in sec[11]:
        raise BundleError(f"{origin}: key {fpr} cannot sign (capabilities {sec[11] or 'none'})")
    public = gpg(home, "--export", "--export-options", "export-minimal", fpr, what=origin)
    armored = gpg(home, "--armor", "--export", "--export-options", "export-minimal", fpr, what=origin)
    return SigningKey(fingerprint=fpr, created=int(sec[5]), expires=int(sec[6]) if sec[6] else None,
                      secret=secret, public=public, public_armored=armored, origin=origin)


def read_key(path: Path, home: Path | None = None) -> SigningKey:
    """A user-supplied armored secret key (debs.signing_key): one key, able to sign, without a passphrase.

    With `home` (an empty gnupg home the caller removes), the key stays imported there for signing."""
    what = f"debs.signing_key {path}"
    if not path.is_file():
        raise BundleError(f"{what}: file not found")
    secret = path.read_bytes()
    with contextlib.nullcontext(home) if home is not None else gnupg_home() as into:
        gpg(into, "--import", stdin=secret, what=what)
        key = _describe(into, what, secret)
        try:
            gpg(into, "--local-user", key.fingerprint, "--detach-sign", stdin=b"probe", what=what)
        except BundleError as exc:
            raise BundleError(f"{what}: cannot sign without a passphrase ({exc})") from None
    return key


def cached_key(cache_dir: Path, *, log=print) -> SigningKey:
    """The key made for bundles built with this cache; made on first use and renewed near its expiry.

    Made under an exclusive lock on the key's directory: two builds starting on one new cache would otherwise
    each make a key and the second would replace the first, whose bundles then have a signer no later bundle
    shares.
    """
    path = cached_key_path(cache_dir)
    key_dir = path.parent
    key = _usable_cached_key(path, log)
    if key is not None:
        return key
    key_dir.mkdir(parents=True, exist_ok=True)
    os.chmod(key_dir, 0o700)
    with open(key_dir / ".lock", "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        key = _usable_cached_key(path, lambda _: None)  # another build may have made it while this one waited
        if key is not None:
            return key
        with gnupg_home() as home:
            gpg(home, "--quick-gen-key", KEY_UID, KEY_ALGO, "sign", KEY_VALIDITY,
                what="debs: generating signing key")
            secret = gpg(home, "--armor", "--export-secret-keys", what="debs: exporting signing key")
            key = _describe(home, "generated", secret)
        tmp = path.with_name("secret.asc.tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as f:
            f.write(secret)
        os.replace(tmp, path)
    log(f"debs: made signing key {key.fingerprint} ({KEY_ALGO}, valid {KEY_VALIDITY}) in {path}")
    return key


def cached_key_path(cache_dir: Path) -> Path:
    return cache_dir / "debs" / "signing-key" / "secret.asc"


def _usable_cached_key(path: Path, log, home: Path | None = None) -> SigningKey | None:
    """The cached key, or None when there is none or it expires within RENEW_BEFORE. With `home` (an empty gnupg
    home the caller removes), the key is left imported there."""
    if not path.is_file():
        return None
    secret = path.read_bytes()
    with contextlib.nullcontext(home) if home is not None else gnupg_home() as into:
        gpg(into, "--import", stdin=secret, what=str(path))
        key = _describe(into, str(path), secret)
    if key.expires is None or key.expires - time.time() > RENEW_BEFORE:
        return key
    log(f"debs: cached signing key {key.fingerprint} expires within a year; making a new one")
    return None


def read_cached_key(cache_dir: Path, home: Path) -> SigningKey | None:
    """The cache's key imported into `home` when it is there and usable; None when one is to be made
    (cached_key, which makes it)."""
    return _usable_cached_key(cached_key_path(cache_dir), lambda _: None, home)


def signing_time(key: SigningKey, lock_epoch: int) -> int:
    return max(lock_epoch, key.created)


def sign_release(key: SigningKey, release: Path, inrelease: Path, release_gpg: Path, *, at: int) -> None:
    """InRelease (clear-signed) and Release.gpg (detached), both made at epoch `at`."""
    common = ["--faked-system-time", f"{at}!", "--digest-algo", "SHA512", "--local-user", key.fingerprint, "--yes"]
    with gnupg_home() as home:
        gpg(home, "--import", stdin=key.secret, what="debs: importing signing key")
        gpg(home, *common, "--clearsign", "--output", str(inrelease), str(release), what="debs: signing InRelease")
        gpg(home, *common, "--armor", "--detach-sign", "--output", str(release_gpg), str(release),
            what="debs: signing Release.gpg")
