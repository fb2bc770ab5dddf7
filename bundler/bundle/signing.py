"""The bundle's signature: a detached OpenPGP signature over checksums.sha256, which names every member.

The public key travels inside the bundle for convenience, but trust cannot: the operator compares the signer's
fingerprint (printed by `build`) with one carried out of band, via `verify --fingerprint` or `--keyring`.
"""

from __future__ import annotations

import contextlib
import re
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

from bundler.bundle.gpg import SigningKey, cached_key, gnupg_home, gpg, read_cached_key, read_key, signing_time
from bundler.bundle.mediatypes import PUBLIC_KEY, SIGNATURE
from bundler.errors import BundleError

__all__ = ["SIGNATURE", "PUBLIC_KEY", "KeyReader", "sign", "signer", "check_trust",
           "normalise_fingerprint"]


class KeyReader:
    """A build's signing key, read by gpg on a thread of its own into a gnupg home that then makes the build's
    signatures (`sign(..., reader.home)`: one gpg run each instead of three: import, sign, stop the agent) and is
    removed on exit. `build` starts it before the pipeline's modules load, so gpg works on the other core while
    Python imports. Only reading starts early: a cache's key that is to be made (none yet, or near its expiry)
    is made on that thread once the build's own checks passed (`make`), beside the lock."""

    def __init__(self, cache_dir: Path, key_file: Path | None):
        self.cache_dir = cache_dir
        self.key_file = key_file
        self._stack = contextlib.ExitStack()
        self._taken: Future[SigningKey] | None = None

    def __enter__(self) -> KeyReader:
        with self._stack as stack:
            self.home = stack.enter_context(gnupg_home())  # in the scratch space: a killed build's copy goes with it
            self._pool = stack.enter_context(ThreadPoolExecutor(max_workers=1, thread_name_prefix="key"))
            self._read = self._pool.submit(self._read_early)
            self._stack = stack.pop_all()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stack.close()  # waits for gpg, then stops its agent and removes the home

    def _read_early(self) -> SigningKey | None:
        if self.key_file:
            return read_key(self.key_file, self.home)
        return read_cached_key(self.cache_dir, self.home)

    def make(self, log=print) -> None:
        """The build's checks passed: the key is taken as read, or (the cache's, none usable) made now."""
        if self._taken is None:
            self._taken = self._pool.submit(self._made, log)  # after the early read: the pool has one thread

    def _made(self, log) -> SigningKey:
        key = self._read.result()
        if key is None:
            key = cached_key(self.cache_dir, log=log)
            gpg(self.home, "--import", stdin=key.secret, what="signing key")
        return key

    def key(self, log=print) -> SigningKey:
        self.make(log)
        assert self._taken is not None
        return self._taken.result()


def sign(key: SigningKey, data: bytes, lock_epoch: int, home: Path | None = None) -> bytes:
    """Deterministic for one key and lock: made at a fixed time with an RSA key (no randomness). `home` holds
    the key already (a KeyReader's); without it the key is imported into a gnupg home of its own."""
    at = signing_time(key, lock_epoch)
    with contextlib.nullcontext(home) if home is not None else gnupg_home() as into:
        if home is None:
            gpg(into, "--import", stdin=key.secret, what="signing key")
        return gpg(into, "--faked-system-time", f"{at}!", "--digest-algo", "SHA512", "--local-user",
                   key.fingerprint, "--armor", "--detach-sign", stdin=data, what="signing checksums.sha256")


def signer(data: bytes, signature: bytes, public_keys: bytes) -> str:
    """The fingerprint of the key in `public_keys` that made a good signature; BundleError otherwise."""
    with gnupg_home() as home:
        sig_path = home / "sig.asc"
        sig_path.write_bytes(signature)
        gpg(home, "--import", stdin=public_keys, what="public key")
        try:
            status = gpg(home, "--status-fd", "1", "--verify", str(sig_path), "-", stdin=data,
                         what="signature").decode()
        except BundleError as exc:
            raise BundleError(f"bad signature on checksums.sha256 ({exc})") from None
    m = re.search(r"^\[GNUPG:\] VALIDSIG ([0-9A-F]{40})", status, re.M)
    if not m:
        raise BundleError("bad signature on checksums.sha256 (no valid signature from the given keys)")
    return m.group(1)


def normalise_fingerprint(fpr: str) -> str:
    clean = fpr.replace(" ", "").upper()
    if not re.fullmatch(r"[0-9A-F]{40}", clean):
        raise BundleError(f"--fingerprint {fpr!r}: expected 40 hex digits")
    return clean


def check_trust(data: bytes, signature: bytes | None, embedded_key: bytes | None, *, fingerprint: str | None,
                keyring: Path | None) -> tuple[str, bool]:
    """(signer fingerprint, trusted): trusted when it matches what the operator carried in, else only valid.

    Raises BundleError when the bundle is unsigned, the signature is bad, or the signer is not the one expected.
    """
    if signature is None:
        raise BundleError(f"{SIGNATURE} missing: the bundle is not signed")
    if keyring is not None:
        try:
            keys = keyring.read_bytes()
        except OSError as exc:
            raise BundleError(f"--keyring {keyring}: {exc.strerror}") from None
        return signer(data, signature, keys), True
    if embedded_key is None:
        raise BundleError(f"{PUBLIC_KEY} missing: cannot check the signature without --keyring")
    fpr = signer(data, signature, embedded_key)
    if fingerprint is not None:
        want = normalise_fingerprint(fingerprint)
        if fpr != want:
            raise BundleError(f"signed by {fpr}, not by the expected {want}")
        return fpr, True
    return fpr, False
