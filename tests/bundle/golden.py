"""The golden bundle's content: stand-in bytes made here, seeded into a cache so a build needs no network."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

FIXTURE = Path(__file__).parent / "fixtures" / "golden"
REF = "registry.invalid/golden/app:1.0"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"

LAYER = bytes(range(256)) * 64  # stand-in layer: the images kind never looks inside one
TOOL = b"stand-in tool, never shipped\n" * 1000


def sha256(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


CONFIG = json.dumps({"architecture": "amd64", "os": "linux",
                     "rootfs": {"type": "layers", "diff_ids": [sha256(LAYER)]}}, sort_keys=True).encode()
MANIFEST = json.dumps({
    "schemaVersion": 2, "mediaType": OCI_MANIFEST,
    "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": sha256(CONFIG),
               "size": len(CONFIG)},
    "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar", "digest": sha256(LAYER),
                "size": len(LAYER)}],
}, sort_keys=True).encode()


def seed_cache(cache: Path) -> None:
    """Put every blob and file the golden lock pins where a build looks for it first."""
    from bundler.bundle.store import BlobStore
    from bundler.kinds.files.kind import _cache_path

    store = BlobStore(cache)
    for blob in (MANIFEST, CONFIG, LAYER):
        store.put_bytes(sha256(blob), blob)
    dest = _cache_path(cache, "sha256", sha256(TOOL).split(":", 1)[1])
    dest.parent.mkdir(parents=True, exist_ok=True)
    dest.write_bytes(TOOL)
