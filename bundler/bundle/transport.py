"""The one HTTP transport for content: download one thing by its checksum (resumable, retried, verified, atomic),
or read one small document whole (a chart repository's index.yaml, a release manifest).

Bytes stream into `<name>.partial` beside the destination; an interrupted download is continued with an HTTP
Range request on the next attempt (or the next build), and the file is renamed to its final name only after
its size and digest match. A file at the final name is therefore always complete.
"""

from __future__ import annotations

import errno
import fcntl
import hashlib
import os
import random
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from bundler.errors import BundleError, IntegrityError, RegistryError, SpaceError

# requests (with urllib3, about a third of a build's imports) is loaded by the functions that go to the network:
# a build from a warm cache makes no request.
if TYPE_CHECKING:
    import requests

CHUNK = 1 << 20
TRANSIENT_STATUS = {408, 425, 429, 500, 502, 503, 504}


class TransientError(Exception):
    pass


class DocumentError(BundleError):
    """A small document could not be read: `status` is the final HTTP status (None: network, size, retries)."""

    def __init__(self, message: str, status: int | None = None):
        super().__init__(message)
        self.status = status


def read_document(session: requests.Session, url: str, *, limit: int, too_large: str, attempts: int = 4,
                  timeout: tuple[float, float] = (15, 60)) -> bytes:
    """GET a small document whole into memory, never more than `limit` bytes (`too_large` says why not).

    Connection errors and transient statuses (429, 5xx, ...) are retried `attempts` times with backoff; any other
    status is final. Errors are DocumentError whose message is the cause alone; the caller names the document."""
    import requests

    last = ""
    for attempt in range(attempts):
        if attempt:
            time.sleep(0.5 * 2 ** (attempt - 1) * (0.5 + random.random()))
        try:
            with session.get(url, stream=True, timeout=timeout) as resp:
                if resp.status_code in TRANSIENT_STATUS:
                    last = f"HTTP {resp.status_code}"
                    continue
                if resp.status_code != 200:
                    raise DocumentError(f"HTTP {resp.status_code}", resp.status_code)
                body = bytearray()
                for block in resp.iter_content(1 << 16):
                    body += block
                    if len(body) > limit:
                        raise DocumentError(too_large)
                return bytes(body)
        except requests.exceptions.RequestException as exc:
            last = describe_network_error(exc)
    raise DocumentError(last if attempts == 1 else f"gave up after {attempts} attempts: {last}")


def describe_network_error(exc: Exception) -> str:
    import requests

    text = str(exc)
    if isinstance(exc, requests.exceptions.ProxyError):
        return f"proxy refused or unreachable ({text[:160]})"
    if isinstance(exc, requests.exceptions.SSLError):
        return "TLS handshake failed (is it plain http? name it `insecure: true` under registries)"
    if isinstance(exc, requests.exceptions.ConnectTimeout):
        return "connection timed out"
    if isinstance(exc, requests.exceptions.ConnectionError):
        if "Name or service not known" in text or "NameResolutionError" in text:
            return "host name does not resolve"
        if "Connection refused" in text:
            return "connection refused"
        return "connection failed or was cut"
    if isinstance(exc, requests.exceptions.Timeout):
        return "read timed out"
    return text[:200]


