"""A tmpfs mounted for the length of a block: a small, full or read-only file system to build or unpack on
(root only, as the tests run in CI)."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


@contextmanager
def tmpfs(path: Path, options: str) -> Iterator[Path]:
    """`path` (made here) with a tmpfs of `options` (`size=2m`, `ro,size=1m`) mounted on it while the block runs."""
    path.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", options, "wire-bundle-test", str(path)], check=True,
                   capture_output=True)
    try:
        yield path
    finally:
        subprocess.run(["umount", str(path)], check=False)
