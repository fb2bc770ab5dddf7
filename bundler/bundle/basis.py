"""What a bundle holds, read from an archive (its head only), a parts manifest, or a bundle.json file.

diff and `build --base` need no more than this: the bundle's name, its content digest and its artifacts by
digest. A bundle.json alone is enough because checksums.sha256 is derived from it: the digest of bundle.json's
exact bytes, then every artifact's digest and path in path order (archive.head_bytes).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from bundler.bundle.archive import (
    BUNDLE_JSON,
    BUNDLE_JSON_MAX,
    CHECKSUMS,
    CHECKSUMS_MAX,
    checksums_for,
    content_digest,
    iter_members,
    parse_bundle_json,
    read_member,
)
from bundler.bundle.manifest import BundleHead
from bundler.errors import BundleError, IntegrityError


@dataclass(frozen=True)
class Basis:
    source: Path
    meta: BundleHead
    content_digest: str

    @property
    def name(self) -> str:
        return self.meta.name

    @property
    def digests(self) -> set[str]:
        return {a.digest for a in self.meta.artifacts}


def load_basis(path: Path) -> Basis:
    """An archive (plain, delta or a parts manifest) or a bundle.json; one line naming the file when it is neither."""
    try:
        with open(path, "rb") as f:
            start = f.read(1)
    except OSError as exc:
        raise BundleError(f"{path}: cannot read: {exc.strerror}") from None
    if start == b"{" and not path.name.endswith(".parts.json"):
        return _from_bundle_json(path)
    return _from_archive(path)


def _from_bundle_json(path: Path) -> Basis:
    with open(path, "rb") as f:
        data = f.read(BUNDLE_JSON_MAX + 1)
    if len(data) > BUNDLE_JSON_MAX:
        raise IntegrityError(f"{path}: more than the {BUNDLE_JSON_MAX} bytes a {BUNDLE_JSON} may have")
    meta = parse_bundle_json(data, path)
    return Basis(path, meta, content_digest(checksums_for(data, [(a.digest, a.path) for a in meta.artifacts])))


def _from_archive(path: Path) -> Basis:
    head: bytes | None = None
    for member in iter_members(path):
        if head is None:
            if member.name != BUNDLE_JSON:
                raise IntegrityError(f"{path}: first member is {member.name[:80]!r}, not {BUNDLE_JSON}: "
                                     "not a wire-bundle")
            head = read_member(path, member, BUNDLE_JSON_MAX)
            continue
        if member.name != CHECKSUMS:
            raise IntegrityError(f"{path}: second member is {member.name[:80]!r}, not {CHECKSUMS}: not a wire-bundle")
        checksums = read_member(path, member, CHECKSUMS_MAX)
        meta = parse_bundle_json(head, path)
        if checksums != checksums_for(head, [(a.digest, a.path) for a in meta.artifacts]):
            raise IntegrityError(f"{path}: {CHECKSUMS} does not match {BUNDLE_JSON}")
        return Basis(path, meta, content_digest(checksums))
    raise IntegrityError(f"{path}: ends before its {CHECKSUMS}: not a wire-bundle")
