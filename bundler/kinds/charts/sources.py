"""Where chart versions come from and how their .tgz gets into the cache, for HTTP and OCI repositories alike.

The cache is content-addressed (`<cache>/charts/sha256/<hex>.tgz`): a file at its final name is complete and
verified, so a second lock or build reuses it without asking the network.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from pathlib import Path

import requests

from bundler.bundle.artifacts import sha256_file
from bundler.bundle.transport import Downloader, describe_network_error
from bundler.errors import BundleError
from bundler.kinds.charts.oci import fetch_oci, resolve_oci
from bundler.kinds.charts.repo import IndexCache, Resolved, resolve_http
from bundler.kinds.images.registry import RegistryClient, RegistrySettings


class ChartSources:
    def __init__(self, cache_dir: Path, registries: dict | None = None, client: RegistryClient | None = None):
        self.root = cache_dir / "charts" / "sha256"
        self.session = requests.Session()
        self.session.headers["User-Agent"] = "wire-bundle"
        self.downloader = Downloader(self.session)
        self.indexes = IndexCache(self.session)
        self._client = client
        self._registries = registries or {}

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
        return self.root / (digest.split(":", 1)[1] + ".tgz")

    def fetch(self, name: str, repo: str, version: str, url: str, digest: str | None,
              size: int | None = None) -> tuple[Path, str, int]:
        """The chart's .tgz in the cache, verified: (path, digest, size). Without a known digest (an index
        that lists none) the first download defines it; the lock then pins it for every later build."""
        what = f"chart {name} {version}"
        if digest is None:
            path = self._fetch_unpinned(url, what)
            digest = "sha256:" + path.name.removesuffix(".tgz")
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
        self.root.mkdir(parents=True, exist_ok=True)
        try:
            resp = self.session.get(url, stream=True, timeout=(15, 120))
        except requests.exceptions.RequestException as exc:
            raise BundleError(f"{what}: {describe_network_error(exc)} ({url})") from None
        with resp:
            if resp.status_code != 200:
                raise BundleError(f"{what}: HTTP {resp.status_code} from {url}")
            fd, tmp = tempfile.mkstemp(dir=self.root, prefix=".tmp-")
            h = hashlib.sha256()
            try:
                with os.fdopen(fd, "wb") as out:
                    for block in resp.iter_content(1 << 20):
                        h.update(block)
                        out.write(block)
                dest = self.path_for("sha256:" + h.hexdigest())
                os.replace(tmp, dest)
            except BaseException:
                Path(tmp).unlink(missing_ok=True)
                raise
        return dest
