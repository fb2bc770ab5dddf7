"""Progress for long work: live bars on a terminal, a plain line every few seconds otherwise, or nothing.

Several tasks may run at once (downloads while the archive is written); on a terminal they share one live
display, elsewhere each prints its own periodic line.
"""

from __future__ import annotations

import sys
import threading
import time
from typing import TextIO

from bundler.bundle.space import human


class Reporter:
    def __init__(self, quiet: bool = False, stream: TextIO | None = None, interval: float = 5.0):
        self.quiet = quiet
        self.stream = stream or sys.stderr
        self.interval = interval
        self.live = not quiet and self.stream.isatty()
        self._rich = None
        self._active = 0
        self._lock = threading.Lock()

    def log(self, message: str) -> None:
        if self.quiet:
            return
        if self._rich is not None:
            self._rich.console.print(message, highlight=False)
        else:
            print(message, file=self.stream, flush=True)

    def warn(self, message: str) -> None:
        # Warnings are shown even with --quiet: they may change what the operator does next.
        print(f"warning: {message}", file=self.stream, flush=True)

    def bytes_task(self, label: str, total: int) -> ByteTask:
        return ByteTask(self, label, total)

    def _attach(self, task: ByteTask) -> None:
        if not self.live:
            return
        with self._lock:
            if self._rich is None:
                from rich.console import Console
                from rich.progress import (
                    BarColumn,
                    DownloadColumn,
                    Progress,
                    TextColumn,
                    TimeRemainingColumn,
                    TransferSpeedColumn,
                )

                self._rich = Progress(TextColumn("{task.description:<8}"), BarColumn(), DownloadColumn(),
                                      TransferSpeedColumn(), TimeRemainingColumn(),
                                      console=Console(file=self.stream))
                self._rich.start()
            self._active += 1
            task.rich_id = self._rich.add_task(task.label, total=task.total)

    def _detach(self) -> None:
        if not self.live:
            return
        with self._lock:
            self._active -= 1
            if self._active == 0 and self._rich is not None:
                self._rich.stop()
                self._rich = None


class ByteTask:
    """Thread-safe byte counter; use as a context manager around the work."""

    def __init__(self, reporter: Reporter, label: str, total: int):
        self.reporter = reporter
        self.label = label
        self.total = total
        self.done = 0
        self.rich_id = None
        self._lock = threading.Lock()
        self._started = time.monotonic()
        self._last_line = self._started
        self._closed = False

    def __enter__(self) -> ByteTask:
        self.reporter._attach(self)
        return self

    def advance(self, n: int) -> None:
        with self._lock:
            self.done += n
            now = time.monotonic()
            rich = self.reporter._rich
            if self.rich_id is not None and rich is not None:
                rich.update(self.rich_id, completed=self.done)
            elif not self.reporter.quiet and not self.reporter.live and now - self._last_line >= self.reporter.interval:
                self._last_line = now
                self.reporter.log(self._line(now))

    def _line(self, now: float) -> str:
        elapsed = max(now - self._started, 1e-6)
        rate = self.done / elapsed
        pct = f" ({100 * self.done / self.total:.0f}%)" if self.total else ""
        eta = f", ETA {int((self.total - self.done) / rate)}s" if rate > 0 and self.total > self.done else ""
        return f"{self.label}: {human(self.done)} / {human(self.total)}{pct}, {human(rate)}/s{eta}"

    def close(self, ok: bool = True) -> None:
        if self._closed:
            return
        self._closed = True
        if ok and not self.reporter.quiet and not self.reporter.live:
            self.reporter.log(self._line(time.monotonic()) + " done")
        self.reporter._detach()

    def __exit__(self, *exc: object) -> None:
        self.close(ok=exc[0] is None)