class Downloader:
    def __init__(
        self,
        session: requests.Session | Callable[[], requests.Session],
        *,
        attempts: int = 6,
        backoff: float = 0.5,
        timeout: tuple[float, float] = (15, 120),
        sleep: Callable[[float], None] = time.sleep,
    ):
        # A session, or what makes one when the first request is made: a file already there needs none.
        self._session = session
        self.attempts = attempts
        self.backoff = backoff
        self.timeout = timeout
        self.sleep = sleep

    @property
    def session(self) -> requests.Session:
        return self._session() if callable(self._session) else self._session

    def download(
        self,
        url: str,
        dest: Path,
        *,
        digest: str,
        size: int | None = None,
        what: str,
        headers: Callable[[], dict[str, str]] | None = None,
        on_unauthorized: Callable[[requests.Response], bool] | None = None,
        on_bytes: Callable[[int], None] | None = None,
    ) -> Path:
        """Fetch `url` into `dest` unless it is already there. `digest` is "sha256:<hex>" or "sha512:<hex>".

        `headers` is called before every request (a bearer token may change between attempts);
        `on_unauthorized` may refresh credentials on a 401 and return True to try again.
        """
        if dest.exists():
            return dest
        algo, expected = digest.split(":", 1)
        dest.parent.mkdir(parents=True, exist_ok=True)
        partial = dest.with_name(dest.name + ".partial")
        with open(partial, "ab") as lock_handle:
            # Another build sharing this cache may be fetching the same file: wait for it, then reuse.
            fcntl.flock(lock_handle, fcntl.LOCK_EX)
            try:
                if dest.exists():
                    return dest
                return self._download_locked(
                    url, dest, partial, algo, expected, size, what, headers, on_unauthorized, on_bytes
                )
            finally:
                fcntl.flock(lock_handle, fcntl.LOCK_UN)

    def download_unpinned(self, url: str, dest: Path, *, what: str) -> str:
        """Fetch `url` into `dest` when nothing says what its bytes must be (a chart index that lists no digest):
        the same retries and errors as `download`, each attempt from the first byte (a prefix of unknown bytes
        cannot be trusted to continue), and the sha256 of what arrived is returned for the caller to pin."""
        last_error = ""
        for attempt in range(1, self.attempts + 1):
            dest.unlink(missing_ok=True)
            try:
                return "sha256:" + self._attempt(url, dest, "sha256", None, None, None)
            except TransientError as exc:
                last_error = str(exc)
                self.sleep(self.backoff * (2 ** (attempt - 1)) * (0.5 + random.random()))
            except _Unauthorized as exc:
                raise RegistryError(f"{what}: {exc.response.status_code} unauthorized at {_short(url)}") from None
        dest.unlink(missing_ok=True)
        raise RegistryError(f"{what}: gave up after {self.attempts} attempts: {last_error}")

    def _download_locked(self, url, dest, partial, algo, expected, size, what, headers, on_unauthorized,
                         on_bytes) -> Path:
        integrity_failures = 0
        auth_retries = 0
        last_error = ""
        attempt = 0
        while attempt < self.attempts:
            attempt += 1
            try:
                got = self._attempt(url, partial, algo, size, headers, on_bytes)
            except TransientError as exc:
                last_error = str(exc)
                self.sleep(self.backoff * (2 ** (attempt - 1)) * (0.5 + random.random()))
                continue
            except _Unauthorized as exc:
                if on_unauthorized and auth_retries < 2 and on_unauthorized(exc.response):
                    auth_retries += 1
                    attempt -= 1
                    continue
                raise RegistryError(f"{what}: {exc.response.status_code} unauthorized at {_short(url)}") from None
            actual_size = partial.stat().st_size
            if got == expected and (size is None or actual_size == size):
                os.replace(partial, dest)
                return dest
            partial.unlink()
            integrity_failures += 1
            last_error = (f"digest mismatch (expected {algo}:{expected}, got {algo}:{got}, "
                          f"{actual_size} bytes)")
            if integrity_failures >= 2:
                raise IntegrityError(f"{what}: {last_error} from {_short(url)}")
        raise RegistryError(f"{what}: gave up after {self.attempts} attempts: {last_error}")

    def _attempt(self, url, partial: Path, algo, size, headers, on_bytes) -> str:
        """One request; returns the hex digest of the partial file when the body ended normally."""
        import requests

        have = partial.stat().st_size if partial.exists() else 0
        if size is not None and have > size:
            partial.unlink()
            have = 0
        if size is not None and have == size:
            return _hash_file(partial, algo)  # a previous attempt got every byte; only verification is left
        req_headers = dict(headers() if headers else {})
        if have:
            req_headers["Range"] = f"bytes={have}-"
        try:
            resp = self.session.get(url, headers=req_headers, stream=True, timeout=self.timeout)
        except requests.exceptions.RequestException as exc:
            raise TransientError(describe_network_error(exc)) from None
        with resp:
            if resp.status_code == 401:
                raise _Unauthorized(resp)
            if resp.status_code in TRANSIENT_STATUS:
                raise TransientError(f"HTTP {resp.status_code} from {_short(url)}")
            if resp.status_code == 416 and have:
                partial.unlink()  # our partial is not a prefix the server recognises; start over
                raise TransientError("range not satisfiable; restarting")
            if resp.status_code == 403:
                raise RegistryError(f"403 forbidden at {_short(url)}")
            if resp.status_code == 404:
                raise RegistryError(f"404 not found at {_short(url)}")
            if resp.status_code not in (200, 206):
                raise RegistryError(f"unexpected HTTP {resp.status_code} at {_short(url)}")
            resuming = resp.status_code == 206 and have
            if not resuming and have and on_bytes:
                on_bytes(-have)  # the server ignored our Range: the bytes we counted will come again
            # Hash as the bytes arrive; a resumed download first hashes the prefix it already has.
            hasher = _hasher(partial if resuming else None, algo)
            try:
                # Never opened with O_TRUNC: ext4 writes a file truncated to zero out to disk as soon as it is
                # closed (auto_da_alloc), which doubled the build's disk traffic and its final fsync's wait.
                with open(partial, "ab") as out:
                    if have and not resuming:
                        out.truncate(0)
                    for block in resp.iter_content(CHUNK):
                        out.write(block)
                        hasher.update(block)
                        if on_bytes:
                            on_bytes(len(block))
            # requests' exceptions are OSErrors too, so they must be caught first.
            except requests.exceptions.RequestException as exc:
                raise TransientError(describe_network_error(exc)) from None
            except OSError as exc:
                if exc.errno == errno.ENOSPC:
                    raise SpaceError(f"disk full while writing {partial}") from None
                raise
        return hasher.hexdigest()


