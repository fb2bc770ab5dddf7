"""Where chart versions come from and how their .tgz gets into the cache, for HTTP and OCI repositories alike.

Every .tgz is kept in the content store (bundler.bundle.store) by its sha256: a blob at its final name is complete and
verified, so a second lock or build reuses it without asking the network. Every download, pinned or not, goes
through the shared Downloader (retries, proxies, resume where the digest is known).
"""

from __future__ import annotations

import os
import tempfile
import threading
from pathlib import Path
from typing import TYPE_CHECKING

from bundler.bundle.artifacts import sha256_file
from bundler.bundle.store import BlobStore
from bundler.bundle.transport import HttpUser, LazyHttp
from bundler.kinds.charts.oci import fetch_oci, resolve_oci
from bundler.kinds.charts.repo import IndexCache, Resolved, resolve_http
from bundler.kinds.images.registry import RegistryClient, RegistrySettings

if TYPE_CHECKING:
    pass


class ChartSources(HttpUser):
    def __init__(self, cache_dir: Path, registries: dict | None = None, client: RegistryClient | None = None):
        self.store = BlobStore(cache_dir)
        self._http = LazyHttp()
        self._made = threading.Lock()
        self._indexes: IndexCache | None = None
        self._client = client
        self._registries = registries or {}

    @property
    def indexes(self) -> IndexCache:
        session = self.session
        with self._made:
            if self._indexes is None:
                self._indexes = IndexCache(session)
            return self._indexes

    @property
    def client(self) -> RegistryClient:
        if self._client is None:
            self._client = RegistryClient(RegistrySettings.from_spec(self._registries))
        return self._client

    def resolve(self, repo: str, name: str, constraint: str) -> Resolved:
        if repo.startswith("oci://"):
            return resolve_oci(self.client, repo, name, constraint)
        return resolve_http(self.indexes, repo, name, constraint)

    def path_for(self, digest: str) -> Path:
        return self.store.path(digest)

    def fetch(self, name: str, repo: str, version: str, url: str, digest: str | None,
              size: int | None = None) -> tuple[Path, str, int]:
        """The chart's .tgz in the cache, verified: (path, digest, size). Without a known digest (an index
        that lists none) the first download defines it; the lock then pins it for every later build."""
        what = f"chart {name} {version}"
        if digest is None:
            path = self._fetch_unpinned(url, what)
            digest = "sha256:" + path.name
        else:
            path = self.path_for(digest)
            if path.exists() and sha256_file(path) != digest:
                path.unlink()  # damaged in the cache (disk, a hand edit): fetch it again rather than ship it
            if repo.startswith("oci://"):
                path = fetch_oci(self.client, repo, name, version, digest, size, path)
            else:
                path = self.downloader.download(url, path, digest=digest, size=size, what=what)
        return path, digest, path.stat().st_size

    def _fetch_unpinned(self, url: str, what: str) -> Path:
        fd, tmp = tempfile.mkstemp(dir=self.store.staging_dir(), prefix=".unpinned-", suffix=".partial")
        os.close(fd)
        partial = Path(tmp)
        try:
            digest = self.downloader.download_unpinned(url, partial, what=what)
            return self.store.adopt(partial, digest)[1]
        finally:
            partial.unlink(missing_ok=True)
