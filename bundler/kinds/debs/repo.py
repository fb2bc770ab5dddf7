"""Publishing fetched .debs as a signed apt repository: dists/<suite>/..., pool/..., and the public key.

Everything here is a function of the lock and the signing key: stanzas come from the packages' own control
files, Packages.gz is written without a timestamp, and the Release Date is the lock's date, so two builds from
one lock publish identical bytes.
"""

from __future__ import annotations

import gzip
import hashlib
import os
from dataclasses import dataclass
from pathlib import Path

from bundler.bundle.gpg import SigningKey, sign_release
from bundler.kinds.debs.debfile import read_control

KEYRING = "wire-bundle-archive-keyring.gpg"
KEYRING_ASC = "wire-bundle-archive-keyring.asc"


@dataclass(frozen=True)
class PoolEntry:
    filename: str  # pool/... path under the repository root
    source: Path  # the verified .deb in the cache
    sha256: str
    size: int
    name: str
    version: str
    architecture: str


@dataclass
class Dist:
    suite: str
    architectures: list[str]
    components: list[str]
    # (component, architecture) -> packages in that index
    indexes: dict[tuple[str, str], list[PoolEntry]]


def packages_text(entries: list[PoolEntry], control_of) -> str:
    stanzas = []
    for e in sorted(entries, key=lambda e: (e.name, e.version, e.architecture)):
        control = control_of(e).rstrip("\n")
        stanzas.append(f"{control}\nFilename: {e.filename}\nSize: {e.size}\nSHA256: {e.sha256}\n")
    return "\n".join(stanzas)


def release_text(dist: Dist, *, label: str, date: str, files: list[tuple[str, bytes]]) -> str:
    lines = [
        "Origin: wire-bundle",
        f"Label: {label}",
        f"Suite: {dist.suite}",
        f"Codename: {dist.suite}",
        f"Date: {date}",
        # No Valid-Until: an island updates its repository when a new bundle arrives, not on a schedule.
        f"Architectures: {' '.join(dist.architectures)}",
        f"Components: {' '.join(dist.components)}",
        f"Description: {label}: packages for {dist.suite} ({', '.join(dist.architectures)})",
        "SHA256:",
    ]
    for path, data in sorted(files):
        lines.append(f" {hashlib.sha256(data).hexdigest()} {len(data):>16} {path}")
    return "\n".join(lines) + "\n"


def publish(root: Path, dists: list[Dist], key: SigningKey, *, label: str, date: str, sign_at: int) -> list[Path]:
    """Write every generated file of the repository under `root` (the pool is not copied); return them."""
    written: list[Path] = []
    controls: dict[str, str] = {}

    def control_of(e: PoolEntry) -> str:
        if e.sha256 not in controls:
            controls[e.sha256] = read_control(e.source)
        return controls[e.sha256]

    for dist in dists:
        base = root / "dists" / dist.suite
        files: list[tuple[str, bytes]] = []
        for component in dist.components:
            for arch in dist.architectures:
                rel = f"{component}/binary-{arch}"
                text = packages_text(dist.indexes.get((component, arch), []), control_of).encode()
                gz = gzip.compress(text, compresslevel=9, mtime=0)
                for name, data in (("Packages", text), ("Packages.gz", gz)):
                    written.append(_write(base / rel / name, data))
                    files.append((f"{rel}/{name}", data))
        release = release_text(dist, label=label, date=date, files=files).encode()
        written.append(_write(base / "Release", release))
        sign_release(key, base / "Release", base / "InRelease", base / "Release.gpg", at=sign_at)
        written += [base / "InRelease", base / "Release.gpg"]
    written.append(_write(root / KEYRING, key.public))
    written.append(_write(root / KEYRING_ASC, key.public_armored))
    return written


def _write(path: Path, data: bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_bytes(data)
    os.chmod(tmp, 0o644)
    os.replace(tmp, path)
    return path
