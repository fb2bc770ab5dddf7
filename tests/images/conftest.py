"""Helpers for the image-path tests: write a spec, run the real CLI, read an archive back."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import tarfile
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml
import zstandard


@dataclass
class Run:
    rc: int
    out: str
    err: str


def run_cli(*args: str, env: dict | None = None, timeout: int = 300) -> Run:
    proc = subprocess.run(
        [sys.executable, "-m", "bundler.cli", *map(str, args)],
        capture_output=True, text=True, timeout=timeout, env={**os.environ, **(env or {})},
    )
    return Run(proc.returncode, proc.stdout, proc.stderr)


def write_spec(path: Path, refs: list, registries: dict, **images: object) -> Path:
    spec = {"version": 1, "name": "test", "registries": registries, "images": {"refs": refs, **images}}
    path.write_text(yaml.safe_dump(spec, sort_keys=False))
    return path


def unzstd(archive: Path) -> bytes:
    with open(archive, "rb") as f, zstandard.ZstdDecompressor().stream_reader(f, read_across_frames=True) as zr:
        return zr.read()


def read_tar(archive: Path) -> list[tuple[tarfile.TarInfo, bytes]]:
    raw = unzstd(archive)
    out = []
    with tarfile.open(fileobj=io.BytesIO(raw), mode="r:") as tar:
        for m in tar:
            out.append((m, tar.extractfile(m).read()))
    return out


def write_tar(archive: Path, members: list[tuple[tarfile.TarInfo, bytes]]) -> None:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for info, data in members:
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    archive.write_bytes(zstandard.ZstdCompressor().compress(buf.getvalue()))


def bundle_json(archive: Path) -> dict:
    for info, data in read_tar(archive):
        if info.name == "bundle.json":
            return json.loads(data)
    raise AssertionError("no bundle.json")


@pytest.fixture
def cache(tmp_path: Path) -> Path:
    return tmp_path / "cache"


@pytest.fixture(scope="session", autouse=True)
def bundle_sign_key(tmp_path_factory) -> Path:
    """One signing key for the session's builds (RSA key generation costs seconds), passed as builds' default."""
    from bundler.kinds.debs.gpg import cached_key

    key = cached_key(tmp_path_factory.mktemp("signing"), log=lambda *_: None)
    path = tmp_path_factory.getbasetemp() / "bundle-key.asc"
    path.write_bytes(key.secret)
    os.environ["WIRE_BUNDLE_SIGN_KEY"] = str(path)
    path.with_suffix(".fpr").write_text(key.fingerprint)
    return path
