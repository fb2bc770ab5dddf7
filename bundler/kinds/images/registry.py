"""A daemonless client for OCI distribution registries (Docker Hub, quay.io, the CNCF registry, ...).

Speaks the pull half of the distribution API with requests: anonymous and bearer-token auth (the
WWW-Authenticate challenge flow), basic auth from ~/.docker/config.json, https by default and plain http only
for registries the spec names `insecure`, proxies from the environment (requests honours http(s)_proxy and
no_proxy). A `mirror` fetches a registry's images from another host while the bundle keeps the original name.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import re
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urljoin

from bundler.bundle.mediatypes import (
    DOCKER_LIST,
    DOCKER_MANIFEST,
    INDEX_TYPES,
    MANIFEST_TYPES,
    OCI_INDEX,
    OCI_MANIFEST,
)
from bundler.bundle.transport import HttpUser, LazyHttp, describe_network_error
from bundler.errors import RegistryError
from bundler.kinds.images.reference import DEFAULT_REGISTRY, DOCKER_HUB_API, Reference

if TYPE_CHECKING:
    import requests

ACCEPT = ", ".join([OCI_INDEX, DOCKER_LIST, OCI_MANIFEST, DOCKER_MANIFEST])
MAX_MANIFEST_BYTES = 4 << 20


@dataclass(frozen=True)
class Manifest:
    body: bytes
    media_type: str
    digest: str

    @property
    def size(self) -> int:
        return len(self.body)

    def json(self) -> dict:
        return json.loads(self.body)

    @property
    def is_index(self) -> bool:
        return self.media_type in INDEX_TYPES


@dataclass
class RegistrySettings:
    insecure: set[str] = field(default_factory=set)
    mirrors: dict[str, str] = field(default_factory=dict)
    credentials: dict[str, tuple[str, str]] = field(default_factory=dict)

    @classmethod
    def from_spec(cls, registries: dict, docker_config: Path | None = None) -> RegistrySettings:
        settings = cls(credentials=load_docker_credentials(docker_config))
        for host, conf in registries.items():
            if conf.insecure:
                settings.insecure.add(host)
            if conf.mirror:
                settings.mirrors[host] = conf.mirror
        return settings


def load_docker_credentials(path: Path | None = None) -> dict[str, tuple[str, str]]:
    if path is None:
        base = os.environ.get("DOCKER_CONFIG") or os.path.expanduser("~/.docker")
        path = Path(base) / "config.json"
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError:
        return {}
    except (OSError, ValueError) as exc:
        raise RegistryError(f"{path}: cannot read docker credentials: {exc}") from None
    creds: dict[str, tuple[str, str]] = {}
    for host, entry in (data.get("auths") or {}).items():
        host = re.sub(r"^https?://", "", host).split("/")[0]
        if host in ("index.docker.io", "registry-1.docker.io"):
            host = DEFAULT_REGISTRY
        if entry.get("auth"):
            user, _, password = base64.b64decode(entry["auth"]).decode().partition(":")
        elif entry.get("username"):
            user, password = entry["username"], entry.get("password", "")
        else:
            continue
        creds[host] = (user, password)
    return creds


class RegistryClient(HttpUser):
    def __init__(self, settings: RegistrySettings | None = None, session: requests.Session | None = None):
        self.settings = settings or RegistrySettings()
        self._http = LazyHttp(session)
        self._tokens: dict[tuple[str, str], str] = {}
        self._basic: set[str] = set()
        self._lock = threading.Lock()

    # --- endpoints ------------------------------------------------------------------------------------------

    def api_host(self, ref: Reference) -> str:
        host = self.settings.mirrors.get(ref.registry, ref.registry)
        return DOCKER_HUB_API if host == DEFAULT_REGISTRY else host

    def base_url(self, ref: Reference) -> str:
        host = self.settings.mirrors.get(ref.registry, ref.registry)
        scheme = "http" if host in self.settings.insecure else "https"
        return f"{scheme}://{self.api_host(ref)}/v2/{ref.repository}"

    def source_of(self, ref: Reference) -> str:
        """Where this image's bytes really come from, for bundle.json."""
        return f"{self.api_host(ref)}/{ref.repository}"

    # --- auth -----------------------------------------------------------------------------------------------

    def _credentials_for(self, ref: Reference) -> tuple[str, str] | None:
        host = self.settings.mirrors.get(ref.registry, ref.registry)
        return self.settings.credentials.get(host)

    def _headers(self, ref: Reference) -> dict[str, str]:
        host = self.api_host(ref)
        with self._lock:
            token = self._tokens.get((host, ref.repository))
            basic = host in self._basic
        if token:
            return {"Authorization": f"Bearer {token}"}
        creds = self._credentials_for(ref)
        if basic and creds:
            raw = base64.b64encode(f"{creds[0]}:{creds[1]}".encode()).decode()
            return {"Authorization": f"Basic {raw}"}
        return {}

    def _authenticate(self, ref: Reference, response: requests.Response) -> bool:
        """Answer a 401 challenge; True when a retry may now succeed.

        A retry is worth it exactly when the request that was refused carried other credentials than the ones
        a retry would send: under parallel fetches another worker may have answered the same challenge first,
        so "did this call change anything" is the wrong question (it left all but one worker refused).
        """
        self._answer_challenge(ref, response)
        sent = response.request.headers.get("Authorization") if response.request is not None else None
        return self._headers(ref).get("Authorization") != sent

    def _answer_challenge(self, ref: Reference, response: requests.Response) -> None:
        import requests

        challenge = response.headers.get("WWW-Authenticate", "")
        scheme, _, params_text = challenge.partition(" ")
        params = dict(re.findall(r'(\w+)="([^"]*)"', params_text))
        host = self.api_host(ref)
        creds = self._credentials_for(ref)
        if scheme.lower() == "basic":
            if not creds:
                raise RegistryError(f"{ref}: registry {host} wants a login (docker login / ~/.docker/config.json)")
            with self._lock:
                self._basic.add(host)
            return
        if scheme.lower() != "bearer" or "realm" not in params:
            raise RegistryError(f"{ref}: registry {host} sent an auth challenge this client cannot answer")
        query = {"service": params.get("service", "")}
        query["scope"] = params.get("scope") or f"repository:{ref.repository}:pull"
        try:
            resp = self.session.get(params["realm"], params=query, auth=creds, timeout=(15, 60))
        except requests.exceptions.RequestException as exc:
            raise RegistryError(f"{ref}: token service {params['realm']}: {describe_network_error(exc)}") from None
        if resp.status_code in (401, 403):
            what = "credentials were refused" if creds else "anonymous access was refused (log in first)"
            raise RegistryError(f"{ref}: {what} by {params['realm']} (HTTP {resp.status_code})")
        if resp.status_code != 200:
            raise RegistryError(f"{ref}: token service {params['realm']} answered HTTP {resp.status_code}")
        body = resp.json()
        token = body.get("token") or body.get("access_token")
        if not token:
            raise RegistryError(f"{ref}: token service {params['realm']} sent no token")
        with self._lock:
            self._tokens[(host, ref.repository)] = token

    def _get(self, ref: Reference, url: str, headers: dict[str, str], what: str) -> requests.Response:
        import requests

        for _ in range(3):
            try:
                resp = self.session.get(url, headers={**headers, **self._headers(ref)}, timeout=(15, 60))
            except requests.exceptions.RequestException as exc:
                host = self.api_host(ref)
                raise RegistryError(f"{ref}: registry {host} unreachable: {describe_network_error(exc)}") from None
            if resp.status_code == 401 and self._authenticate(ref, resp):
                continue
            return resp
        return resp

    # --- manifests and blobs --------------------------------------------------------------------------------

    def get_manifest(self, ref: Reference, digest: str | None = None) -> Manifest:
        """The manifest (or index) for ref's tag, or for `digest` / ref's digest, verified when pinned."""
        target = digest or ref.digest or ref.tag
        url = f"{self.base_url(ref)}/manifests/{target}"
        resp = self._retrying_get(ref, url, {"Accept": ACCEPT}, "manifest")
        _raise_for_status(ref, resp, f"manifest {target}")
        body = resp.content
        if len(body) > MAX_MANIFEST_BYTES:
            raise RegistryError(f"{ref}: manifest is {len(body)} bytes, larger than any real manifest")
        media_type = resp.headers.get("Content-Type", "").split(";")[0].strip()
        if not media_type or media_type in ("application/json", "text/plain"):
            try:
                media_type = json.loads(body).get("mediaType", "")
            except ValueError:
                media_type = ""
        if media_type not in INDEX_TYPES | MANIFEST_TYPES:
            if "schema1" in media_type or b'"schemaVersion": 1' in body[:200]:
                raise RegistryError(f"{ref}: Docker schema 1 manifests are not supported (re-push the image)")
            raise RegistryError(f"{ref}: unsupported manifest media type {media_type!r}")
        actual = "sha256:" + hashlib.sha256(body).hexdigest()
        expected = digest or ref.digest
        if expected and actual != expected:
            raise RegistryError(f"{ref}: manifest digest mismatch (expected {expected}, got {actual})")
        return Manifest(body, media_type, actual)

    def _retrying_get(self, ref: Reference, url: str, headers: dict[str, str], what: str) -> requests.Response:
        for attempt in range(5):
            resp = self._get(ref, url, headers, what)
            if resp.status_code not in (429, 500, 502, 503, 504):
                return resp
            self.downloader.sleep(0.3 * 2**attempt)
        return resp

    def list_tags(self, ref: Reference, max_pages: int = 50) -> list[str]:
        """Every tag of ref's repository, following the registry's `Link: <...>; rel="next"` pagination."""
        url = f"{self.base_url(ref)}/tags/list?n=1000"
        tags: list[str] = []
        for _ in range(max_pages):
            resp = self._retrying_get(ref, url, {"Accept": "application/json"}, "tags")
            _raise_for_status(ref, resp, "tag list")
            tags += resp.json().get("tags") or []
            m = re.search(r'<([^>]+)>\s*;\s*rel="?next"?', resp.headers.get("Link", ""))
            if not m:
                return tags
            url = urljoin(url, m.group(1))
        raise RegistryError(f"{ref.name}: more than {max_pages} pages of tags")

    def fetch_blob(
        self,
        ref: Reference,
        digest: str,
        size: int | None,
        dest: Path,
        on_bytes: Callable[[int], None] | None = None,
    ) -> Path:
        return self.downloader.download(
            f"{self.base_url(ref)}/blobs/{digest}",
            dest,
            digest=digest,
            size=size,
            what=f"{ref.name} blob {digest[:19]}",
            headers=lambda: self._headers(ref),
            on_unauthorized=lambda resp: self._authenticate(ref, resp),
            on_bytes=on_bytes,
        )


class NotFound(RegistryError):
    """The registry answered 404: no such repository, tag or manifest."""


def _raise_for_status(ref: Reference, resp: requests.Response, what: str) -> None:
    if resp.status_code == 200:
        return
    code = resp.status_code
    detail = ""
    try:
        errors = resp.json().get("errors") or []
        if errors:
            detail = f": {errors[0].get('code', '')} {errors[0].get('message', '')}".rstrip()
    except ValueError:
        pass
    if code == 404:
        raise NotFound(f"{ref}: {what} not found (HTTP 404{detail})")
    if code in (401, 403):
        raise RegistryError(f"{ref}: access denied to {what} (HTTP {code}{detail})")
    raise RegistryError(f"{ref}: registry answered HTTP {code} for {what}{detail}")


