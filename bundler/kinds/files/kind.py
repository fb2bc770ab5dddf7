"""Pinned upstream files (Cassandra, MinIO, kubelet, helm ...): a URL and the checksum its publisher gives.

The checksum is the file's identity: the file is kept once in the content store (bundler.bundle.store), so a file
fetched once is never fetched again, whatever its URL or name in another spec. The store is addressed by
sha256; a file its publisher pins by sha512 is found again through the store's `files` index (`sha512/<hex>` ->
its sha256). Downloads go through the shared Downloader, so an interrupted transfer resumes with a Range
request and nothing unverified ever reaches the store. In the archive the file lives at `files/<path>`.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor, as_completed
from pathlib import Path

import requests

from bundler import __version__
from bundler.bundle.artifacts import Artifact, BuildContext, KindResult
from bundler.bundle.lock import FileLock
from bundler.bundle.space import check_space, human
from bundler.bundle.spec import LoadedSpec
from bundler.bundle.store import BlobStore
from bundler.bundle.transport import Downloader, describe_network_error
from bundler.errors import BundleError, IntegrityError
from bundler.kinds.files.summary import FileSummary

HEAD_TIMEOUT = (15, 60)


def _session() -> requests.Session:
    s = requests.Session()
    s.headers["User-Agent"] = f"wire-bundle/{__version__}"
    return s


def _stored(store: BlobStore, algorithm: str, checksum: str) -> Path | None:
    """The file's blob in the store, found by the checksum its publisher gives, if it is there."""
    digest = f"sha256:{checksum}" if algorithm == "sha256" else store.index("files").get(f"{algorithm}/{checksum}")
    return store.path(digest) if digest and store.has(digest) else None


def _download(downloader: Downloader, store: BlobStore, item: FileLock,
              on_bytes: Callable[[int], None]) -> Path:
    algorithm, checksum = item.algorithm, item.checksum
    pinned = f"{algorithm}:{checksum}"
    what = f"file {item.path}"
    if algorithm == "sha256":
        return downloader.download(item.url, store.path(pinned), digest=pinned, size=item.size,
                                   what=what, on_bytes=on_bytes)
    # Known by another digest: downloaded (resumably) beside the store, then moved in under its sha256.
    staged = downloader.download(item.url, store.staging(pinned), digest=pinned, size=item.size,
                                 what=what, on_bytes=on_bytes)
    digest, path = store.adopt(staged)
    store.index("files").put(f"{algorithm}/{checksum}", digest)
    return path


def _head_size(session: requests.Session, url: str) -> int | None:
    """The file's size from a HEAD request, or None when the server does not say (it is learned on fetch)."""
    try:
        resp = session.head(url, allow_redirects=True, timeout=HEAD_TIMEOUT)
    except requests.exceptions.RequestException as exc:
        raise BundleError(f"file {url}: {describe_network_error(exc)}") from None
    if resp.status_code == 404:
        raise BundleError(f"file {url}: 404 not found")
    if resp.status_code in (401, 403):
        raise BundleError(f"file {url}: {resp.status_code} access denied")
    length = resp.headers.get("Content-Length")
    # A compressed or non-200 answer says nothing reliable about the bytes a GET will bring.
    if resp.status_code != 200 or resp.headers.get("Content-Encoding") or not (length and length.isdigit()):
        return None
    return int(length)


class FilesKind:
    name = "files"

    def wanted(self, spec: LoadedSpec) -> bool:
        return bool(spec.spec.files)

    def lock(self, spec: LoadedSpec, ctx: BuildContext) -> list[FileLock]:
        session = _session()
        store = BlobStore(ctx.cache_dir)
        out = []
        for entry in spec.spec.files:
            algorithm, checksum = next(iter(entry.checksums.items()))
            cached = _stored(store, algorithm, checksum)
            size = cached.stat().st_size if cached else _head_size(session, entry.url)
            item = FileLock(path=entry.dest, url=entry.url, algorithm=algorithm, checksum=checksum, size=size)
            if entry.sha256 and algorithm != "sha256":
                item.sha256 = entry.sha256
            out.append(item)
        return sorted(out, key=lambda i: i.path)

    def fetch(self, spec: LoadedSpec, locked: list[FileLock], ctx: BuildContext) -> KindResult:
        downloader = Downloader(_session())
        store = BlobStore(ctx.cache_dir)
        dests = {item.path: _stored(store, item.algorithm, item.checksum) for item in locked}
        missing = [item for item in locked if dests[item.path] is None]
        missing_bytes = sum(item.size or 0 for item in missing)
        check_space([(ctx.cache_dir, missing_bytes, "new files for the cache")])
        if missing:
            ctx.log(f"files: {len(locked)} files, {len(missing)} to fetch ({human(missing_bytes)} known)")
            with ctx.progress("files", missing_bytes) as task, ThreadPoolExecutor(max_workers=ctx.jobs) as pool:
                futures = {pool.submit(_download, downloader, store, item, task.advance): item for item in missing}
                try:
                    for fut in as_completed(futures):
                        dests[futures[fut].path] = fut.result()
                except BaseException:
                    for f in futures:
                        f.cancel()
                    raise
        artifacts: list[Artifact] = []
        summary: list[FileSummary] = []
        for item in locked:
            url, algorithm, checksum = item.url, item.algorithm, item.checksum
            dest = dests[item.path]
            assert dest is not None  # every missing file was downloaded above, or the build stopped
            sha256 = dest.name  # the store's name for it
            if item.sha256 and item.sha256 != sha256:
                raise IntegrityError(f"file {item.path}: sha256 mismatch (expected sha256:{item.sha256}, "
                                     f"got sha256:{sha256}) from {url}")
            size = dest.stat().st_size
            artifacts.append(Artifact(path=f"files/{item.path}", source=dest, digest=f"sha256:{sha256}",
                                      size=size, kind="file", origin=url))
            entry = FileSummary(path=item.path, url=url, size=size, sha256=sha256)
            if algorithm == "sha512":  # the checksum as pinned, beside the store's sha256
                entry.sha512 = checksum
            summary.append(entry)
        return KindResult(artifacts=artifacts, summary=summary)

    def inspect_rows(self, summary: list[FileSummary]) -> tuple[str, list[str], list[list[str]]]:
        rows = [[s.path, human(s.size), "sha256:" + s.sha256[:16], s.url] for s in summary]
        return "files", ["path", "size", "digest", "source"], rows


KIND = FilesKind()

