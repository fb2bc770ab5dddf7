"""The bundle archive: one deterministic tar, zstd-compressed, written and read in a single streaming pass.

Members: `bundle.json` first (what the bundle holds, so `inspect` reads only the head), `checksums.sha256`
second (checkable with `sha256sum -c` after extraction), then every artifact sorted by path, and last the
signature over checksums.sha256 (made while the artifacts are written). Every member has the same mtime (the
lock's), uid/gid 0 and mode 0644, so two builds from one lock give the same bytes.
"""

from __future__ import annotations

import concurrent.futures
import errno
import hashlib
import json
import os
import tarfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

import zstandard

from bundler.artifacts import Artifact
from bundler.errors import BundleError, IntegrityError, SpaceError
from bundler.tarstream import CHUNK, OUT_CHUNK, HashingFileSink, HashingReadAhead, TarReader, TarWriter, fsync

BUNDLE_JSON = "bundle.json"
CHECKSUMS = "checksums.sha256"
SIGNATURE = "checksums.sha256.asc"  # not listed in checksums.sha256: it signs that file
FORMAT = "wire-bundle/1"


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
    `sign(checksums)` returns a detached signature, stored as the last member; it runs on a thread of its own
    while the artifacts are written.
    """
    artifacts = unique_artifacts(artifacts)
    bundle_json = (json.dumps(metadata, indent=1, sort_keys=True) + "\n").encode()
    lines = [f"{hashlib.sha256(bundle_json).hexdigest()}  {BUNDLE_JSON}"]
    lines += [f"{a.digest.split(':', 1)[1]}  {a.path}" for a in artifacts]
    checksums = ("\n".join(lines) + "\n").encode()

    output.parent.mkdir(parents=True, exist_ok=True)
    partial = output.with_name(output.name + ".partial")
    with concurrent.futures.ThreadPoolExecutor(max_workers=1, thread_name_prefix="sign") as signer:
        signature = signer.submit(sign, checksums) if sign else None
        try:
            with open(partial, "wb") as raw:
                sink = HashingFileSink(raw)
                try:
                    # Multi-threaded zstd output does not depend on the thread count: the bytes stay reproducible.
                    cctx = zstandard.ZstdCompressor(level=level, threads=-1, write_checksum=True)
                    with cctx.stream_writer(sink, closefd=False, write_size=OUT_CHUNK) as zw:
                        tar = TarWriter(zw)
                        tar.add_bytes(BUNDLE_JSON, bundle_json, mtime)
                        tar.add_bytes(CHECKSUMS, checksums, mtime)
                        for a in artifacts:
                            _add_artifact(tar, a, mtime, on_bytes, wait, verify=a.path not in fresh)
                        if signature is not None:
                            tar.add_bytes(SIGNATURE, signature.result(), mtime)
                        tar.close()
                finally:
                    sink.finish()
                fsync(raw)
            os.replace(partial, output)
        except OSError as exc:
            partial.unlink(missing_ok=True)
            if exc.errno == errno.ENOSPC:
                raise SpaceError(f"disk full while writing {output}") from None
            raise
        except BaseException:
            partial.unlink(missing_ok=True)
            if signature is not None:
                signature.cancel()
            raise
    file_sha256 = sink.hash.hexdigest()
    sidecar = output.with_name(output.name + ".sha256")
    sidecar.write_text(f"{file_sha256}  {output.name}\n")
    return WriteResult(output, output.stat().st_size, file_sha256,
                       content_digest(checksums), len(artifacts) + 2 + (signature is not None))


def _add_artifact(tar: TarWriter, a: Artifact, mtime: int, on_bytes: Callable[[int], None] | None,
                  wait: Callable[[Artifact], None] | None, verify: bool) -> None:
    if wait:
        wait(a)
    h = hashlib.sha256() if verify else None

    def seen(chunk: memoryview) -> None:
        if h is not None:
            h.update(chunk)
        if on_bytes:
            on_bytes(len(chunk))

    with open(a.source, "rb") as f:
        tar.add_file(a.path, f, a.size, mtime, seen)
    if h is not None and "sha256:" + h.hexdigest() != a.digest:
        raise IntegrityError(f"{a.source} changed since it was verified ({a.path}); remove it and build again")


# --- reading ------------------------------------------------------------------------------------------------


def _check_member_name(name: str) -> None:
    p = PurePosixPath(name)
    if not name or p.is_absolute() or ".." in p.parts or name != p.as_posix() or "\\" in name:
        raise IntegrityError(f"unsafe member path {name!r}")


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
    file_reader = HashingReadAhead(raw, on_bytes)
    try:
        dctx = zstandard.ZstdDecompressor()
        with dctx.stream_reader(file_reader, read_across_frames=True, read_size=CHUNK) as zr:
            for info, data in TarReader(zr).members():
                last = info.name
                yield Member(info.name, info.size, info, data)
            # Drain the rest of the stream (end-of-archive records) so the file hash covers every byte.
            while zr.read(CHUNK):
                pass
        file_reader.drain()
    except (zstandard.ZstdError, tarfile.TarError, EOFError, OSError) as exc:
        raise IntegrityError(
            f"{path}: archive is truncated or corrupt after member {last!r} ({type(exc).__name__}: "
            f"{str(exc)[:120] or 'unexpected end'})"
        ) from None
    finally:
        file_reader.close()
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
