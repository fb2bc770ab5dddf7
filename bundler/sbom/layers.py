"""Reading the few files an SBOM needs (package databases, os-release) out of one image layer, streaming the
blob the build already holds: decompressed on the fly, never copied to disk, with only the wanted files kept.

A layer is a tar of the files it adds or changes, plus whiteouts: `dir/.wh.NAME` removes NAME of the layers
below, `dir/.wh..wh..opq` empties dir of them (the OCI image spec's layer changesets).
"""

from __future__ import annotations

import hashlib
import tarfile
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import cast

import zstandard
from isal import igzip, isal_zlib

from bundler.bundle.tarstream import CHUNK, TarReader
from bundler.errors import IntegrityError
from bundler.sbom.ospkgs import apk, dpkg, rpm

OS_RELEASE = ("etc/os-release", "usr/lib/os-release")
WANTED = frozenset((dpkg.STATUS, apk.INSTALLED, *rpm.SQLITE_PATHS, *OS_RELEASE))
PRESENCE_ONLY = frozenset(rpm.UNREAD_PATHS)  # recognised, not read: only their presence is kept
FILE_MAX = 256 << 20  # an rpm SQLite database of a large image is tens of MiB; a dpkg status a few
# Layers are read in pieces under glibc malloc's mmap threshold (128 KiB), which reuses them: 1 MiB pieces cost a
# fresh mapping and its page faults each: 10-20% of the scan's CPU time on the benchmark's fixture.
PIECE = 64 << 10
WHITEOUT = ".wh."
OPAQUE = ".wh..wh..opq"
# Names what scan_layer keeps, for the scans the store keeps (bundler.sbom.scancache): a record made by another
# scanner is not used. The paths are part of it; bump the number when the reading changes in any other way.
SCANNER = "v1-" + hashlib.sha256(repr((sorted(WANTED), sorted(PRESENCE_ONLY), dpkg.STATUS_D, FILE_MAX)).encode()
                                 ).hexdigest()[:12]

_GZIP, _ZSTD = b"\x1f\x8b", b"\x28\xb5\x2f\xfd"
_INFLATE_ERROR = cast(type[Exception], isal_zlib.error)  # isal's stubs declare it an instance


def wanted(path: str) -> bool:
    return path in WANTED or path in PRESENCE_ONLY or dpkg.is_status_d_entry(path)


@dataclass
class LayerScan:
    """What one layer says about the wanted files."""

    files: dict[str, bytes] = field(default_factory=dict)  # path -> content (b"" for presence-only files)
    links: dict[str, str] = field(default_factory=dict)  # path -> symlink target (os-release is often one)
    removed: list[str] = field(default_factory=list)  # whiteouts: paths of lower layers removed
    opaque: list[str] = field(default_factory=list)  # directories emptied of lower layers' files

    def touches(self, prefix: str) -> bool:
        return (any(p.startswith(prefix) for p in self.files) or any(p.startswith(prefix) for p in self.removed)
                or any(prefix.startswith(d + "/") for d in self.opaque + self.removed))


def _normal(name: str) -> str:
    # Nearly every member name is already plain: pathlib for all of them was a fifth of a scan's CPU time.
    if name and name[0] not in "./" and "//" not in name and "/." not in name and not name.endswith("/"):
        return name
    return PurePosixPath("/" + name).as_posix().lstrip("/")


def _open(raw):
    head = raw.peek(4)[:4] if hasattr(raw, "peek") else b""
    if head.startswith(_GZIP):
        # ISA-L's inflate: the SBOM's cost is mostly inflating layers, and a layer's scan takes 1.6x (many text
        # files) to 3.7x (incompressible bytes) less CPU than with Python's zlib (docs/sbom.md, "Cost")
        return igzip.GzipFile(fileobj=raw, mode="rb")
    if head.startswith(_ZSTD):
        return zstandard.ZstdDecompressor().stream_reader(raw, read_across_frames=True, read_size=CHUNK)
    return raw  # an uncompressed tar layer


def scan_layer(path: Path, digest: str) -> LayerScan:
    """Stream the layer at `path` once; IntegrityError names the layer when it is not a readable tar."""
    out = LayerScan()
    try:
        # The default buffer, not CHUNK: the inflater reads its own large pieces, and a large buffer in between
        # only adds a copy of every byte.
        with open(path, "rb") as raw:
            stream = _open(raw)
            reader = TarReader(stream, gnu_long_names=True, chunk=PIECE)
            for info, chunks in reader.members():
                name = _normal(info.name)
                base = name.rpartition("/")[2]
                if base.startswith(WHITEOUT):
                    parent = str(PurePosixPath(name).parent).lstrip(".")
                    if base == OPAQUE:
                        out.opaque.append(parent)
                    else:
                        out.removed.append(f"{parent}/{base[len(WHITEOUT):]}".lstrip("/"))
                    continue
                if not wanted(name):
                    continue
                if info.issym() or info.islnk():
                    # a hard link names its target from the layer's root, a symlink from its own directory
                    out.links[name] = info.linkname if info.issym() else "/" + info.linkname
                elif info.isfile():
                    if info.size > FILE_MAX:
                        raise IntegrityError(f"layer {digest}: {name} is {info.size} bytes, more than the "
                                             f"{FILE_MAX} an SBOM reads")
                    out.files[name] = b"" if name in PRESENCE_ONLY else _read(chunks, FILE_MAX)
    except (OSError, EOFError, tarfile.TarError, zstandard.ZstdError, _INFLATE_ERROR, ValueError) as exc:
        raise IntegrityError(f"layer {digest}: not a readable tar layer ({type(exc).__name__}: "
                             f"{str(exc)[:120]})") from None
    return out


def _read(chunks, limit: int) -> bytes:
    data = bytearray()
    for c in chunks:
        data += c
        if len(data) > limit:
            raise ValueError(f"a member larger than {limit} bytes")
    return bytes(data)

