"""Each layer's scan kept in the content store, so a later build over the same cache (a warm rebuild, an upgrade
whose images share base layers, a delta bundle) reads no layer a second time.

The store's index `sbom-layers/<scanner>/<hex of the layer's sha256>` names a small JSON record kept as a blob;
the record names its layer and the scanner that made it, and holds the scan, each kept file's content as a blob of
its own. Nothing read back is trusted unchecked: the record's and each file's bytes must hash to the digests that
name them, and the record must name the layer asked for and this scanner; a record failing any check is ignored and
the layer scanned again (the fresh record then replaces it).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
from pathlib import Path

from bundler.bundle.store import BlobStore
from bundler.errors import IntegrityError
from bundler.sbom.layers import FILE_MAX, SCANNER, LayerScan, scan_layer

INDEX = "sbom-layers"
RECORD_MAX = 16 << 20  # a record lists paths and digests: a few KiB; anything far larger is not one of ours


def cached_scan(store: BlobStore, digest: str, path: Path) -> LayerScan:
    """The scan of the layer `digest` (whose blob is at `path`): from the store when a sound record is there,
    else read from the layer and recorded."""
    found = recorded(store, digest)
    if found is not None:
        return found
    scan = scan_layer(path, digest)
    if (key := _key(digest)) is None:  # not a sha256 digest: scanned, never recorded
        return scan
    with contextlib.suppress(OSError):  # a full or read-only cache costs the next build a read, not this one its SBOM
        save(store, key, digest, scan)
    return scan


def recorded(store: BlobStore, digest: str) -> LayerScan | None:
    """The scan the store recorded for the layer `digest`, if there is a sound one."""
    key = _key(digest)
    return None if key is None else load(store, key, digest)


def _key(digest: str) -> str | None:
    algo, _, hexpart = digest.partition(":")
    if algo != "sha256" or len(hexpart) != 64 or not set(hexpart) <= set("0123456789abcdef"):
        return None
    return f"{SCANNER}/{hexpart}"


def save(store: BlobStore, key: str, digest: str, scan: LayerScan) -> None:
    files = {}
    for name, data in scan.files.items():
        files[name] = store.put_stream([data])[0]
    record = json.dumps({"layer": digest, "scanner": SCANNER, "files": files, "links": scan.links,
                         "removed": scan.removed, "opaque": scan.opaque}, sort_keys=True).encode()
    store.index(INDEX).put(key, store.put_stream([record])[0])


def load(store: BlobStore, key: str, digest: str) -> LayerScan | None:
    """The recorded scan, or None when there is none or it fails a check."""
    try:
        record = json.loads(read_checked(store, store.index(INDEX).get(key), RECORD_MAX))
        if (not isinstance(record, dict) or record.get("layer") != digest or record.get("scanner") != SCANNER
                or not _strings(record.get("links"), dict) or not _strings(record.get("removed"), list)
                or not _strings(record.get("opaque"), list) or not _strings(record.get("files"), dict)):
            return None
        files = {name: read_checked(store, d, FILE_MAX) for name, d in record["files"].items()}
    except (OSError, ValueError, RecursionError, IntegrityError):
        return None
    return LayerScan(files=files, links=record["links"], removed=record["removed"], opaque=record["opaque"])


def _strings(value: object, kind: type) -> bool:
    """`value` is a `kind` (dict or list) of strings only."""
    if isinstance(value, dict):
        return kind is dict and all(isinstance(k, str) and isinstance(v, str) for k, v in value.items())
    return kind is list and isinstance(value, list) and all(isinstance(v, str) for v in value)


def read_checked(store: BlobStore, digest: str | None, limit: int) -> bytes:
    """The blob `digest` names, read whole (at most `limit` bytes) and hashed: ValueError if it is not sound."""
    if digest is None:
        raise ValueError("no record")
    path = store.path(digest)  # IntegrityError for anything but a sha256 digest
    with open(path, "rb") as f:
        data = f.read(limit + 1)
    if len(data) > limit or "sha256:" + hashlib.sha256(data).hexdigest() != digest:
        path.unlink(missing_ok=True)  # damaged: the store would otherwise keep it, as it keeps any blob it has
        raise ValueError(f"{path} does not hold {digest}")
    return data
