"""The bundle archive: one deterministic tar, zstd-compressed, written and read in a single streaming pass.

Members: `bundle.json` first (what the bundle holds, so `inspect` reads only the head), `checksums.sha256`
second (checkable with `sha256sum -c` after extraction), its signature third, then every artifact sorted by
path. Every member has
the same mtime (the lock's), uid/gid 0 and mode 0644, so two builds from one lock give the same bytes.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import tarfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import BinaryIO

import zstandard

from bundler.artifacts import Artifact
from bundler.errors import BundleError, IntegrityError, SpaceError

BUNDLE_JSON = "bundle.json"
CHECKSUMS = "checksums.sha256"
SIGNATURE = "checksums.sha256.asc"  # not listed in checksums.sha256: it signs that file
FORMAT = "wire-bundle/1"
CHUNK = 1 << 20


class _HashingWriter(io.RawIOBase):
    def __init__(self, inner: BinaryIO):
        self.inner = inner
        self.hash = hashlib.sha256()

    def writable(self) -> bool:
        return True

    def write(self, data) -> int:  # type: ignore[override]
        self.hash.update(data)
        self.inner.write(data)
        return len(data)


class _VerifyingReader(io.RawIOBase):
    """Reads an artifact's source for the tar while checking it is still the content we verified."""

    def __init__(self, artifact: Artifact, on_bytes: Callable[[int], None] | None, verify: bool = True):
        self.artifact = artifact
        self.f = open(artifact.source, "rb")  # noqa: SIM115 - closed by close()
        self.hash = hashlib.sha256()
        self.on_bytes = on_bytes
        self.verify = verify

    def readable(self) -> bool:
        return True

    def read(self, n: int = -1) -> bytes:
        data = self.f.read(n)
        if self.verify:
            self.hash.update(data)
        if self.on_bytes:
            self.on_bytes(len(data))
        return data

    def close(self) -> None:
        self.f.close()
        super().close()


@dataclass
class WriteResult:
    path: Path
    size: int
    file_sha256: str
    content_digest: str
    members: int


def content_digest(checksums: bytes) -> str:
    """What a bundle holds, independent of compression: checksums.sha256 names every member and its sha256."""
    return "sha256:" + hashlib.sha256(checksums).hexdigest()


def _tarinfo(name: str, size: int, mtime: int) -> tarfile.TarInfo:
    ti = tarfile.TarInfo(name)
    ti.size = size
    ti.mtime = mtime
    ti.mode = 0o644
    ti.uid = ti.gid = 0
    ti.uname = ti.gname = ""
    return ti


def unique_artifacts(artifacts: list[Artifact]) -> list[Artifact]:
    by_path: dict[str, Artifact] = {}
    for a in artifacts:
        _check_member_name(a.path)
        old = by_path.get(a.path)
        if old is not None and old.digest != a.digest:
            raise BundleError(f"two different artifacts want the archive path {a.path} ({old.origin}, {a.origin})")
        by_path.setdefault(a.path, a)
    return sorted(by_path.values(), key=lambda a: a.path)


def write_archive(
    output: Path,
    metadata: dict,
    artifacts: list[Artifact],
    mtime: int,
    level: int = 1,
    on_bytes: Callable[[int], None] | None = None,
    wait: Callable[[Artifact], None] | None = None,
    fresh: frozenset[str] = frozenset(),
    sign: Callable[[bytes], bytes] | None = None,
) -> WriteResult:
    """`wait(artifact)` is called before each artifact is read: it blocks until a download has finished.

    Artifacts whose path is in `fresh` were hashed by this process as they arrived moments ago; every other
    source (the cache from earlier builds, generated files) is hashed again as it streams into the tar.
    `sign(checksums)` returns a detached signature, stored as the third member.
    """
    artifacts = unique_artifacts(artifacts)
    bundle_json = (json.dumps(metadata, indent=1, sort_keys=True) + "\n").encode()
    lines = [f"{hashlib.sha256(bundle_json).hexdigest()}  {BUNDLE_JSON}"]
    lines += [f"{a.digest.split(':', 1)[1]}  {a.path}" for a in artifacts]
    checksums = ("\n".join(lines) + "\n").encode()
    signature = sign(checksums) if sign else None

    output.parent.mkdir(parents=True, exist_ok=True)
    partial = output.with_name(output.name + ".partial")
    file_hash = hashlib.sha256()
    try:
        with open(partial, "wb") as raw:
            file_writer = _HashingWriter(raw)
            # Multi-threaded zstd output does not depend on the thread count, so the bytes stay reproducible.
            cctx = zstandard.ZstdCompressor(level=level, threads=-1, write_checksum=True)
            with cctx.stream_writer(file_writer, closefd=False) as zw, \
                    tarfile.open(fileobj=zw, mode="w|", format=tarfile.PAX_FORMAT) as tar:
                tar.addfile(_tarinfo(BUNDLE_JSON, len(bundle_json), mtime), io.BytesIO(bundle_json))
                tar.addfile(_tarinfo(CHECKSUMS, len(checksums), mtime), io.BytesIO(checksums))
                if signature is not None:
                    tar.addfile(_tarinfo(SIGNATURE, len(signature), mtime), io.BytesIO(signature))
                for a in artifacts:
                    if wait:
                        wait(a)
                    reader = _VerifyingReader(a, on_bytes, verify=a.path not in fresh)
                    try:
                        tar.addfile(_tarinfo(a.path, a.size, mtime), reader)
                    finally:
                        reader.close()
                    if reader.verify and "sha256:" + reader.hash.hexdigest() != a.digest:
                        raise IntegrityError(
                            f"{a.source} changed since it was verified ({a.path}); remove it and build again"
                        )
            raw.flush()
            os.fsync(raw.fileno())
        file_hash = file_writer.hash
        os.replace(partial, output)
    except OSError as exc:
        partial.unlink(missing_ok=True)
        if exc.errno == 28:
            raise SpaceError(f"disk full while writing {output}") from None
        raise
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    sidecar = output.with_name(output.name + ".sha256")
    sidecar.write_text(f"{file_hash.hexdigest()}  {output.name}\n")
    return WriteResult(output, output.stat().st_size, file_hash.hexdigest(),
                       content_digest(checksums), len(artifacts) + 2 + (signature is not None))