class _Unauthorized(Exception):
    def __init__(self, response: requests.Response):
        self.response = response


def _hasher(prefix: Path | None, algo: str):
    if algo not in ("sha256", "sha512"):
        raise BundleError(f"unsupported checksum algorithm {algo!r} (use sha256 or sha512)")
    h = hashlib.new(algo)
    if prefix is not None:
        with open(prefix, "rb") as f:
            while block := f.read(CHUNK):
                h.update(block)
    return h


def _hash_file(path: Path, algo: str) -> str:
    return _hasher(path, algo).hexdigest()


def _short(url: str) -> str:
    return url if len(url) < 120 else url[:117] + "..."


def new_session() -> requests.Session:
    """wire-bundle's HTTP session: connection pools sized for parallel downloads, its own User-Agent."""
    import requests

    session = requests.Session()
    adapter = requests.adapters.HTTPAdapter(pool_connections=16, pool_maxsize=32)
    session.mount("https://", adapter)
    session.mount("http://", adapter)
    session.headers["User-Agent"] = "wire-bundle"
    return session


class LazyHttp:
    """A session and the Downloader over it, made on the first request: a build from a warm cache makes none, and
    so never loads requests (with urllib3, about a third of a build's imports)."""

    def __init__(self, session: requests.Session | None = None):
        self._session = session
        self._downloader: Downloader | None = None
        self._made = threading.Lock()

    @property
    def session(self) -> requests.Session:
        with self._made:
            if self._session is None:
                self._session = new_session()
            return self._session

    @property
    def downloader(self) -> Downloader:
        with self._made:
            if self._downloader is None:
                self._downloader = Downloader(lambda: self.session)
            return self._downloader


class HttpUser:
    """A client whose session and downloader come from its `_http` (a LazyHttp), made on its first request."""

    _http: LazyHttp

    @property
    def session(self) -> requests.Session:
        return self._http.session

    @property
    def downloader(self) -> Downloader:
        return self._http.downloader
