"""Bundle specs for the tests: one writer, and the pieces several kinds' tests share.

    write_spec(tmp / "s.yaml", name="debs-test", debs=bookworm_debs(["coturn"]))
    write_spec(tmp / "s.yaml", files=pinned_files(server.url, {"a/b.tgz": data}))
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import Any

import yaml

# Kept across runs (debs, wheels, the debootstrap root): the real downloads are slow, the content is pinned.
CACHE = Path(os.environ.get("WIRE_BUNDLE_TEST_CACHE", "/var/cache/wire-bundle-tests"))
DEBIAN_KEYRING = "/usr/share/keyrings/debian-archive-keyring.gpg"
BOOKWORM_SOURCES = [
    {"uri": "http://deb.debian.org/debian", "suites": ["bookworm", "bookworm-updates"], "signed_by": DEBIAN_KEYRING},
    {"uri": "http://deb.debian.org/debian-security", "suites": ["bookworm-security"], "signed_by": DEBIAN_KEYRING},
]


def write_spec(path: Path, *, name: str = "test", **sections: Any) -> Path:
    """A version-1 spec named `name` with `sections` (images, charts, debs, files, ...) in the order given."""
    spec = {"version": 1, "name": name, **sections}
    path.write_text(yaml.safe_dump(spec, sort_keys=False))
    return path


def bookworm_debs(packages: list[str], *, sources: list[dict] | None = None, **debs: Any) -> dict:
    """A debs section: `packages` from Debian bookworm (with its updates and security suites)."""
    target = {"name": "bookworm", "suite": "bookworm", "sources": sources or BOOKWORM_SOURCES}
    return {"targets": [target], "packages": packages, **debs}


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def pinned_files(base_url: str, files: dict[str, bytes]) -> list[dict]:
    """A files section: each bundle path fetched from `base_url/path`, pinned to its content's sha256."""
    return [{"url": f"{base_url}/{path}", "path": path, "sha256": sha256(data)} for path, data in sorted(files.items())]


def write_spec_text(path: Path, body: str) -> Path:
    """A version-1 spec whose rest is `body` as written: for YAML a dict cannot hold (bad input, comments)."""
    path.write_text("version: 1\n" + body)
    return path
