"""build --split: numbered parts smaller than the largest blob, read by verify and unpack without a joined copy.

The parts sit on a tmpfs (also TMPDIR) with room for the parts and 2 MiB (gpg's scratch home), not for a
joined copy. Mounting
needs root; without it the test says so and is skipped.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest

from tests.bundle.conftest import write_spec
from tests.support.archive import unpacked_tree
from tests.support.cli import run_cli

MIB = 1 << 20


def _build(work: Path, registry, image: str, name: str) -> Path:
    spec = write_spec(work / f"{name}.yaml", [f"{registry.host}/{image}"], {registry.host: {"insecure": True}})
    r = run_cli("build", spec, "-o", work / f"{name}.tar.zst", "--cache-dir", work / "cache", "--split", "1M")
    assert r.rc == 0, r.err
    assert "split into:" in r.out
    return work / f"{name}.tar.zst.parts.json"


@pytest.fixture(scope="module")
def split(tmp_path_factory, registry):
    from tests.support.images import ImageFactory

    f = ImageFactory("parts")
    work = tmp_path_factory.mktemp("parts")
    # A 3 MiB layer (incompressible): larger than a part.
    f.push(registry, "parts/big", f.image([f.layer("base", 200_000), f.layer("big", 3 * MIB)]), tag="1")
    f.push(registry, "parts/other", f.image([f.layer("base", 200_000), f.layer("other", 3 * MIB)]), tag="1")
    return _build(work, registry, "parts/big:1", "a"), _build(work, registry, "parts/other:1", "b")


@pytest.fixture(scope="module")
def served(split, tmp_path_factory):
    """Bundle a unpacked from its parts: the tree the broken-part cases try to replace."""
    dest = tmp_path_factory.mktemp("served") / "bundle"
    assert run_cli("unpack", split[0], "--to", dest).rc == 0
    return dest, unpacked_tree(dest)


@pytest.fixture
def tight(tmp_path):
    """A tmpfs the test sizes: `mount(size)` returns its path."""
    mounted = []

    def mount(size: int) -> Path:
        # A short path: gpg's sockets live in its home under TMPDIR, and a socket path has at most 107 bytes.
        where = Path(tempfile.mkdtemp(prefix="wb-parts-", dir="/tmp"))
        r = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(where)], capture_output=True)
        if r.returncode != 0:
            pytest.skip(f"cannot mount a tmpfs here (needs root): {r.stderr.decode()[:100]}")
        mounted.append(where)
        return where

    yield mount
    for where in mounted:
        subprocess.run(["umount", str(where)], check=False)
        where.rmdir()


def _parts(manifest: Path) -> list[Path]:
    return [manifest.parent / p["name"] for p in json.loads(manifest.read_text())["parts"]]


def test_parts_join_to_the_archive_and_are_read_in_place(split, tight, tmp_path):
    manifest, _ = split
    m = json.loads(manifest.read_text())
    parts = _parts(manifest)
    assert len(parts) >= 4 and all(p.stat().st_size <= MIB for p in parts)
    assert not manifest.with_name("a.tar.zst").exists()
    joined = hashlib.sha256(b"".join(p.read_bytes() for p in parts)).hexdigest()
    assert joined == m["sha256"] == manifest.with_name("a.tar.zst.sha256").read_text().split()[0]

    total = sum(p.stat().st_size for p in parts)
    room = 2 * MIB  # gpg's scratch home (TMPDIR) needs some; a joined copy needs more
    assert total > room
    media = tight(total + manifest.stat().st_size + room)
    for p in [manifest, *parts]:
        shutil.copy(p, media / p.name)
    env = {"TMPDIR": str(media)}
    r = run_cli("verify", media / manifest.name, env=env)
    assert r.rc == 0 and m["content_digest"] in r.out, r.err
    dest = tmp_path / "bundle"
    r = run_cli("unpack", media / manifest.name, "--to", dest, env=env)
    assert r.rc == 0, r.err
    plain = tmp_path / "a.tar.zst"
    plain.write_bytes(b"".join(p.read_bytes() for p in parts))
    assert run_cli("unpack", plain, "--to", tmp_path / "plain").rc == 0
    assert unpacked_tree(dest) == unpacked_tree(tmp_path / "plain")
    # diff (and build --base) read a split archive's head from its first part.
    r = run_cli("diff", manifest, split[1], "--json")
    assert r.rc == 0 and len(json.loads(r.out)["kinds"]["images"]["added"]) == 1, r.err


def _broken_copy(manifest: Path, where: Path, change) -> Path:
    where.mkdir()
    for p in [manifest, *_parts(manifest)]:
        shutil.copy(p, where / p.name)
    change(where)
    return where / manifest.name


def _swap(d: Path) -> None:
    a, b = d / "a.tar.zst.part002", d / "a.tar.zst.part003"
    a.rename(d / "tmp")
    b.rename(a)
    (d / "tmp").rename(b)


def _flip(d: Path) -> None:
    p = d / "a.tar.zst.part002"
    data = bytearray(p.read_bytes())
    data[len(data) // 2] ^= 0xFF
    p.write_bytes(bytes(data))


@pytest.mark.parametrize(("case", "expect"), [
    ("missing", "part 3 of"), ("truncated", "truncated"), ("reordered", "holds part 3's bytes: parts reordered"),
    ("damaged", "part 2 of"), ("mixed", "part 2 of"),
])
def test_bad_parts_are_named_and_the_tree_stays(split, served, tmp_path, case, expect):
    manifest, other = split
    dest, before = served  # every case must leave it as it is, so the cases share it
    change = {
        "missing": lambda d: (d / "a.tar.zst.part003").unlink(),
        "truncated": lambda d: os.truncate(d / "a.tar.zst.part002", 1000),
        "reordered": _swap,
        "damaged": _flip,
        "mixed": lambda d: shutil.copy(other.with_name("b.tar.zst.part002"), d / "a.tar.zst.part002"),
    }[case]
    broken = _broken_copy(manifest, tmp_path / "copy", change)
    for args in (["verify", broken], ["unpack", broken, "--to", dest, "--replace"]):
        r = run_cli(*args)
        assert r.rc == 1 and expect in r.err and "Traceback" not in r.err, (args[0], r.err)
        if case in ("damaged", "mixed"):
            assert "damaged, or a part of another build" in r.err
    assert unpacked_tree(dest) == before and not [p for p in dest.parent.iterdir() if p.name.startswith(".")]
