"""Readers of the package databases an image's OS keeps: each turns a database file's bytes into Packages.

What is read: dpkg (`var/lib/dpkg/status`, and distroless images' `var/lib/dpkg/status.d/*`), apk
(`lib/apk/db/installed`) and rpm's SQLite database (`rpmdb.sqlite`, RHEL/UBI 9, Fedora 33+, read with Python's
own sqlite3, no rpm). rpm's Berkeley DB (`Packages`, RHEL 8 and older) and NDB (`Packages.db`, SUSE) formats are
recognised but not read: the image is listed with that database named and no packages.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Package:
    """One installed OS package, as its database records it."""

    manager: str  # "dpkg", "apk", "rpm"
    name: str
    version: str
    arch: str | None = None
    source: str | None = None  # the source package (dpkg Source, apk origin, rpm SOURCERPM's name)
    source_version: str | None = None
    license: str | None = None
    extra: tuple[tuple[str, str], ...] = field(default=(), compare=False)

    @property
    def key(self) -> tuple[str, str, str, str | None]:
        return (self.manager, self.name, self.version, self.arch)
