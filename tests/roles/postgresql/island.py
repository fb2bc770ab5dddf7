"""A test island for the PostgreSQL role: a bundle of the real Debian packages (postgresql-15, repmgr, sudo),
built by the real CLI, unpacked and served to a lab as the asset host serves it (/debs/).

No stand-ins: every package the role installs is Debian bookworm's own.
"""

from __future__ import annotations

from pathlib import Path

import yaml

from tests.roles.services.island import CACHE, SOURCES, _cli

PACKAGES = ["postgresql-15", "postgresql-15-repmgr", "sudo"]


def postgresql_bundle(workdir: Path) -> Path:
    """Build and unpack a bundle holding PACKAGES (and their dependencies); returns the unpacked directory."""
    spec = {"version": 1, "name": "postgresql-test",
            "debs": {"targets": [{"name": "bookworm", "suite": "bookworm", "sources": SOURCES}],
                     "packages": PACKAGES}}
    spec_path = workdir / "postgresql-test.yaml"
    spec_path.write_text(yaml.safe_dump(spec, sort_keys=False))
    archive = workdir / "postgresql-test.tar.zst"
    r = _cli("build", spec_path, "-o", archive, "--cache-dir", CACHE / "debs-cache", "-q")
    if r.returncode != 0:
        raise RuntimeError(f"wire-bundle build failed: {r.stderr[-3000:]}")
    unpacked = workdir / "bundle"
    r = _cli("unpack", archive, "--to", unpacked)
    if r.returncode != 0:
        raise RuntimeError(f"wire-bundle unpack failed: {r.stderr[-3000:]}")
    for p in [unpacked, *unpacked.rglob("*")]:  # served to the lab as whoever; keep it readable
        if p.is_dir():
            p.chmod(0o755)
    return unpacked
