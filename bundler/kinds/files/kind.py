"""Pinned upstream files (Cassandra, MinIO, kubelet, helm ...): a URL and the checksum its publisher gives.

The checksum is the file's identity: the cache keeps each file under `files/<algorithm>/<hex>`, so a file
fetched once is never fetched again, whatever its URL or name in another spec. Downloads go through the
shared Downloader, so an interrupted transfer resumes with a Range request and nothing unverified ever
reaches the cache's final name. In the archive the file lives at `files/<path>`.
"""

from __future__ import annotations

import hashlib
from concurrent.futures import ThreadPoolExecutor, as_completed
from pathlib import Path
from typing import Any

import requests

from bundler import __version__
from bundler.bundle.artifacts import Artifact, BuildContext, KindResult
from bundler.bundle.space import check_space, human
from bundler.bundle.spec import LoadedSpec
from bundler.bundle.transport import Downloader, describe_network_error
from bundler.errors import BundleError, IntegrityError

HEAD_TIMEOUT = (15, 60)


def _session() -> requests.Session:
    s = requests.Session()
    s.headers["User-Agent"] = f"wire-bundle/{__version__}"
    return s


def _cache_path(cache_dir: Path, algorithm: str, checksum: str) -> Path:
    return cache_dir / "files" / algorithm / checksum


def _hash(path: Path, algorithm: str) -> str:
    h = hashlib.new(algorithm)
    with open(path, "rb") as f:
        while block := f.read(1 << 20):
            h.update(block)
    return h.hexdigest()


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

    def lock(self, spec: LoadedSpec, ctx: BuildContext) -> list[dict[str, Any]]:
        session = _session()
        out = []
        for entry in spec.spec.files:
            algorithm, checksum = next(iter(entry.checksums.items()))
            cached = _cache_path(ctx.cache_dir, algorithm, checksum)
            size = cached.stat().st_size if cached.exists() else _head_size(session, entry.url)
            item: dict[str, Any] = {
                "path": entry.dest, "url": entry.url, "algorithm": algorithm, "checksum": checksum, "size": size,
            }
            if entry.sha256 and algorithm != "sha256":
                item["sha256"] = entry.sha256
            out.append(item)
        return sorted(out, key=lambda i: i["path"])

    def fetch(self, spec: LoadedSpec, locked: list[dict[str, Any]], ctx: BuildContext) -> KindResult:
        downloader = Downloader(_session())
        dests = {item["path"]: _cache_path(ctx.cache_dir, item["algorithm"], item["checksum"]) for item in locked}
        missing = [item for item in locked if not dests[item["path"]].exists()]
        missing_bytes = sum(item.get("size") or 0 for item in missing)
        check_space([(ctx.cache_dir, missing_bytes, "new files for the cache")])
        if missing:
            ctx.log(f"files: {len(locked)} files, {len(missing)} to fetch ({human(missing_bytes)} known)")
            with ctx.progress("files", missing_bytes) as task, ThreadPoolExecutor(max_workers=ctx.jobs) as pool:
                futures = [
                    pool.submit(downloader.download, item["url"], dests[item["path"]],
                                digest=f"{item['algorithm']}:{item['checksum']}", size=item.get("size"),
                                what=f"file {item['path']}", on_bytes=task.advance)
                    for item in missing
                ]
                try:
                    for fut in as_completed(futures):
                        fut.result()
                except BaseException:
                    for f in futures:
                        f.cancel()
                    raise
        artifacts: list[Artifact] = []
        summary = []
        for item in locked:
            url, algorithm, checksum = item["url"], item["algorithm"], item["checksum"]
            dest = dests[item["path"]]
            sha256 = checksum if algorithm == "sha256" else _hash(dest, "sha256")
            if item.get("sha256") and item["sha256"] != sha256:
                raise IntegrityError(f"file {item['path']}: sha256 mismatch (expected sha256:{item['sha256']}, "
                                     f"got sha256:{sha256}) from {url}")
            size = dest.stat().st_size
            artifacts.append(Artifact(path=f"files/{item['path']}", source=dest, digest=f"sha256:{sha256}",
                                      size=size, kind="file", origin=url))
            summary.append({"path": item["path"], "url": url, "size": size, "sha256": sha256,
                            algorithm: checksum})
        return KindResult(artifacts=artifacts, summary=summary)

    def inspect_rows(self, summary: list[dict[str, Any]]) -> tuple[str, list[str], list[list[str]]]:
        rows = [[s["path"], human(s["size"]), "sha256:" + s["sha256"][:16], s["url"]] for s in summary]
        return "files", ["path", "size", "digest", "source"], rows


KIND = FilesKind()

