"""The lock, bundle.json and the archive are byte-for-byte what they were: one fixed lock, one fixed key and a
seeded cache (tests/bundle/golden.py) give the archive whose sha256 was recorded before the lock and bundle.json
became typed models. A change to either file's keys, order or formatting, or to the archive's layout, fails here.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import pytest

from bundler.bundle.archive import BUNDLE_JSON, iter_members, parse_bundle_json
from bundler.bundle.build import Context, build
from bundler.bundle.lock import read_lock, write_lock
from bundler.bundle.progress import Reporter
from bundler.bundle.spec import load_spec
from bundler.bundle.unpack import bundle_identity
from tests.bundle.golden import FIXTURE, seed_cache

# First recorded from the dict-based code (commit 3f8ba22), before the typed models. Re-recorded when main's SBOM
# (a sbom.cdx.json member, an `sbom` key in bundle.json) changed the format: these are what main's dict-based code
# (946aeb3) builds from the same fixture, checked against it when merging.
ARCHIVE_SHA256 = "599672ba0a1e57196f1cec3e2b9c8bd760f7d1c4b9029a97232dec091f4f517d"
BUNDLE_JSON_SHA256 = "c6145a15d92867a53f12e0e42e70ea210d61694e9ea907ee4c749b52fcc2f585"


@pytest.fixture
def golden(tmp_path: Path):
    for name in ("golden.yaml", "golden.lock.json"):
        shutil.copy(FIXTURE / name, tmp_path / name)
    seed_cache(tmp_path / "cache")
    return load_spec(tmp_path / "golden.yaml")


def _build(loaded, tmp_path: Path, name: str) -> Path:
    work = tmp_path / f"work-{name}"
    work.mkdir()
    ctx = Context(cache_dir=tmp_path / "cache", work_dir=work, reporter=Reporter(quiet=True), jobs=2,
                  sign_key=FIXTURE / "signing-key.asc")
    out = tmp_path / f"{name}.tar.zst"
    build(loaded, out, ctx, locked=True)
    return out


def test_the_lock_is_written_back_byte_for_byte(tmp_path):
    out = tmp_path / "again.lock.json"
    write_lock(out, read_lock(FIXTURE / "golden.lock.json"))
    assert out.read_bytes() == (FIXTURE / "golden.lock.json").read_bytes()


def test_two_builds_from_one_lock_give_the_recorded_archive(golden, tmp_path):
    first, second = _build(golden, tmp_path, "first"), _build(golden, tmp_path, "second")
    digest = hashlib.sha256(first.read_bytes()).hexdigest()
    assert hashlib.sha256(second.read_bytes()).hexdigest() == digest
    for head in iter_members(first):
        assert head.name == BUNDLE_JSON
        raw = b"".join(head.chunks)
        assert hashlib.sha256(raw).hexdigest() == BUNDLE_JSON_SHA256
        break
    # Readers give back the document as it was read: unpack's marker identity is what it always was.
    parsed = parse_bundle_json(raw)
    assert parsed.to_json() == json.loads(raw)
    assert bundle_identity(parsed) == "sha256:" + hashlib.sha256(
        json.dumps(json.loads(raw), sort_keys=True).encode()).hexdigest()
    assert digest == ARCHIVE_SHA256
    # The build used the lock as it was: it is not rewritten.
    assert (tmp_path / "golden.lock.json").read_bytes() == (FIXTURE / "golden.lock.json").read_bytes()