# --- reading ------------------------------------------------------------------------------------------------


def _check_member_name(name: str) -> None:
    p = PurePosixPath(name)
    if not name or p.is_absolute() or ".." in p.parts or name != p.as_posix() or "\\" in name:
        raise IntegrityError(f"unsafe member path {name!r}")


class _CountingReader(io.RawIOBase):
    def __init__(self, inner: BinaryIO, on_bytes: Callable[[int], None] | None = None):
        self.inner = inner
        self.hash = hashlib.sha256()
        self.on_bytes = on_bytes

    def readable(self) -> bool:
        return True

    def readinto(self, b) -> int:  # type: ignore[override]
        data = self.inner.read(len(b))
        n = len(data)
        b[:n] = data
        self.hash.update(data)
        if self.on_bytes:
            self.on_bytes(n)
        return n


@dataclass
class Member:
    name: str
    size: int
    info: tarfile.TarInfo
    chunks: Iterator[bytes]


@dataclass
class StreamState:
    file_hash: hashlib._Hash = field(default_factory=hashlib.sha256)


def iter_members(path: Path, state: StreamState | None = None,
                 on_bytes: Callable[[int], None] | None = None) -> Iterator[Member]:
    """Yield members in archive order; each member's chunks must be consumed before the next is read.

    `on_bytes` counts compressed bytes read from the file, so progress can be shown against its size.

    Raises IntegrityError when the stream is not a readable tar.zst (truncated, corrupt, not ours).
    """
    state = state or StreamState()
    try:
        raw = open(path, "rb")  # noqa: SIM115 - closed below
    except OSError as exc:
        raise BundleError(f"{path}: cannot open: {exc.strerror}") from None
    last = "(start)"
    try:
        file_reader = _CountingReader(raw, on_bytes)
        dctx = zstandard.ZstdDecompressor()
        with dctx.stream_reader(file_reader, read_across_frames=True) as zr, tarfile.open(fileobj=zr, mode="r|") as tar:
                for info in tar:
                    last = info.name
                    f = tar.extractfile(info) if info.isfile() else None

                    def chunks(f=f, info=info) -> Iterator[bytes]:
                        if f is None:
                            return
                        remaining = info.size
                        while remaining > 0:
                            data = f.read(min(CHUNK, remaining))
                            if not data:
                                raise EOFError
                            remaining -= len(data)
                            yield data

                    yield Member(info.name, info.size, info, chunks())
                # Drain the rest of the stream so the file hash covers every byte.
                while zr.read(CHUNK):
                    pass
        while file_reader.read(CHUNK):
            pass
    except (zstandard.ZstdError, tarfile.TarError, EOFError, OSError) as exc:
        raise IntegrityError(
            f"{path}: archive is truncated or corrupt after member {last!r} ({type(exc).__name__}: "
            f"{str(exc)[:120] or 'unexpected end'})"
        ) from None
    finally:
        raw.close()
    state.file_hash = file_reader.hash


def read_bundle_json(path: Path) -> dict:
    """Only the head of the archive: inspect does not need to read gigabytes."""
    for member in iter_members(path):
        if member.name != BUNDLE_JSON:
            raise IntegrityError(f"{path}: first member is {member.name!r}, not {BUNDLE_JSON}: not a wire-bundle")
        data = b"".join(member.chunks)
        try:
            meta = json.loads(data)
        except ValueError:
            raise IntegrityError(f"{path}: {BUNDLE_JSON} is not valid JSON") from None
        if meta.get("format") != FORMAT:
            raise IntegrityError(f"{path}: unknown bundle format {meta.get('format')!r} (this tool reads {FORMAT})")
        return meta
    raise IntegrityError(f"{path}: empty archive")


def parse_checksums(data: bytes) -> dict[str, str]:
    out: dict[str, str] = {}
    for n, line in enumerate(data.decode("utf-8", "replace").splitlines(), 1):
        hexpart, sep, name = line.partition("  ")
        if not sep or len(hexpart) != 64:
            raise IntegrityError(f"{CHECKSUMS} line {n} is malformed")
        out[name] = hexpart
    return out
