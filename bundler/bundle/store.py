"""The persistent content store: blobs addressed by digest, shared by every build that uses the cache.

Laid out like an OCI image layout's `blobs/` directory. A blob at its final path is complete and verified;
anything in flight is a `.partial` file beside it (see bundler.bundle.transport).
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from pathlib import Path

from bundler.errors import IntegrityError

DEFAULT_CACHE = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "wire-bundle"


class BlobStore:
    def __init__(self, root: Path):
        self.root = root
        (root / "blobs" / "sha256").mkdir(parents=True, exist_ok=True)

    def path(self, digest: str) -> Path:
        algo, _, hexpart = digest.partition(":")
        if algo != "sha256" or len(hexpart) != 64 or not all(c in "0123456789abcdef" for c in hexpart):
            raise IntegrityError(f"unsupported or malformed digest {digest!r}")
        return self.root / "blobs" / "sha256" / hexpart

    def has(self, digest: str) -> bool:
        return self.path(digest).exists()

    def put_bytes(self, digest: str, data: bytes) -> Path:
        """Store small content (manifests) after checking it against its digest."""
        dest = self.path(digest)
        if dest.exists():
            return dest
        actual = "sha256:" + hashlib.sha256(data).hexdigest()
        if actual != digest:
            raise IntegrityError(f"content for {digest} hashes to {actual}")
        fd, tmp = tempfile.mkstemp(dir=dest.parent, prefix=".tmp-")
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(data)
            os.replace(tmp, dest)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        return dest
