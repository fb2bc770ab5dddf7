"""Bundles read back and rewritten by the tests.

A built bundle is read with bundler's own streaming reader (`bundler.bundle.archive.iter_members`), so a test that
reads one also proves it is a readable bundle; the writers below make the archives a test tampers with.

    members = read_tar(archive)           # [(TarInfo, bytes)] in archive order
    name = flip_largest_blob(archive)     # one bit changed inside the largest image blob, re-packed
    write_tar(archive, members)           # a tar.zst again (the signature then no longer matches)
    unpacked_tree(dest) == unpacked_tree(other)   # two unpacked bundles hold the same files, byte for byte
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import tarfile
from pathlib import Path

import zstandard

from bundler.bundle.archive import iter_members
from bundler.bundle.unpack import MARKER


def read_tar(archive: Path) -> list[tuple[tarfile.TarInfo, bytes]]:
    return [(m.info, b"".join(m.chunks)) for m in iter_members(archive)]


def unpacked_tree(root: Path) -> dict[str, str]:
    """Every file of an unpacked bundle (but unpack's own marker) by relative path: its sha256."""
    return {p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file() and p.name != MARKER}


def members(archive: Path) -> dict[str, bytes]:
    return {info.name: data for info, data in read_tar(archive)}


def member(archive: Path, name: str) -> bytes:
    """One member's bytes; the archive is read only up to it."""
    for m in iter_members(archive):
        if m.name == name:
            return b"".join(m.chunks)
        for _ in m.chunks:
            pass
    raise KeyError(name)


def bundle_json(archive: Path) -> dict:
    """bundle.json as the document on disk (bundler's reader hands back its typed head instead)."""
    return json.loads(member(archive, "bundle.json"))


def extract(archive: Path, dest: Path, *, prefix: str = "") -> list[Path]:
    """The regular members under `prefix` written below `dest` without it (modes as tarfile's "data" filter
    leaves them); returns their paths."""
    written = []
    for m in iter_members(archive):
        if not (m.info.isfile() and m.name.startswith(prefix)):
            for _ in m.chunks:
                pass
            continue
        path = dest / m.name.removeprefix(prefix)
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(path, "wb") as f:
            for chunk in m.chunks:
                f.write(chunk)
        path.chmod(m.info.mode & 0o755)
        written.append(path)
    return written


def unzstd(archive: Path) -> bytes:
    """The whole decompressed stream, every frame: for rewriting an archive, not for trusting it."""
    with open(archive, "rb") as f, zstandard.ZstdDecompressor().stream_reader(f, read_across_frames=True) as zr:
        return zr.read()


def tar_bytes(entries: list[tuple[tarfile.TarInfo, bytes]], fmt: int = tarfile.PAX_FORMAT) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=fmt) as tar:
        for info, data in entries:
            if info.isreg():
                info.size = len(data)
            tar.addfile(info, io.BytesIO(data) if info.isreg() else None)
    return buf.getvalue()


def zst(data: bytes, *, level: int = 3, checksum: bool = True) -> bytes:
    return zstandard.ZstdCompressor(level=level, write_checksum=checksum).compress(data)


def write_tar(archive: Path, entries: list[tuple[tarfile.TarInfo, bytes]]) -> None:
    archive.write_bytes(zst(tar_bytes(entries), checksum=False))


def flip_largest_blob(archive: Path, mask: int = 0xFF) -> str:
    """XOR `mask` into the middle byte of the archive's largest image blob and write it back; returns its name."""
    entries = read_tar(archive)
    i = max((i for i, (m, _) in enumerate(entries) if m.name.startswith("images/blobs/")),
            key=lambda i: len(entries[i][1]))
    data = bytearray(entries[i][1])
    data[len(data) // 2] ^= mask
    entries[i] = (entries[i][0], bytes(data))
    write_tar(archive, entries)
    return entries[i][0].name


def tgz(files: dict[str, tuple[bytes, int]]) -> bytes:
    """A reproducible .tar.gz of name -> (content, mode): the same bytes on every run."""
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w") as tar:
        for name, (data, mode) in files.items():
            ti = tarfile.TarInfo(name)
            ti.size, ti.mode, ti.mtime = len(data), mode, 1700000000
            tar.addfile(ti, io.BytesIO(data))
    return gzip.compress(raw.getvalue(), mtime=0)  # gzip's header holds a time otherwise


def tgz_member(tgz: Path, name: str) -> bytes:
    """One file of a .tgz (a chart package, a release tarball)."""
    with tarfile.open(tgz) as tar:
        f = tar.extractfile(name)
        if f is None:
            raise KeyError(f"{tgz}: {name} is not a file")
        return f.read()
