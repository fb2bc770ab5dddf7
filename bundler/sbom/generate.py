"""Making sbom.cdx.json during a build: read every image's manifests from the store, stream each unique layer
once (in parallel: decompression releases the GIL), work out each image's contents, write the document."""

from __future__ import annotations

import contextlib
import importlib
import json
import os
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from concurrent.futures import Future, ThreadPoolExecutor, as_completed
from pathlib import Path
from typing import Any

from bundler.bundle.artifacts import Artifact, file_artifact
from bundler.bundle.lock import Lock
from bundler.bundle.manifest import KindSummaries
from bundler.bundle.store import BlobStore
from bundler.errors import IntegrityError
from bundler.sbom import scancache
from bundler.sbom.contents import ImageContents, image_contents
from bundler.sbom.doccache import document_key, keep_document, kept_document
from bundler.sbom.layers import LayerScan, scan_layer
from bundler.sbom.names import MEDIA_TYPE, MEMBER, component_counts

# Layers are tars (OCI, Docker, any compression); anything else in `layers` (attestations, signatures,
# artifacts) holds no file system.
_TAR_MEDIA = ("tar", "rootfs.diff")
# Renders the document: it loads cyclonedx-python-lib (about 40 ms), so only a step that makes a new document
# loads it (not one that reuses a kept document).
DOCUMENT_MODULE = "bundler.sbom.document"


def image_manifests(lock: dict[str, Any]) -> list[str]:
    """Every image manifest (per platform) the lock pins."""
    out = []
    for entry in lock.get("images") or []:
        out += [p["digest"] for p in entry.get("platforms") or []] or [entry["digest"]]
    return sorted(set(out))


def image_layers(lock: dict[str, Any], blob_path: Callable[[str], Path]) -> dict[str, list[str]]:
    """Each image manifest the lock pins, by its digest, with its file system layers, lowest first."""
    return {digest: _layers(digest, blob_path) for digest in image_manifests(lock)}


def scan_images(layers_of: dict[str, list[str]], blob_path: Callable[[str], Path],
                wait: Callable[[str], None] = lambda d: None, jobs: int | None = None, store: BlobStore | None = None,
                ready: Callable[[list[str]], Iterable[str]] = iter) -> dict[str, ImageContents]:
    """Each image manifest's contents, by its digest, from its layers (`image_layers`). `wait(digest)` returns once
    that blob is in the store (and raises when its download, or any other, failed); `ready(digests)` yields them in
    the order their downloads complete, so each layer is read while later ones still download. With `store`, scans
    it recorded are used and new ones recorded (bundler.sbom.scancache)."""
    unique = sorted({d for layers in layers_of.values() for d in layers})
    scans: dict[str, LayerScan] = {}
    if store is not None:  # recorded scans need no blob: nothing to wait for
        for d in unique:
            if (found := scancache.recorded(store, d)) is not None:
                scans[d] = found
    lock_ = threading.Lock()

    def one(digest: str) -> None:
        path = blob_path(digest)
        scan = scancache.cached_scan(store, digest, path) if store is not None else scan_layer(path, digest)
        with lock_:
            scans[digest] = scan

    with ThreadPoolExecutor(max_workers=max(1, min(jobs or 2, os.cpu_count() or 1))) as pool:
        futures = []
        for d in ready([d for d in unique if d not in scans]):
            wait(d)
            futures.append(pool.submit(one, d))
        for f in futures:
            f.result()
    return {m: image_contents(layers, scans.__getitem__) for m, layers in layers_of.items()}


def _layers(digest: str, blob_path: Callable[[str], Path]) -> list[str]:
    """The digests of an image manifest's file system layers, lowest first."""
    try:
        manifest = json.loads(blob_path(digest).read_bytes())
    except (OSError, ValueError) as exc:
        raise IntegrityError(f"image manifest {digest}: cannot be read for the SBOM ({exc})") from None
    return [d["digest"] for d in manifest.get("layers") or []
            if any(m in str(d.get("mediaType", "tar")) for m in _TAR_MEDIA)]


def sbom_bytes(name: str, tool: str, lock: dict[str, Any], summaries: KindSummaries, artifacts: list[dict],
               images: dict[str, ImageContents]) -> bytes:
    from bundler.sbom.document import Inputs, make_bom, render  # noqa: PLC0415  (DOCUMENT_MODULE)

    return render(make_bom(Inputs(name=name, tool=tool, lock=lock, summaries=summaries, artifacts=artifacts,
                                  images=images)))


def write_sbom(name: str, tool: str, lock: Lock, summaries: KindSummaries, artifacts: list[Artifact],
               work_dir: Path, store: BlobStore, pending: Mapping[str, Future], wait: Callable[[Artifact], None],
               jobs: int, log: Callable[[str], None]) -> Artifact:
    """The build's step: sbom.cdx.json written into the work dir, as the artifact the archive carries. Layers whose
    scan the store recorded are not read; the others are read as their downloads (`pending`, by member path)
    complete, in that order, and their scans recorded."""
    started = time.monotonic()
    by_path = {a.path: a for a in artifacts}
    locked = lock.to_json()  # the document reads the lock as JSON: its digest is over these bytes

    def blob_path(digest: str) -> Path:
        return by_path[_blob(digest)].source

    def wait_blob(digest: str) -> None:
        wait(by_path[_blob(digest)])

    read: list[str] = []
    arrived = started  # when the last layer to read was complete: what the step adds to a build is after it

    def ready(digests: list[str]) -> Iterator[str]:
        nonlocal arrived
        read.extend(digests)
        if digests:  # layers never read mean a new document: its renderer loads while they download
            threading.Thread(target=_load_renderer, daemon=True).start()
        downloading = {pending[_blob(d)]: d for d in digests if _blob(d) in pending}
        yield from (d for d in digests if _blob(d) not in pending)  # in the cache already
        for f in as_completed(downloading):
            arrived = time.monotonic()
            yield downloading[f]

    layers_of = image_layers(locked, blob_path)
    images = scan_images(layers_of, blob_path, wait_blob, jobs, store, ready)
    layers = len({d for ls in layers_of.values() for d in ls})
    records = [{"path": a.path, "digest": a.digest, "size": a.size, "kind": a.kind, "origin": a.origin}
               for a in artifacts]
    path = work_dir / MEMBER
    key = document_key(name, tool, locked, summaries.to_json(), records, images)
    data = kept_document(store, key)
    if data is None:
        data = sbom_bytes(name, tool, locked, summaries, records, images)
        keep_document(store, key, data)
    path.write_bytes(data)
    packages = sum(len(c.packages) for c in images.values())
    unknown = sum(1 for c in images.values() if not c.identified)
    done = time.monotonic()
    log(f"sbom: {len(images)} image manifests ({unknown} of unknown OS), {packages} OS packages; {len(read)} of "
        f"{layers} layers read (the others' scans kept from earlier builds), {done - arrived:.2f} s after the last "
        f"download, {done - started:.2f} s")
    counts = component_counts(json.loads(data))
    counts["image of unknown OS"] = unknown
    return file_artifact(MEMBER, path, "meta", media_type=MEDIA_TYPE,
                         meta={"member": MEMBER, "format": "CycloneDX 1.6", "components": counts})


def _load_renderer() -> None:
    # Only ahead of time: should loading fail here, sbom_bytes's own import fails the same way and says so.
    with contextlib.suppress(Exception):
        importlib.import_module(DOCUMENT_MODULE)


def _blob(digest: str) -> str:
    return f"images/blobs/sha256/{digest.removeprefix('sha256:')}"
