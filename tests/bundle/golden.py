"""The golden bundle's content: stand-in bytes made here, seeded into a cache so a build needs no network."""

from __future__ import annotations

import hashlib
import io
import json
import tarfile
from pathlib import Path

FIXTURE = Path(__file__).parent / "fixtures" / "golden"
REF = "registry.invalid/golden/app:1.0"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"



def _layer() -> bytes:
    """A stand-in layer: a real tar (the SBOM reads every layer) of one file, fixed down to its mtime."""
    out = io.BytesIO()
    content = bytes(range(256)) * 64
    with tarfile.open(fileobj=out, mode="w", format=tarfile.USTAR_FORMAT) as tar:
        info = tarfile.TarInfo("srv/golden/data.bin")
        info.size, info.mtime, info.mode = len(content), 0, 0o644
        tar.addfile(info, io.BytesIO(content))
    return out.getvalue()


LAYER = _layer()
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

    store = BlobStore(cache)  # one content store for every kind: the file by its sha256 too
    for blob in (MANIFEST, CONFIG, LAYER, TOOL):
        store.put_bytes(sha256(blob), blob)
