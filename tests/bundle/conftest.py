"""Helpers for the image-path tests: write an images spec; the CLI, archives and specs are tests/support's."""

from __future__ import annotations

from pathlib import Path

from tests.fixtures.builds import bundle_sign_key, cache  # noqa: F401  (fixtures for this directory)
from tests.support import specs


def write_spec(path: Path, refs: list, registries: dict, **images: object) -> Path:
    return specs.write_spec(path, registries=registries, images={"refs": refs, **images})
