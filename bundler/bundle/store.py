"""The persistent content store: every kind's content (image blobs, charts, Debian packages, files, wheels) kept
once, by its sha256, shared by every build that uses the cache.

Laid out like an OCI image layout's `blobs/` directory: `<cache>/blobs/sha256/<hex>`. A blob at its final path
is complete and verified; anything in flight is a `.partial` file beside it (downloads: bundler.bundle.transport)
or a temporary file under `<cache>/blobs/incoming/`, renamed into place only once its digest matched. Nothing else
writes under `blobs/`: a kind asks the store for a path, or hands it bytes, a stream or a file.

Content a publisher names by another digest (a file pinned by its sha512) is found again through a small
index, `<cache>/index/<name>/<key>`, whose entries hold the sha256 digest of the stored blob.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import BinaryIO

from bundler.errors import IntegrityError

DEFAULT_CACHE = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "wire-bundle"
CHUNK = 1 << 20
_HEX = frozenset("0123456789abcdef")


def _check_hex(algo: str, hexpart: str, length: int) -> None:
    if len(hexpart) != length or not set(hexpart) <= _HEX:
        raise IntegrityError(f"unsupported or malformed digest {algo}:{hexpart!r}")


class BlobStore:
    def __init__(self, root: Path):
        self.root = root
        (root / "blobs" / "sha256").mkdir(parents=True, exist_ok=True)

    # --- finding content --------------------------------------------------------------------------------

    def path(self, digest: str) -> Path:
        """Where the blob `sha256:<hex>` is (or will be, once stored)."""
        algo, _, hexpart = digest.partition(":")
        if algo != "sha256":
            raise IntegrityError(f"unsupported or malformed digest {digest!r}")
        _check_hex(algo, hexpart, 64)
        return self.root / "blobs" / "sha256" / hexpart

    def has(self, digest: str) -> bool:
        return self.path(digest).exists()

    def open(self, digest: str) -> BinaryIO:
        return open(self.path(digest), "rb")  # noqa: SIM115 - the caller closes it

    def index(self, name: str) -> Index:
        return Index(self.root / "index" / name)

    # --- adding content ---------------------------------------------------------------------------------

    def put_bytes(self, digest: str, data: bytes) -> Path:
        """Store small content (manifests) after checking it against its digest."""
        return self.put_stream([data], digest)[1]

    def put_stream(self, chunks: Iterable[bytes], digest: str | None = None,
                   on_bytes: Callable[[int], None] | None = None) -> tuple[str, Path]:
        """Store what `chunks` yields: (its digest, its path). With `digest` the content must hash to it (else
        IntegrityError and nothing is stored); without, the content's own sha256 names it."""
        dest = self.path(digest) if digest else None
        if dest is not None and dest.exists():
            return digest, dest  # type: ignore[return-value]
        fd, tmp = tempfile.mkstemp(dir=self.staging_dir(), prefix=".tmp-", suffix=".partial")
        try:
            h = hashlib.sha256()
            with os.fdopen(fd, "wb") as f:
                for block in chunks:
                    f.write(block)
                    h.update(block)
                    if on_bytes:
                        on_bytes(len(block))
            actual = "sha256:" + h.hexdigest()
            if digest and actual != digest:
                raise IntegrityError(f"content for {digest} hashes to {actual}")
            dest = self.path(actual)
            os.replace(tmp, dest)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        return actual, dest

    def put_file(self, src: Path, digest: str | None = None) -> tuple[str, Path]:
        """Copy the file at `src` into the store, checked against `digest` when one is given."""
        with open(src, "rb") as f:
            return self.put_stream(iter(lambda: f.read(CHUNK), b""), digest)

    def adopt(self, src: Path, digest: str | None = None) -> tuple[str, Path]:
        """Move a file already on the store's file system (a finished download) into the store, checked."""
        actual = "sha256:" + _hash_file(src, "sha256")
        if digest and actual != digest:
            src.unlink(missing_ok=True)
            raise IntegrityError(f"content for {digest} hashes to {actual}")
        dest = self.path(actual)
        os.replace(src, dest)
        return actual, dest

    def staging_dir(self) -> Path:
        """Where downloads whose sha256 is not known yet land before `adopt` moves them in."""
        incoming = self.root / "blobs" / "incoming"
        incoming.mkdir(exist_ok=True)
        return incoming

    def staging(self, key: str) -> Path:
        """A stable path for content known only by another digest (e.g. `sha512:<hex>`) while it downloads, so an
        interrupted download resumes there; `adopt` moves it into the store once verified."""
        algo, _, hexpart = key.partition(":")
        if algo not in ("sha256", "sha512"):
            raise IntegrityError(f"unsupported or malformed digest {key!r}")
        _check_hex(algo, hexpart, 64 if algo == "sha256" else 128)
        return self.staging_dir() / f"{algo}-{hexpart}"


class Index:
    """A small map from a kind's own key (another digest, a name) to the sha256 digest of a stored blob."""

    def __init__(self, root: Path):
        self.root = root

    def _file(self, key: str) -> Path:
        parts = key.split("/")
        if not key or any(p in ("", ".", "..") or not p.isprintable() for p in parts):
            raise IntegrityError(f"malformed store index key {key!r}")
        return self.root.joinpath(*parts)

    def get(self, key: str) -> str | None:
        try:
            digest = self._file(key).read_text().strip()
        except (FileNotFoundError, NotADirectoryError):
            return None
        return digest or None

    def put(self, key: str, digest: str) -> None:
        dest = self._file(key)
        dest.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=dest.parent, prefix=".tmp-")
        try:
            with os.fdopen(fd, "w") as f:
                f.write(digest + "\n")
            os.replace(tmp, dest)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise


def _hash_file(path: Path, algo: str) -> str:
    h = hashlib.new(algo)
    with open(path, "rb") as f:
        while block := f.read(CHUNK):
            h.update(block)
    return h.hexdigest()
