"""The smallest BuildContext a kind needs, for calling KIND.lock / KIND.fetch directly in tests."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


@dataclass
class TestContext:
    __test__ = False  # not a test class, whatever pytest thinks of its name

    cache_dir: Path
    work_dir: Path
    jobs: int = 2
    helm: str | None = None
    discovered_images: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    messages: list[str] = field(default_factory=list)

    def progress(self, label: str, total_bytes: int | None = None) -> Any:
        return _Counter()

    def log(self, message: str) -> None:
        self.messages.append(message)

    def warn(self, message: str) -> None:
        self.messages.append("warning: " + message)


class _Counter:
    """Stands where the build's progress task goes: counts the bytes a kind reports."""

    def __init__(self) -> None:
        self.done = 0

    def __enter__(self) -> _Counter:
        return self

    def __exit__(self, *exc: object) -> None:
        pass

    def advance(self, n: int) -> None:
        self.done += n
