"""The contract between artifact kinds, the lock, the archive and verify.

spec -> lock -> fetch -> store -> archive: a kind's `lock()` pins its section of the spec to exact digests
(network allowed), its `fetch()` brings every pinned thing into the cache and returns the Artifacts the archive
holds. Nothing else in the pipeline knows what a chart or a .deb is.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from bundler.bundle.lock import Record
from bundler.bundle.spec import LoadedSpec


@dataclass(frozen=True)
class Artifact:
    """One member of the archive."""

    path: str  # member path in the archive, e.g. "images/blobs/sha256/<hex>", "debs/pool/n/nginx_1.22.deb"
    source: Path  # where its bytes are now (the cache or the build's work dir); read, never moved
    digest: str  # "sha256:<hex>" of the bytes
    size: int
    kind: str  # "image", "chart", "deb", "file", "toolchain", "meta"
    media_type: str | None = None
    origin: str | None = None  # URL or reference it came from
    meta: dict[str, Any] = field(default_factory=dict, compare=False, hash=False)


@dataclass
class KindResult:
    artifacts: list[Artifact]
    # What bundle.json says about this kind: its record (or list of records) from bundler/kinds/<kind>/summary.py,
    # e.g. the images with their digests and platforms.
    summary: Record | Sequence[Record]
    # Artifacts still downloading, by archive path: the archive writer waits for each in turn, so writing
    # overlaps fetching. A kind that fetches everything inside fetch() leaves this empty.
    pending: dict[str, Future] = field(default_factory=dict)
    # Called once the archive is written or the build failed (stops background downloads).
    close: Callable[[], None] | None = None


class BuildContext(Protocol):
    """What a kind may use while locking and fetching. See bundler.bundle.build.Context for the implementation."""

    cache_dir: Path  # persistent, shared across builds (~/.cache/wire-bundle)
    work_dir: Path  # this build's scratch space under --tmpdir; gone after the build
    jobs: int
    helm: str | None
    # Extra image references found by other kinds (charts), normalised strings; images lock them too.
    discovered_images: dict[str, list[dict[str, Any]]]

    def progress(self, label: str, total_bytes: int | None = None) -> Any: ...
    def log(self, message: str) -> None: ...
    def warn(self, message: str) -> None: ...


class Kind(Protocol):
    name: str  # the lock section key and the archive's top-level directory

    def wanted(self, spec: LoadedSpec) -> bool: ...
    def lock(self, spec: LoadedSpec, ctx: BuildContext) -> Any: ...
    def fetch(self, spec: LoadedSpec, locked: Any, ctx: BuildContext) -> KindResult: ...


def sha256_file(path: Path, chunk: int = 1 << 20) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(chunk):
            h.update(block)
    return "sha256:" + h.hexdigest()


def file_artifact(path: str, source: Path, kind: str, **kw: Any) -> Artifact:
    """An artifact for a file whose digest is not known yet (generated metadata, for example)."""
    return Artifact(path=path, source=source, digest=sha256_file(source), size=source.stat().st_size,
                    kind=kind, **kw)
