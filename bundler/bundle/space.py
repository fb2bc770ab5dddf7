"""Fail before writing, with numbers, when a disk cannot hold what is about to be written."""

from __future__ import annotations

import shutil
from pathlib import Path

from bundler.errors import SpaceError

# Filesystems need headroom; a build that leaves a disk at 0 bytes breaks other things on the host.
MARGIN = 64 << 20


def human(n: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if abs(n) < 1024 or unit == "TiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} TiB"


def existing_parent(path: Path) -> Path:
    path = path.absolute()
    while not path.exists():
        path = path.parent
    return path


def check_space(needs: list[tuple[Path, int, str]]) -> None:
    """`needs` lists (where, bytes, what); needs on one filesystem add up."""
    by_device: dict[int, list[tuple[Path, int, str]]] = {}
    for where, size, what in needs:
        anchor = existing_parent(where)
        by_device.setdefault(anchor.stat().st_dev, []).append((anchor, size, what))
    for items in by_device.values():
        total = sum(size for _, size, _ in items)
        free = shutil.disk_usage(items[0][0]).free
        if total + MARGIN > free:
            parts = " + ".join(f"{what} {human(size)}" for _, size, what in items if size)
            raise SpaceError(
                f"not enough free space on {items[0][0]}: need {human(total + MARGIN)} ({parts}, "
                f"{human(MARGIN)} headroom), {human(free)} free"
            )
