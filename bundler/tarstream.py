"""The archive writer's plumbing: tar members written straight into a compressor, and a file sink that hashes and
writes on a thread of its own.

Why not tarfile's stream mode: it cuts every member into 10 KiB records through Python calls, and the
compressor's output was hashed and written by the same thread that compressed. Here members go to the
compressor in large chunks, and the compressed bytes are hashed and written on another thread (hashlib and file
writes release the GIL), so compressing, hashing and writing run on different cores. The tar bytes are the
ones tarfile writes (same headers, padding and end-of-archive records), so archives stay reproducible.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import hashlib
import os
import queue
import tarfile
import threading
from collections.abc import Callable
from typing import BinaryIO

CHUNK = 4 << 20
# The compressor hands its output over in pieces of at most this size; at most `depth` of them wait for the sink.
OUT_CHUNK = 1 << 20
# Dirty pages are pushed to the disk every WRITEBACK bytes while the archive is written, so the fsync that
# makes it durable at the end has little left to wait for.
WRITEBACK = 32 << 20
_NUL_BLOCK = bytes(tarfile.BLOCKSIZE)


def header(name: str, size: int, mtime: int) -> bytes:
    """A regular file's PAX header: mode 0644, uid/gid 0, no owner names, the given mtime."""
    ti = tarfile.TarInfo(name)
    ti.size = size
    ti.mtime = mtime
    ti.mode = 0o644
    ti.uid = ti.gid = 0
    ti.uname = ti.gname = ""
    return ti.tobuf(tarfile.PAX_FORMAT, "utf-8", "surrogateescape")


class TarWriter:
    """Writes tar members to `out` (anything with write()), tracking the offset for the record padding."""

    def __init__(self, out: BinaryIO):
        self.out = out
        self.offset = 0

    def _write(self, data) -> None:
        self.out.write(data)
        self.offset += len(data)

    def add_bytes(self, name: str, data: bytes, mtime: int) -> None:
        self._write(header(name, len(data), mtime))
        self._write(data)
        self._pad(len(data))

    def add_file(self, name: str, f: BinaryIO, size: int, mtime: int,
                 on_chunk: Callable[[memoryview], None] | None = None) -> None:
        """Copy exactly `size` bytes of `f`; `on_chunk` sees each chunk before it is written (hashing, progress)."""
        self._write(header(name, size, mtime))
        buf = bytearray(min(CHUNK, max(size, 1)))
        view = memoryview(buf)
        left = size
        while left:
            n = f.readinto(view[:min(left, len(buf))])
            if not n:
                raise OSError(f"{name}: source ended {left} bytes early")
            chunk = view[:n]
            if on_chunk:
                on_chunk(chunk)
            self._write(chunk)
            left -= n
        self._pad(size)

    def _pad(self, size: int) -> None:
        rest = size % tarfile.BLOCKSIZE
        if rest:
            self._write(_NUL_BLOCK[rest:])

    def close(self) -> None:
        """Two zero blocks, then zeros up to a whole record: what tarfile writes at the end of an archive."""
        self._write(_NUL_BLOCK * 2)
        rest = self.offset % tarfile.RECORDSIZE
        if rest:
            self._write(bytes(tarfile.RECORDSIZE - rest))


class HashingFileSink:
    """A write-only sink for the compressor: each chunk is queued, then hashed and written by a worker thread.

    A write error (a full disk) is raised at the next write() or at finish(); the worker keeps draining the
    queue meanwhile so the producer never blocks on a dead consumer.
    """

    def __init__(self, raw: BinaryIO, depth: int = 8):
        self.raw = raw
        self.hash = hashlib.sha256()
        self.error: BaseException | None = None
        self._queue: queue.Queue[bytes | None] = queue.Queue(depth)
        self._written = 0
        self._flushed = 0
        self._thread = threading.Thread(target=self._run, name="archive-sink", daemon=True)
        self._thread.start()

    def write(self, data) -> int:
        if self.error is not None:
            raise self.error
        # The compressor hands over a new bytes object per call; anything else is copied before it can change.
        self._queue.put(data if isinstance(data, bytes) else bytes(data))
        return len(data)

    def flush(self) -> None:
        pass

    def finish(self) -> None:
        """Wait until every queued byte is hashed and written; re-raise a write error."""
        self._queue.put(None)
        self._thread.join()
        if self.error is not None:
            raise self.error

    def _run(self) -> None:
        while (chunk := self._queue.get()) is not None:
            if self.error is not None:
                continue
            try:
                self.hash.update(chunk)
                self.raw.write(chunk)
                self._written += len(chunk)
                if self._written - self._flushed >= WRITEBACK:
                    _start_writeback(self.raw, self._flushed, self._written - self._flushed)
                    self._flushed = self._written
            except BaseException as exc:  # noqa: BLE001 - handed to the producer thread
                self.error = exc


def _load_sync_file_range():
    path = ctypes.util.find_library("c")
    try:
        fn = ctypes.CDLL(path, use_errno=True).sync_file_range
    except (OSError, AttributeError):
        return None  # not Linux/glibc: the final fsync does all the work
    fn.argtypes = [ctypes.c_int, ctypes.c_longlong, ctypes.c_longlong, ctypes.c_uint]
    return fn


_SYNC_FILE_RANGE = _load_sync_file_range()
_SYNC_FILE_RANGE_WRITE = 2


def _start_writeback(raw: BinaryIO, offset: int, length: int) -> None:
    """Ask the kernel to start writing this range out now (no waiting); durability still comes from fsync."""
    if _SYNC_FILE_RANGE is None:
        return
    raw.flush()
    _SYNC_FILE_RANGE(raw.fileno(), offset, length, _SYNC_FILE_RANGE_WRITE)


def fsync(raw: BinaryIO) -> None:
    raw.flush()
    os.fsync(raw.fileno())
