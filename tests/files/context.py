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
        return None

    def log(self, message: str) -> None:
        self.messages.append(message)

    def warn(self, message: str) -> None:
        self.messages.append("warning: " + message)
