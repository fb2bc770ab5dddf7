"""Image references as Docker and containerd read them: [registry/]repository[:tag][@digest]."""

from __future__ import annotations

import re
from dataclasses import dataclass

from bundler.errors import BundleError

DEFAULT_REGISTRY = "docker.io"
# Docker's own API host for docker.io; the name in the bundle stays docker.io.
DOCKER_HUB_API = "registry-1.docker.io"

_COMPONENT = r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*"
_REPO_RE = re.compile(rf"^{_COMPONENT}(?:/{_COMPONENT})*$")
_TAG_RE = re.compile(r"^[\w][\w.-]{0,127}$")
_DIGEST_RE = re.compile(r"^sha256:[a-f0-9]{64}$")
_HOST_RE = re.compile(r"^(?:[a-zA-Z0-9-]+(?:\.[a-zA-Z0-9-]+)*|\[[0-9a-fA-F:]+\])(?::[0-9]+)?$")


class InvalidReference(BundleError, ValueError):
    """Also a ValueError so that spec validation reports it at the key where it stands."""


@dataclass(frozen=True, order=True)
class Reference:
    registry: str
    repository: str
    tag: str | None = None
    digest: str | None = None

    @property
    def name(self) -> str:
        return f"{self.registry}/{self.repository}"

    def __str__(self) -> str:
        s = self.name
        if self.tag:
            s += f":{self.tag}"
        if self.digest:
            s += f"@{self.digest}"
        return s

    def with_digest(self, digest: str) -> Reference:
        return Reference(self.registry, self.repository, self.tag, digest)


def parse_reference(text: str) -> Reference:
    """Parse and normalise a reference; `redis` becomes `docker.io/library/redis:latest`."""
    if not isinstance(text, str) or not text or text != text.strip():
        raise InvalidReference(f"invalid image reference {text!r}: empty or surrounded by spaces")
    rest, digest = text, None
    if "@" in rest:
        rest, digest = rest.split("@", 1)
        if not _DIGEST_RE.match(digest):
            raise InvalidReference(f"invalid image reference {text!r}: digest must be sha256:<64 hex>")
    tag = None
    last = rest.rsplit("/", 1)[-1]
    if ":" in last:
        rest, tag = rest.rsplit(":", 1)
        if not _TAG_RE.match(tag):
            raise InvalidReference(f"invalid image reference {text!r}: bad tag {tag!r}")
    parts = rest.split("/", 1)
    if len(parts) == 2 and ("." in parts[0] or ":" in parts[0] or parts[0] == "localhost"):
        registry, repository = parts
        if not _HOST_RE.match(registry):
            raise InvalidReference(f"invalid image reference {text!r}: bad registry host {registry!r}")
    else:
        registry, repository = DEFAULT_REGISTRY, rest
    if registry in ("index.docker.io", "registry-1.docker.io"):
        registry = DEFAULT_REGISTRY
    if registry == DEFAULT_REGISTRY and "/" not in repository:
        repository = f"library/{repository}"
    if not _REPO_RE.match(repository):
        raise InvalidReference(
            f"invalid image reference {text!r}: repository {repository!r} must be lowercase "
            "letters, digits and separators"
        )
    if tag is None and digest is None:
        tag = "latest"
    return Reference(registry, repository, tag, digest)
