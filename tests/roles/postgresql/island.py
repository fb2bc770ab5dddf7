"""A test island for the PostgreSQL role: a bundle of the real Debian packages (postgresql-15, repmgr, sudo),
built by the real CLI, unpacked and served to a lab as the asset host serves it (/debs/).

No stand-ins: every package the role installs is Debian bookworm's own.
"""

from __future__ import annotations

from pathlib import Path

from tests.support.island import build_island

PACKAGES = ["postgresql-15", "postgresql-15-repmgr", "sudo"]


def postgresql_bundle(workdir: Path) -> Path:
    """Build and unpack a bundle holding PACKAGES (and their dependencies); returns the unpacked directory."""
    return build_island(workdir, "postgresql-test", packages=PACKAGES)
