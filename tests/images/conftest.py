"""Helpers for the image-path tests: write an images spec, run the real CLI (tests/support/cli.py) for its result."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.support import specs


def write_spec(path: Path, refs: list, registries: dict, **images: object) -> Path:
    return specs.write_spec(path, registries=registries, images={"refs": refs, **images})


@pytest.fixture
def cache(tmp_path: Path) -> Path:
    return tmp_path / "cache"


@pytest.fixture(scope="session", autouse=True)
def bundle_sign_key(tmp_path_factory) -> Path:
    """One signing key for the session's builds (RSA key generation costs seconds), passed as builds' default."""
    from bundler.debs.gpg import cached_key

    key = cached_key(tmp_path_factory.mktemp("signing"), log=lambda *_: None)
    path = tmp_path_factory.getbasetemp() / "bundle-key.asc"
    path.write_bytes(key.secret)
    os.environ["WIRE_BUNDLE_SIGN_KEY"] = str(path)
    path.with_suffix(".fpr").write_text(key.fingerprint)
    return path
