"""Progress for long work: a live bar on a terminal, a plain line every few seconds otherwise, or nothing."""

from __future__ import annotations

import sys
import threading
import time
from typing import TextIO

from bundler.space import human


class Reporter:
    def __init__(self, quiet: bool = False, stream: TextIO | None = None, interval: float = 5.0):
        self.quiet = quiet
        self.stream = stream or sys.stderr
        self.interval = interval
        self.live = not quiet and self.stream.isatty()

    def log(self, message: str) -> None:
        if not self.quiet:
            print(message, file=self.stream, flush=True)

    def warn(self, message: str) -> None:
        # Warnings are shown even with --quiet: they may change what the operator does next.
        print(f"warning: {message}", file=self.stream, flush=True)

    def bytes_task(self, label: str, total: int) -> ByteTask:
        return ByteTask(self, label, total)


class ByteTask:
    """Thread-safe byte counter; use as a context manager around the work."""

    def __init__(self, reporter: Reporter, label: str, total: int):
        self.reporter = reporter
        self.label = label
        self.total = total
        self.done = 0
        self._lock = threading.Lock()
        self._started = time.monotonic()
        self._last_line = self._started
        self._rich = None

    def __enter__(self) -> ByteTask:
        if self.reporter.live:
            from rich.console import Console
            from rich.progress import (
                BarColumn,
                DownloadColumn,
                Progress,
                TextColumn,
                TimeRemainingColumn,
                TransferSpeedColumn,
            )

            self._rich = Progress(TextColumn("{task.description}"), BarColumn(), DownloadColumn(),
                                  TransferSpeedColumn(), TimeRemainingColumn(),
                                  console=Console(file=self.reporter.stream), transient=False)
            self._rich.start()
            self._task_id = self._rich.add_task(self.label, total=self.total)
        return self

    def advance(self, n: int) -> None:
        with self._lock:
            self.done += n
            now = time.monotonic()
            if self._rich is not None:
                self._rich.update(self._task_id, completed=self.done)
            elif not self.reporter.quiet and now - self._last_line >= self.reporter.interval:
                self._last_line = now
                self.reporter.log(self._line(now))

    def _line(self, now: float) -> str:
        elapsed = max(now - self._started, 1e-6)
        rate = self.done / elapsed
        pct = f" ({100 * self.done / self.total:.0f}%)" if self.total else ""
        eta = f", ETA {int((self.total - self.done) / rate)}s" if rate > 0 and self.total > self.done else ""
        return f"{self.label}: {human(self.done)} / {human(self.total)}{pct}, {human(rate)}/s{eta}"

    def __exit__(self, *exc: object) -> None:
        if self._rich is not None:
            self._rich.stop()
        elif not self.reporter.quiet and exc[0] is None:
            self.reporter.log(self._line(time.monotonic()) + " done")
