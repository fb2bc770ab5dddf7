"""HTTP chart repositories: read index.yaml, resolve a version constraint, name the .tgz and its digest."""

from __future__ import annotations

import difflib
import threading
from dataclasses import dataclass
from typing import TYPE_CHECKING
from urllib.parse import urljoin

import yaml

from bundler.bundle.transport import DocumentError, read_document
from bundler.errors import BundleError
from bundler.kinds.charts.semver import ConstraintError, best_match, nearest

if TYPE_CHECKING:
    import requests

_Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # the C loader when libyaml is there

MAX_INDEX_BYTES = 256 << 20


@dataclass(frozen=True)
class Resolved:
    """One chart version, pinned: where its .tgz lives and (if the source says) its digest."""

    name: str
    repo: str
    version: str
    url: str
    digest: str | None  # "sha256:<hex>" from index.yaml or the OCI manifest; None if the index has none
    size: int | None = None
    oci_manifest: str | None = None  # OCI charts: the manifest digest the tag pointed to


def pick_version(name: str, repo: str, constraint: str, available: list[str]) -> str:
    """The newest of a repository's versions of chart `name` (an index's or an OCI repository's tags) that meets
    `constraint`; BundleError naming the nearest versions when none does."""
    try:
        picked = best_match(constraint, available)
    except ConstraintError as exc:
        raise BundleError(f"chart {name}: {exc}") from None
    if picked is None:
        near = nearest(constraint, available)
        raise BundleError(f"chart {name} has no version matching {constraint!r} in {repo} "
                          f"(nearest available: {', '.join(near) or 'none'})")
    return picked


class IndexCache:
    """index.yaml of each repository, fetched once per run (Wire's and Bitnami's indexes are megabytes)."""

    def __init__(self, session: requests.Session):
        self.session = session
        self._indexes: dict[str, dict] = {}
        self._locks: dict[str, threading.Lock] = {}
        self._guard = threading.Lock()

    def index(self, repo: str) -> dict:
        with self._guard:
            lock = self._locks.setdefault(repo, threading.Lock())
        with lock:  # charts resolved in parallel from one repository share one download of its index
            if repo not in self._indexes:
                self._indexes[repo] = self._fetch(repo)
            return self._indexes[repo]

    def _fetch(self, repo: str) -> dict:
        url = repo.rstrip("/") + "/index.yaml"
        try:
            # One attempt, as before the shared transport: a lock asks again on its next run.
            content = read_document(self.session, url, limit=MAX_INDEX_BYTES, attempts=1, timeout=(15, 120),
                                    too_large=f"index.yaml is larger than {MAX_INDEX_BYTES >> 20} MiB")
        except DocumentError as exc:
            if exc.status in (401, 403):
                raise BundleError(f"chart repository {repo}: HTTP {exc.status} for index.yaml (credentials for "
                                  "an HTTP chart repository go in ~/.netrc, or the file $NETRC names)") from None
            suffix = " for index.yaml" if exc.status else ""
            raise BundleError(f"chart repository {repo}: {exc}{suffix}") from None
        try:
            data = yaml.load(content, Loader=_Loader)  # noqa: S506 - a safe loader
        except yaml.YAMLError as exc:
            raise BundleError(f"chart repository {repo}: index.yaml is not YAML ({_first_line(exc)})") from None
        if not isinstance(data, dict) or not isinstance(data.get("entries"), dict):
            raise BundleError(f"chart repository {repo}: index.yaml has no `entries` (is this a chart repository?)")
        return data


def resolve_http(cache: IndexCache, repo: str, name: str, constraint: str) -> Resolved:
    entries = cache.index(repo)["entries"]
    versions = entries.get(name)
    if not versions:
        close = difflib.get_close_matches(name, list(entries), n=3)
        hint = f" (did you mean {', '.join(close)}?)" if close else ""
        raise BundleError(f"chart {name} not found in {repo}/index.yaml{hint}")
    by_version = {str(v.get("version")): v for v in versions if isinstance(v, dict) and v.get("version")}
    picked = pick_version(name, repo, constraint, list(by_version))
    entry = by_version[picked]
    urls = entry.get("urls") or []
    if not urls:
        raise BundleError(f"chart {name} {picked} in {repo}/index.yaml has no download URL")
    # Relative URLs are relative to the index; absolute ones may point anywhere (a CDN, GitHub releases).
    url = urljoin(repo.rstrip("/") + "/", str(urls[0]))
    digest = entry.get("digest")
    if digest:
        digest = str(digest).lower()
        if not digest.startswith("sha256:"):
            digest = "sha256:" + digest
        if len(digest) != 71:
            raise BundleError(f"chart {name} {picked} in {repo}/index.yaml: malformed digest {entry['digest']!r}")
    return Resolved(name=name, repo=repo, version=picked, url=url, digest=digest or None)


def _first_line(exc: Exception) -> str:
    return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
