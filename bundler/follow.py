"""Reading a blob while its download is still writing it.

The archive writer takes blobs in archive order. Waiting for each download to finish first left it idle until
the blob at the head of the order was complete, then wrote most of the archive after the downloads were done.
Following the file as it grows keeps the writer right behind the downloads: the archive's disk writes overlap
the fetching instead of coming after it.

The downloader reports through a LiveFile; a FollowReader hands out only bytes that were reported. Bytes the
download throws away (a server that ignored the Range of a resume, a digest mismatch) may already be in the
archive: the reader then raises SourceChanged, and the caller writes the archive again from the finished files.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass
from pathlib import Path

POLL = 0.2  # seconds between checks for a failed download elsewhere while waiting for bytes


class SourceChanged(Exception):
    """A download threw away bytes a reader had already taken."""


class LiveFile:
    """How much of one download's file is written: the downloader reports, readers wait on it."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self.path: Path | None = None
        self.length = 0
        self.restarts = 0

    def grew(self, path: Path, length: int) -> None:
        """The first `length` bytes of `path` are written (flushed to the kernel) and stay."""
        with self._cond:
            self.path, self.length = path, length
            self._cond.notify_all()

    def restart(self) -> None:
        """Every byte reported so far is about to be thrown away."""
        with self._cond:
            self.restarts += 1
            self.path, self.length = None, 0
            self._cond.notify_all()

    def state(self, beyond: int, restarts: int, timeout: float) -> tuple[Path | None, int, int]:
        """(path, length, restarts) once more than `beyond` bytes are written, the download restarted since
        `restarts`, or after `timeout`."""
        with self._cond:
            self._cond.wait_for(lambda: self.length > beyond or self.restarts != restarts, timeout)
            return self.path, self.length, self.restarts


@dataclass
class Pending:
    """A download running in the background: its result and its growing file."""

    future: Future
    live: LiveFile


class FollowReader:
    """A file-like reader of a blob of `size` bytes being downloaded to `final`: readinto() blocks until bytes
    are there. The read that ends the blob returns only once the download has verified it.

    `check()` is called while waiting and may raise (another download failed: stop early).
    """

    def __init__(self, pending: Pending, final: Path, size: int, check: Callable[[], None] | None = None):
        self.pending = pending
        self.final = final
        self.size = size
        self.check = check
        self.pos = 0
        self._file = None
        self._restarts = pending.live.restarts

    def readinto(self, view: memoryview) -> int:
        while True:
            path, length, restarts = self.pending.live.state(self.pos, self._restarts, POLL)
            if restarts != self._restarts:
                if self.pos:
                    raise SourceChanged(f"the download of {self.final.name} started over")
                self._restarts = restarts  # nothing taken yet: follow the new attempt from its start
                self._close()
                continue
            if path is not None and length > self.pos:
                if self._file is None:
                    self._open(path)
                return self._read(view[:length - self.pos])
            future = self.pending.future
            if future.done():
                future.result()  # the download's own error, if it failed
                if self._file is None:
                    self._open(self.final)
                return self._read(view)
            if self.check:
                self.check()

    def _open(self, path: Path) -> None:
        try:
            self._file = open(path, "rb")  # noqa: SIM115 - closed by close()
        except FileNotFoundError:
            if path == self.final:
                raise
            # A partial file goes away in two ways: renamed to its final name once verified, or thrown away
            # after a restart was reported (that is seen by the caller before it reads).
            try:
                self._file = open(self.final, "rb")  # noqa: SIM115 - closed by close()
            except FileNotFoundError:
                raise SourceChanged(f"{path} is gone") from None
        self._file.seek(self.pos)

    def _read(self, view: memoryview) -> int:
        n = self._file.readinto(view)
        # A restart is reported before the file is truncated or removed, so bytes read from a file that changed
        # under this read are always caught here.
        if self.pending.live.restarts != self._restarts:
            if self.pos:
                raise SourceChanged(f"the download of {self.final.name} started over")
            self._close()
            self._restarts = self.pending.live.restarts
            return self.readinto(view)  # nothing was handed out yet: follow the new attempt
        self.pos += n
        if self.pos >= self.size:
            self._verified()
        return n

    def _verified(self) -> None:
        """Wait for the download's verdict on the bytes handed out: its digest check comes after the last byte."""
        while True:
            try:
                self.pending.future.result(timeout=POLL)
                break
            except TimeoutError:
                if self.check:
                    self.check()
        if self.pending.live.restarts != self._restarts:
            raise SourceChanged(f"the download of {self.final.name} failed its digest check and started over")

    def _close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None

    def close(self) -> None:
        self._close()

    def __enter__(self) -> FollowReader:
        return self

    def __exit__(self, *exc: object) -> None:
        self._close()
