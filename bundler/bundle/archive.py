"""The bundle archive: one deterministic tar, zstd-compressed, written and read in a single streaming pass.

Members: `bundle.json` first (what the bundle holds, so `inspect` reads only the head), `checksums.sha256`
second (checkable with `sha256sum -c` after extraction), then the EARLY_MEMBERS (the SBOM), every other
artifact sorted by path, and last the signature over checksums.sha256 (made while the artifacts are written).
Every member has the same mtime (the lock's), uid/gid 0 and mode 0644, so two builds from one lock give the
same bytes.
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import errno
import hashlib
import json
import os
import stat
import tarfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import IO, Any, BinaryIO, cast

import zstandard
from pydantic import ValidationError

from bundler.bundle.artifacts import Artifact
from bundler.bundle.manifest import BundleHead, Manifest
from bundler.bundle.mediatypes import (
    BUNDLE_FORMAT,
    BUNDLE_JSON,
    CHECKSUMS,
    DELTA_JSON,
    DELTA_SIGNATURE,
    PUBLIC_KEY,
    SBOM,
    SIGNATURE,
)
from bundler.bundle.parts import PartsReader, is_parts_manifest
from bundler.bundle.tarstream import CHUNK, OUT_CHUNK, HashingFileSink, HashingReadAhead, TarReader, TarWriter, fsync
from bundler.bundle.zstdframe import FrameCheck
from bundler.errors import BundleError, IntegrityError, SpaceError

FORMAT = BUNDLE_FORMAT
# Small documents readers want without streaming the blobs (`wire-bundle sbom`): right after checksums.sha256.
EARLY_MEMBERS = frozenset({SBOM})


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


def head_bytes(metadata: Manifest, artifacts: list[Artifact]) -> tuple[bytes, bytes]:
    """bundle.json and checksums.sha256 as the archive holds them (artifacts as unique_artifacts returns them)."""
    bundle_json = metadata.dumps()
    return bundle_json, checksums_for(bundle_json, [(a.digest, a.path) for a in artifacts])


def checksums_for(bundle_json: bytes, artifacts: list[tuple[str, str]]) -> bytes:
    """checksums.sha256 follows from bundle.json's bytes and its artifacts' (digest, path), in path order."""
    lines = [f"{hashlib.sha256(bundle_json).hexdigest()}  {BUNDLE_JSON}"]
    lines += [f"{digest.split(':', 1)[1]}  {path}" for digest, path in artifacts]
    return ("\n".join(lines) + "\n").encode()


def unique_artifacts(artifacts: list[Artifact]) -> list[Artifact]:
    by_path: dict[str, Artifact] = {}
    for a in artifacts:
        check_member_name(a.path)
        old = by_path.get(a.path)
        if old is not None and old.digest != a.digest:
            raise BundleError(f"two different artifacts want the archive path {a.path} ({old.origin}, {a.origin})")
        by_path.setdefault(a.path, a)
    return sorted(by_path.values(), key=lambda a: (a.path not in EARLY_MEMBERS, a.path))


def write_archive(
    output: Path,
    metadata: Manifest,
    artifacts: list[Artifact],
    mtime: int,
    level: int = 1,
    on_bytes: Callable[[int], None] | None = None,
    wait: Callable[[Artifact], None] | None = None,
    fresh: frozenset[str] = frozenset(),
    sign: Callable[[bytes], bytes] | None = None,
    extra: tuple[tuple[str, bytes], ...] = (),
    leave_out: frozenset[str] = frozenset(),
    tail: Callable[[], tuple[tuple[str, bytes], ...]] = tuple,
) -> WriteResult:
    """`wait(artifact)` is called before each artifact is read: it blocks until a download has finished.

    Artifacts whose path is in `fresh` were hashed by this process as they arrived moments ago; every other
    source (the cache from earlier builds, generated files) is hashed again as it streams into the tar.
    `sign(checksums)` returns a detached signature, stored as the last member; it runs on a thread of its own
    while the artifacts are written.

    A delta bundle (bundler/bundle/delta.py) lists every artifact in checksums.sha256 but writes only those not
    in `leave_out`, with its `extra` members (its declaration) after checksums.sha256 and the `tail()` ones (the
    declaration's signature, made meanwhile) before the signature.
    """
    artifacts = unique_artifacts(artifacts)
    bundle_json, checksums = head_bytes(metadata, artifacts)

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
                    # The sink is file-like where zstandard looks: write() and flush().
                    with cctx.stream_writer(cast(IO[bytes], sink), closefd=False, write_size=OUT_CHUNK) as zw:
                        tar = TarWriter(zw)
                        tar.add_bytes(BUNDLE_JSON, bundle_json, mtime)
                        tar.add_bytes(CHECKSUMS, checksums, mtime)
                        for name, data in extra:
                            tar.add_bytes(name, data, mtime)
                        for a in (a for a in artifacts if a.path not in leave_out):
                            _add_artifact(tar, a, mtime, on_bytes, wait, verify=a.path not in fresh)
                        ends = tail()
                        for name, data in ends:
                            tar.add_bytes(name, data, mtime)
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
                       content_digest(checksums),
                       len(artifacts) - len(leave_out) + 2 + len(extra) + len(ends) + (signature is not None))


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


def check_member_name(name: str) -> None:
    p = PurePosixPath(name)
    if (not name or p.is_absolute() or ".." in p.parts or name != p.as_posix() or "\\" in name or "\0" in name
            or len(os.fsencode(name)) > 4096 or any(len(os.fsencode(part)) > 255 for part in p.parts)):
        raise IntegrityError(f"unsafe member path {name[:120]!r}")


@dataclass
class Member:
    name: str
    size: int
    info: tarfile.TarInfo
    chunks: Iterator[bytes]


@dataclass
class StreamState:
    file_hash: hashlib._Hash = field(default_factory=hashlib.sha256)
    file_bytes: int = 0


# What a reader holds in memory from an archive it has not yet verified: a hostile one gets one line, not gigabytes.
BUNDLE_JSON_MAX = 16 << 20  # Wire's full bundle.json is a few MiB (spec, lock, every artifact)
CHECKSUMS_MAX = 64 << 20  # ~90 bytes a member
SMALL_MAX = 1 << 20  # the signature, the public key
DELTA_JSON_MAX = 64 << 20  # one path a member taken from the base: Wire's full bundle has ~1,500
JSON_DEPTH_MAX = 64  # bundle.json nests about 8 deep
# Each member a reader keeps in memory, and the most bytes it may hold.
KEPT_MAX = {BUNDLE_JSON: BUNDLE_JSON_MAX, CHECKSUMS: CHECKSUMS_MAX, SIGNATURE: SMALL_MAX, PUBLIC_KEY: SMALL_MAX,
            DELTA_JSON: DELTA_JSON_MAX, DELTA_SIGNATURE: SMALL_MAX}


def read_kept(directory: Path, name: str) -> bytes | None:
    """Member `name` (one of KEPT_MAX) of an unpacked bundle or a staging directory; None when it is missing,
    unreadable or larger than it may be."""
    limit = KEPT_MAX[name]
    try:
        with open(directory / name, "rb") as f:
            data = f.read(limit + 1)
    except OSError:
        return None
    return data if len(data) <= limit else None


class _Stream:
    """Turns whatever the layers below raise while the archive streams into one IntegrityError naming the file,
    the member and the cause (truncated, corrupt, trailing data)."""

    def __init__(self, path: Path, reader: HashingReadAhead, frames: FrameCheck):
        self.path = path
        self.reader = reader
        self.frames = frames
        self.last = "(start)"
        self.source: object = None

    def error(self, exc: BaseException) -> IntegrityError:
        p = self.path
        explain = getattr(self.source, "explain", None)
        if explain is not None:  # a split archive: the part at fault, if one is
            self.reader.close()
            if (part := explain()) is not None:
                return IntegrityError(part)
        if isinstance(exc, EOFError):
            return IntegrityError(f"{p}: archive is truncated ({self.reader.consumed} bytes read): {exc}")
        if isinstance(exc, zstandard.ZstdError):
            return IntegrityError(f"{p}: archive is corrupt after member {self.last!r} ({str(exc)[:160]})")
        if isinstance(exc, tarfile.TarError | ValueError):
            return IntegrityError(f"{p}: archive is corrupt after member {self.last!r} (tar: {str(exc)[:160]})")
        if isinstance(exc, OSError):
            return IntegrityError(f"{p}: cannot read the archive: {exc.strerror or exc}")
        raise exc

    def guard(self, chunks: Iterator[bytes]) -> Iterator[bytes]:
        """A member's chunks are read by the caller, outside iter_members' own frame: errors are turned here."""
        try:
            yield from chunks
        except _STREAM_ERRORS as exc:
            raise self.error(exc) from None

    def check_frame(self) -> None:
        problem = self.frames.problem()
        if problem is None:
            return
        kind, what = problem
        if kind == "truncated":
            raise IntegrityError(f"{self.path}: archive is truncated ({self.frames.seen} bytes read): {what}")
        if kind == "trailing":
            raise IntegrityError(f"{self.path}: {what}")
        raise IntegrityError(f"{self.path}: archive is corrupt: {what}")


_STREAM_ERRORS = (zstandard.ZstdError, tarfile.TarError, EOFError, OSError, ValueError)


_NOT_REGULAR = ((stat.S_ISDIR, "a directory"), (stat.S_ISFIFO, "a FIFO (named pipe)"), (stat.S_ISSOCK, "a socket"),
                (stat.S_ISCHR, "a character device"), (stat.S_ISBLK, "a block device"))


def check_archive_file(path: Path) -> None:
    """Refuse at once, with one line, what cannot be an archive (a directory, FIFO, socket or device)."""
    open_archive(path).close()


def open_archive(path: Path) -> BinaryIO:
    """The archive opened for reading, or a BundleError when it is not a regular file.

    Opened without blocking and checked on the open descriptor: a FIFO would otherwise wait forever for a
    writer, a device would stream without end, and a check before the open could be raced."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    except OSError as exc:
        with contextlib.suppress(OSError):
            _refuse_special(path, os.stat(path).st_mode)  # a socket cannot be opened at all (ENXIO)
        raise BundleError(f"{path}: cannot open: {exc.strerror}") from None
    try:
        _refuse_special(path, os.fstat(fd).st_mode)
    except BaseException:
        os.close(fd)
        raise
    os.set_blocking(fd, True)
    return os.fdopen(fd, "rb")


def _refuse_special(path: Path, mode: int) -> None:
    if not stat.S_ISREG(mode):
        what = next((name for test, name in _NOT_REGULAR if test(mode)), "a special file")
        raise BundleError(f"{path}: is {what}, not a regular file: not an archive")


def iter_members(path: Path, state: StreamState | None = None,
                 on_bytes: Callable[[int], None] | None = None) -> Iterator[Member]:
    """Yield members in archive order; each member's chunks must be consumed before the next is read.

    `on_bytes` counts compressed bytes read from the file, so progress can be shown against its size.

    Raises IntegrityError when the file is not exactly one readable tar.zst: truncated, corrupt, not ours, or
    with data after the archive's end (checked once the last member has been read).
    """
    state = state or StreamState()
    try:
        # A parts manifest (bundle/parts.py) reads the parts of a split archive as one file; anything else must be
        # a regular file (open_archive refuses a FIFO, a socket, a device or a directory in one line).
        raw = cast(BinaryIO, PartsReader(path)) if is_parts_manifest(path) else open_archive(path)
    except OSError as exc:
        raise BundleError(f"{path}: cannot open: {exc.strerror}") from None
    frames = FrameCheck()
    file_reader = HashingReadAhead(raw, on_bytes, watch=frames.feed)
    stream = _Stream(path, file_reader, frames)
    stream.source = raw
    try:
        dctx = zstandard.ZstdDecompressor()
        # One frame only: what follows it is trailing data, reported by the frame check, never decompressed.
        # The read-ahead is file-like where zstandard looks: read().
        with dctx.stream_reader(cast(IO[bytes], file_reader), read_across_frames=False, read_size=CHUNK) as zr:
            tar = TarReader(zr)
            for info, data in tar.members():
                stream.last = info.name
                yield Member(info.name, info.size, info, stream.guard(data))
            try:
                tar.check_end()
            except (tarfile.ReadError, zstandard.ZstdError) as exc:
                # Something follows the tar's end: inside its frame (corrupt) or after it (trailing data,
                # which the decompressor reads as the start of a next frame). The frame walk tells which.
                file_reader.drain()
                stream.check_frame()
                raise stream.error(exc) from None
        file_reader.drain()
    except _STREAM_ERRORS as exc:
        raise stream.error(exc) from None
    finally:
        file_reader.close()
        raw.close()
    stream.check_frame()
    state.file_hash = file_reader.hash
    state.file_bytes = frames.seen


def read_member(path: Path, member: Member, limit: int) -> bytes:
    """A member the reader needs whole, refused before it is read when larger than `limit`."""
    if member.size > limit:
        raise IntegrityError(f"{path}: {member.name} is {member.size} bytes, more than the {limit} a bundle's "
                             f"{member.name} may have")
    return b"".join(member.chunks)


def read_bundle_json(path: Path) -> BundleHead:
    """Only the head of the archive: inspect does not need to read gigabytes."""
    for member in iter_members(path):
        if member.name != BUNDLE_JSON:
            raise IntegrityError(f"{path}: first member is {member.name!r}, not {BUNDLE_JSON}: not a wire-bundle")
        if not member.info.isfile():
            raise IntegrityError(f"{path}: {BUNDLE_JSON} is not a regular file: not a wire-bundle")
        return parse_bundle_json(read_member(path, member, BUNDLE_JSON_MAX), path)
    raise IntegrityError(f"{path}: empty archive")


def parse_bundle_json(data: bytes, path: Path | None = None) -> BundleHead:
    """bundle.json parsed and checked for what readers rely on; IntegrityError names the first thing wrong
    (prefixed with `path: bundle.json:` when a path is given)."""

    def bad(cause: str) -> IntegrityError:
        return IntegrityError(f"{path}: {BUNDLE_JSON}: {cause}" if path is not None else cause)

    meta = loads_member(data, bad, max_depth=JSON_DEPTH_MAX)
    if not isinstance(meta, dict):
        raise bad("not a JSON object")
    if meta.get("format") != FORMAT:
        raise bad(f"unknown bundle format {str(meta.get('format'))[:80]!r} (this tool reads {FORMAT}): "
                  "not a wire-bundle")
    try:
        return BundleHead.model_validate(meta)
    except ValidationError as exc:
        err = exc.errors()[0]
        at = ".".join(str(p) for p in err["loc"]) or "(top)"
        raise bad(f"{at[:120]}: {err['msg'][:200]}") from None


def loads_member(data: bytes, bad: Callable[[str], Exception], max_depth: int | None = None) -> Any:
    """An archive member's JSON, trusted for nothing: `bad(cause)` is raised when it is not valid JSON, nests
    deeper than the parser goes or than `max_depth` (when given; the document is then also walked for strings
    that are not text)."""
    try:
        value = json.loads(data)
    except RecursionError:
        raise bad(f"nests more than {max_depth} levels deep" if max_depth else "nests too deep") from None
    except ValueError as exc:
        raise bad(f"not valid JSON ({str(exc)[:120]})") from None
    if max_depth is None:
        return value
    try:
        too_deep = _depth(value) > max_depth
    except UnicodeEncodeError:
        raise bad("holds a string that is not valid Unicode (a lone surrogate)") from None
    if too_deep:
        raise bad(f"nests more than {max_depth} levels deep")
    return value


def _depth(value: object) -> int:
    """How deep containers nest, without recursion (a parsed document may be deeper than Python's stack).

    Raises ValueError for a string that is not text (a lone surrogate from a \\u escape): it could not be
    printed or written as UTF-8."""
    deepest, todo = 0, [(value, 1)]
    while todo:
        v, d = todo.pop()
        if isinstance(v, str):
            v.encode("utf-8")
        elif isinstance(v, dict | list):
            deepest = max(deepest, d)
            if d <= JSON_DEPTH_MAX:
                if isinstance(v, dict):
                    todo.extend((k, d) for k in v)
                    todo.extend((c, d + 1) for c in v.values())
                else:
                    todo.extend((c, d + 1) for c in v)
    return deepest


def parse_checksums(data: bytes) -> dict[str, str]:
    out: dict[str, str] = {}
    for n, line in enumerate(data.decode("utf-8", "replace").splitlines(), 1):
        hexpart, sep, name = line.partition("  ")
        if not sep or len(hexpart) != 64:
            raise IntegrityError(f"{CHECKSUMS} line {n} is malformed")
        out[name] = hexpart
    return out
