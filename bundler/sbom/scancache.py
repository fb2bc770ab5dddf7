"""Layer scans remembered between builds, `<cache>/sbom/layers/<hex>.json` per layer: a warm build, and a delta
(which carries a few layers but describes every image of the new bundle), need not stream every layer again.

A remembered scan is used only while it describes exactly the bytes a new scan would read:
- it records the blob file as it was when scanned (device, inode, size, modification and change times; the change
  time is set by the kernel on every write, rename or `touch` and cannot be set by hand), taken before and after
  the scan and kept only when both agree and the file had not changed for SETTLE_NS before (a write within the
  file system's clock tick could otherwise leave the times as they were, the "racy git" problem);
- it records the scanner: the digest of the source of the modules that decide what a scan keeps, so a new
  version of the scanner never reads an old version's results.
So it trusts exactly what scanning the file again would: the store's blob at its final name, which the store
verified when it stored it (bundler/bundle/store.py). Anything unreadable, malformed or not matching is scanned
again and replaced.
"""

from __future__ import annotations

import base64
import contextlib
import functools
import hashlib
import json
import os
import tempfile
import time
from pathlib import Path
from typing import Any

from bundler.bundle import tarstream
from bundler.sbom import layers, ospkgs
from bundler.sbom.layers import LayerScan, scan_layer
from bundler.sbom.ospkgs import apk, dpkg, rpm

FORMAT = 1
SETTLE_NS = 2_000_000_000  # coarser than any file system's timestamps that matter here (FAT's 2 s)
REMEMBER_MAX = 32 << 20  # the wanted files of one layer; larger scans (a big rpm database) are read each time


@functools.cache
def scanner_id() -> str:
    """The digest of the code a scan's result depends on."""
    h = hashlib.sha256()
    for module in (layers, tarstream, dpkg, apk, rpm, ospkgs):
        h.update(Path(str(module.__file__)).read_bytes())
    return h.hexdigest()


def _identity(st: os.stat_result) -> list[int]:
    return [st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns]


class ScanCache:
    def __init__(self, cache_dir: Path, settle_ns: int = SETTLE_NS):
        self.root = cache_dir / "sbom" / "layers"
        self.settle_ns = settle_ns

    def _entry(self, digest: str) -> Path:
        hexpart = digest.removeprefix("sha256:")
        if len(hexpart) != 64 or not all(c in "0123456789abcdef" for c in hexpart):
            raise ValueError(f"not a sha256 digest: {digest!r}")
        return self.root / f"{hexpart}.json"

    def scan(self, path: Path, digest: str) -> LayerScan:
        """The layer at `path` scanned, or its remembered scan while that still describes the file."""
        before = os.stat(path)
        found = self.recall(digest, before)
        if found is not None:
            return found
        now = time.time_ns()
        scan = scan_layer(path, digest)
        after = os.stat(path)
        if _identity(before) == _identity(after) and before.st_ctime_ns <= now - self.settle_ns:
            self.remember(digest, after, scan)
        return scan

    def recall(self, digest: str, st: os.stat_result) -> LayerScan | None:
        try:
            doc = json.loads(self._entry(digest).read_bytes())
            if (doc["format"] != FORMAT or doc["scanner"] != scanner_id() or doc["digest"] != digest
                    or doc["file"] != _identity(st)):
                return None
            return LayerScan(files={str(k): base64.b64decode(v, validate=True) for k, v in doc["files"].items()},
                             links={str(k): str(v) for k, v in doc["links"].items()},
                             removed=[str(p) for p in doc["removed"]], opaque=[str(p) for p in doc["opaque"]])
        except (OSError, ValueError, KeyError, TypeError, AttributeError):
            return None  # none, unreadable or not ours: scanned again and written anew

    def remember(self, digest: str, st: os.stat_result, scan: LayerScan) -> None:
        if sum(len(v) for v in scan.files.values()) > REMEMBER_MAX:
            return
        doc: dict[str, Any] = {
            "format": FORMAT, "scanner": scanner_id(), "digest": digest, "file": _identity(st),
            "files": {k: base64.b64encode(v).decode() for k, v in scan.files.items()},
            "links": scan.links, "removed": scan.removed, "opaque": scan.opaque,
        }
        entry = self._entry(digest)
        # Only a time saver: a cache that cannot take it (full, read-only) means the layer is read again next time.
        with contextlib.suppress(OSError):
            entry.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=entry.parent, prefix=".tmp-", suffix=".json")
            try:
                with os.fdopen(fd, "w") as f:
                    json.dump(doc, f)
                os.replace(tmp, entry)
            except BaseException:
                Path(tmp).unlink(missing_ok=True)
                raise
