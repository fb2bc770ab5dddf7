"""Fixtures for the Debian package tests: the real Debian archive, reached the way this machine's apt is set up.

Downloads are kept in a persistent cache (WIRE_BUNDLE_TEST_CACHE, default /var/cache/wire-bundle-tests) so a
rerun resolves again (apt-get update is incremental) but fetches nothing it already has.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from bundler.bundle import gpg
from tests.kinds.debs.island import CACHE
from tests.support import specs
from tests.support.specs import bookworm_debs


@dataclass
class DebsContext:
    __test__ = False

    cache_dir: Path
    work_dir: Path
    jobs: int = 2
    helm: str | None = None
    discovered_images: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    messages: list[str] = field(default_factory=list)

    def progress(self, label: str, total_bytes: int | None = None) -> Any:
        return _Progress()

    def log(self, message: str) -> None:
        self.messages.append(message)

    def warn(self, message: str) -> None:
        self.messages.append("warning: " + message)


class _Progress:
    def __enter__(self) -> _Progress:
        return self

    def __exit__(self, *exc: object) -> None:
        pass

    def advance(self, n: int) -> None:
        pass


def write_spec(path: Path, packages: list[str], *, sources: list[dict] | None = None, name: str = "debs-test",
               **debs: Any) -> Path:
    return specs.write_spec(path, name=name, debs=bookworm_debs(packages, sources=sources, **debs))


@pytest.fixture(scope="session")
def debs_cache() -> Path:
    """Persistent across runs: the apt roots (lists), the .debs by sha256 and the bundle signing key."""
    path = CACHE / "debs-cache"
    path.mkdir(parents=True, exist_ok=True)
    return path


@pytest.fixture
def ctx(debs_cache: Path, tmp_path: Path) -> DebsContext:
    work = tmp_path / "work"
    work.mkdir()
    return DebsContext(cache_dir=debs_cache, work_dir=work)


@pytest.fixture(scope="session")
def other_key(tmp_path_factory) -> gpg.SigningKey:
    """A second archive key, made like the bundle's: what a forged or foreign repository is signed with."""
    return gpg.cached_key(tmp_path_factory.mktemp("other-key"), log=lambda m: None)


@pytest.fixture
def needs_root() -> None:
    if os.geteuid() != 0:
        pytest.skip("needs root (debootstrap, mount and network namespaces)")
