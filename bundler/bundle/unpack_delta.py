"""Unpack a delta bundle onto the directory that holds its base: the result is exactly the unpacked NEW bundle.

The new tree is built in a hidden sibling, as a full unpack builds it: the members the base supplies are hard
links to the base's files (found by digest through the base's own checksums.sha256, so a file that moved is
found too), the carried members are extracted and checked as they stream, and the whole is checked against
NEW's checksums.sha256 and both signatures. Only then is it swapped in; on any error the base stays where it was,
untouched and in service. The base's files are not hashed again: they were verified when the base was
unpacked, and each must still have the size its digest was verified with and no modification time later than
that unpack (a file edited since is refused, naming it). So the work is in proportion to the delta.
"""

from __future__ import annotations

import errno
import json
import os
import shutil
import time
from dataclasses import dataclass
from pathlib import Path

from bundler.bundle.archive import (
    KEPT_MAX,
    StreamState,
    content_digest,
    iter_members,
    parse_bundle_json,
    parse_checksums,
    read_kept,
    read_member,
)
from bundler.bundle.delta import Declaration, parse_declaration
from bundler.bundle.manifest import BundleHead
from bundler.bundle.mediatypes import BUNDLE_JSON, CHECKSUMS, DELTA_JSON, DELTA_SIGNATURE, PUBLIC_KEY, SIGNATURE
from bundler.bundle.signing import check_trust
from bundler.bundle.space import check_space
from bundler.errors import BundleError, IntegrityError


@dataclass
class DeltaHead:
    meta: BundleHead
    checksums: bytes
    listed: dict[str, str]
    declaration: Declaration
    declaration_bytes: bytes


def read_delta_head(archive: Path) -> DeltaHead | None:
    """The first three members when the third is delta.json; None for a full bundle."""
    head: dict[str, bytes] = {}
    for member, expected in zip(iter_members(archive), (BUNDLE_JSON, CHECKSUMS, DELTA_JSON), strict=False):
        if member.name != expected:
            if expected == DELTA_JSON:
                return None
            raise IntegrityError(f"{archive}: member {member.name[:80]!r} where {expected} belongs: "
                                 "not a wire-bundle")
        head[expected] = read_member(archive, member, KEPT_MAX[expected])
        if expected == DELTA_JSON:
            break
    if DELTA_JSON not in head:
        return None
    listed = parse_checksums(head[CHECKSUMS])
    meta = parse_bundle_json(head[BUNDLE_JSON], archive)
    try:
        decl = parse_declaration(head[DELTA_JSON], listed)
    except IntegrityError as exc:
        raise IntegrityError(f"{archive}: {exc}") from None
    if decl.content_digest != content_digest(head[CHECKSUMS]):
        raise IntegrityError(f"{archive}: {DELTA_JSON} declares content {decl.content_digest}, the archive's "
                             f"{CHECKSUMS} is {content_digest(head[CHECKSUMS])}")
    return DeltaHead(meta, head[CHECKSUMS], listed, decl, head[DELTA_JSON])


