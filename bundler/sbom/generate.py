"""Making sbom.cdx.json during a build: read every image's manifests from the store, stream each unique layer
once (in parallel: decompression releases the GIL), work out each image's contents, write the document."""

from __future__ import annotations

import json
import os
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from bundler.bundle.artifacts import Artifact, file_artifact
from bundler.bundle.lock import Lock
from bundler.errors import IntegrityError
from bundler.sbom.contents import ImageContents, image_contents
from bundler.sbom.doccache import DocumentCache, document_key
from bundler.sbom.layers import LayerScan, scan_layer
from bundler.sbom.names import MEDIA_TYPE, MEMBER, component_counts
from bundler.sbom.scancache import ScanCache

# Layers are tars (OCI, Docker, any compression); anything else in `layers` (attestations, signatures,
# artifacts) holds no file system.
_TAR_MEDIA = ("tar", "rootfs.diff")


def image_manifests(lock: dict[str, Any]) -> list[str]:
    """Every image manifest (per platform) the lock pins."""
    out = []
    for entry in lock.get("images") or []:
        out += [p["digest"] for p in entry.get("platforms") or []] or [entry["digest"]]
    return sorted(set(out))


def scan_images(lock: dict[str, Any], blob_path: Callable[[str], Path], wait: Callable[[str], None] = lambda d: None,
                jobs: int | None = None, remembered: ScanCache | None = None) -> dict[str, ImageContents]:
    """Each image manifest's contents, by its digest. `wait(digest)` returns once that blob is in the store;
    `remembered` holds earlier builds' scans of the same blobs."""
    layers_of: dict[str, list[str]] = {}
    for digest in image_manifests(lock):
        try:
            manifest = json.loads(blob_path(digest).read_bytes())
        except (OSError, ValueError) as exc:
            raise IntegrityError(f"image manifest {digest}: cannot be read for the SBOM ({exc})") from None
        layers_of[digest] = [d["digest"] for d in manifest.get("layers") or []
                             if any(m in str(d.get("mediaType", "tar")) for m in _TAR_MEDIA)]
    unique = sorted({d for layers in layers_of.values() for d in layers})
    scans: dict[str, LayerScan] = {}
    lock_ = threading.Lock()

    def one(digest: str) -> None:
        wait(digest)
        path = blob_path(digest)
        scan = remembered.scan(path, digest) if remembered else scan_layer(path, digest)
        with lock_:
            scans[digest] = scan

    with ThreadPoolExecutor(max_workers=max(1, min(jobs or 2, os.cpu_count() or 1))) as pool:
        for f in [pool.submit(one, d) for d in unique]:
            f.result()
    return {m: image_contents(layers, scans.__getitem__) for m, layers in layers_of.items()}


def sbom_bytes(name: str, tool: str, lock: dict[str, Any], summaries: dict[str, Any], artifacts: list[dict],
               images: dict[str, ImageContents]) -> bytes:
    # cyclonedx-python-lib is loaded only when a document is rendered (not when an earlier build's is reused).
    from bundler.sbom.document import Inputs, make_bom, render

    return render(make_bom(Inputs(name=name, tool=tool, lock=lock, summaries=summaries, artifacts=artifacts,
                                  images=images)))


def write_sbom(name: str, tool: str, lock: Lock, summaries: dict[str, Any], artifacts: list[Artifact],
               work_dir: Path, wait: Callable[[Artifact], None], jobs: int, log: Callable[[str], None],
               cache_dir: Path | None = None) -> Artifact:
    """The build's step: sbom.cdx.json written into the work dir, as the artifact the archive carries. Layers still
    downloading are waited for one by one, each read as soon as it is complete; with `cache_dir`, a layer an
    earlier build scanned is not read again (bundler/sbom/scancache.py), and a document an earlier build rendered
    from the same inputs is taken as it is (bundler/sbom/doccache.py)."""
    started = time.monotonic()
    by_path = {a.path: a for a in artifacts}
    locked = lock.to_json()  # the document reads the lock as JSON: its digest is over these bytes

    def blob_path(digest: str) -> Path:
        return by_path[_blob(digest)].source

    def wait_blob(digest: str) -> None:
        wait(by_path[_blob(digest)])

    images = scan_images(locked, blob_path, wait_blob, jobs, ScanCache(cache_dir) if cache_dir else None)
    records = [{"path": a.path, "digest": a.digest, "size": a.size, "kind": a.kind, "origin": a.origin}
               for a in artifacts]
    path = work_dir / MEMBER
    documents = DocumentCache(cache_dir) if cache_dir else None
    key = document_key(name, tool, locked, summaries, records, images) if documents else ""
    data = documents.get(key) if documents else None
    if data is None:
        data = sbom_bytes(name, tool, locked, summaries, records, images)
        if documents:
            documents.put(key, data)
    path.write_bytes(data)
    packages = sum(len(c.packages) for c in images.values())
    unknown = sum(1 for c in images.values() if not c.identified)
    log(f"sbom: {len(images)} image manifests ({unknown} of unknown OS), {packages} OS packages, "
        f"{time.monotonic() - started:.2f} s")
    counts = component_counts(json.loads(data))
    counts["image of unknown OS"] = unknown
    return file_artifact(MEMBER, path, "meta", media_type=MEDIA_TYPE,
                         meta={"member": MEMBER, "format": "CycloneDX 1.6", "components": counts})


def _blob(digest: str) -> str:
    return f"images/blobs/sha256/{digest.removeprefix('sha256:')}"