def unpack_delta(archive: Path, target: Path, head: DeltaHead, log=print, fingerprint: str | None = None,
                 keyring: Path | None = None):
    from bundler.bundle.unpack import (
        MARKER,
        UnpackResult,
        _clean_stale,
        _extract,
        _still_intact,
        bundle_identity,
        read_marker,
        staged,
    )

    decl, meta = head.declaration, head.meta
    target = target.absolute()
    _clean_stale(target, log)
    marker = read_marker(target)
    if marker is None:
        raise BundleError(f"{archive}: a delta on {decl.base_name!r} ({decl.base}), but {target} holds no "
                          "unpacked bundle: unpack that bundle there first, or unpack the full new bundle")
    held = marker.get("content_digest")
    if held == decl.content_digest and _still_intact(target, meta):
        checksums = read_kept(target, CHECKSUMS)
        if checksums is not None and content_digest(checksums) == held:
            signer, trusted = check_trust(checksums, read_kept(target, SIGNATURE),
                                          read_kept(target, PUBLIC_KEY),
                                          fingerprint=fingerprint, keyring=keyring)
            log(f"{target} already holds this bundle ({meta.name}, {held}); nothing to do")
            return UnpackResult(target, True, len(meta.artifacts), 0, meta.name, signer, trusted)
    if held != decl.base:
        raise BundleError(f"{archive}: wrong base: this delta needs {decl.base_name!r} ({decl.base}), but {target} "
                          f"holds {str(marker.get('name'))[:80]!r} ({str(held)[:80]}); unpack it onto its base, or "
                          "unpack the full new bundle")
    base_files = _base_files(target, held, marker)
    sizes = {a.path: a.size for a in meta.artifacts}
    staging = target.with_name(f".{target.name}.unpacking-{os.getpid()}")
    check_space([(target.parent, decl.carried_bytes, "the delta's new members")])
    with staged(staging, target):
        shutil.rmtree(staging, ignore_errors=True)
        staging.mkdir()
        linked = _link_from_base(target, staging, decl, head.listed, base_files, sizes)
        state = StreamState()
        members, nbytes = _extract(archive, staging, state, from_base=frozenset(decl.from_base),
                                   extra=frozenset({DELTA_JSON, DELTA_SIGNATURE}))
        decl_sig = read_kept(staging, DELTA_SIGNATURE)
        (staging / DELTA_JSON).unlink()
        (staging / DELTA_SIGNATURE).unlink(missing_ok=True)
        key = read_kept(staging, PUBLIC_KEY)
        checksums = (staging / CHECKSUMS).read_bytes()
        if checksums != head.checksums:
            raise IntegrityError(f"{archive}: {CHECKSUMS} changed while it was read")
        signer, trusted = check_trust(checksums, read_kept(staging, SIGNATURE), key,
                                      fingerprint=fingerprint, keyring=keyring)
        check_trust(head.declaration_bytes, decl_sig, key, fingerprint=fingerprint, keyring=keyring)
        done_ns = time.time_ns()
        (staging / MARKER).write_text(json.dumps(
            {"identity": bundle_identity(meta), "name": meta.name, "archive": archive.name,
             "unpacked_at": done_ns // 10**9, "unpacked_at_ns": done_ns,
             "archive_sha256": state.file_hash.hexdigest(), "archive_bytes": state.file_bytes,
             "content_digest": content_digest(checksums), "signer": signer,
             "delta_base": decl.base}, indent=1))
        previous = target.with_name(f".{target.name}.previous-{os.getpid()}")
        os.replace(target, previous)
        os.replace(staging, target)
        shutil.rmtree(previous, ignore_errors=True)
    log(f"delta on {decl.base_name} ({decl.base}): {linked} members taken from the base, "
        f"{members} extracted")
    return UnpackResult(target, False, members + linked, nbytes, meta.name, signer, trusted)


def _base_files(target: Path, held: str, marker: dict) -> tuple[dict[str, str], int]:
    """The base's files by digest (hex -> path), and the time after which none of them may have been modified."""

    checksums = read_kept(target, CHECKSUMS)
    if checksums is None or content_digest(checksums) != held:
        raise IntegrityError(f"{target / CHECKSUMS}: changed since the bundle {held} was unpacked there; the base "
                             "is not intact: unpack the full new bundle")
    by_digest: dict[str, str] = {}
    for path, hexd in parse_checksums(checksums).items():
        by_digest.setdefault(hexd, path)
    ns = marker.get("unpacked_at_ns")
    if not isinstance(ns, int):
        at = marker.get("unpacked_at")
        ns = (at + 1) * 10**9 if isinstance(at, int) else 0  # older markers: whole seconds
    return by_digest, ns


def _link_from_base(target: Path, staging: Path, decl: Declaration, listed: dict[str, str],
                    base: tuple[dict[str, str], int], sizes: dict[str, int]) -> int:
    by_digest, unpacked_ns = base
    for path in decl.from_base:
        source_rel = by_digest.get(listed[path])
        if source_rel is None:
            raise IntegrityError(f"{path}: the base {decl.base} should hold sha256:{listed[path]}, but its "
                                 f"{CHECKSUMS} does not list it")
        source = target / source_rel
        try:
            st = source.stat()
        except OSError as exc:
            raise IntegrityError(f"{source}: {exc.strerror}: the base is not intact; unpack the full new "
                                 "bundle") from None
        if st.st_size != sizes.get(path) or st.st_mtime_ns > unpacked_ns:
            what = "size" if st.st_size != sizes.get(path) else "modification time"
            raise IntegrityError(f"{source}: changed since the base was unpacked ({what}); the base is not intact: "
                                 "unpack the full new bundle")
        dest = staging / path
        dest.parent.mkdir(parents=True, exist_ok=True)
        try:
            os.link(source, dest)
        except OSError as exc:
            if exc.errno not in (errno.EXDEV, errno.EPERM, errno.EMLINK):
                raise
            shutil.copyfile(source, dest)
    return len(decl.from_base)
