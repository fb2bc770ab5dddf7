"""Unpack an archive on the island: verify while extracting, in one streaming pass, all or nothing.

Members land in a temporary sibling of the target directory and are checked against checksums.sha256 as they
stream; only when every member is present and intact is the sibling renamed into place. A marker records which
bundle a directory holds and the sha256 of the archive it came from, so unpacking the same archive again only
hashes the file (no decompression, no writes) and checks the signer again.
"""

from __future__ import annotations

import errno
import hashlib
import json
import os
import shutil
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from bundler.bundle.archive import (
    BUNDLE_JSON,
    CHECKSUMS,
    KEPT_MAX,
    SIGNATURE,
    SMALL_MAX,
    StreamState,
    check_member_name,
    content_digest,
    iter_members,
    parse_checksums,
    read_bundle_json,
    read_kept,
)
from bundler.bundle.manifest import BundleHead
from bundler.bundle.parts import is_parts_manifest, name_bad_part
from bundler.bundle.signing import PUBLIC_KEY, check_trust
from bundler.bundle.space import check_space
from bundler.errors import BundleError, IntegrityError, SpaceError

MARKER = ".wire-bundle-unpacked.json"


@dataclass
class UnpackResult:
    target: Path
    reused: bool
    members: int
    bytes: int
    bundle_name: str
    signer: str | None = None
    trusted: bool = False


def bundle_identity(meta: BundleHead) -> str:
    """bundle.json names every artifact by digest, so its own digest identifies the content."""
    return "sha256:" + hashlib.sha256(json.dumps(meta.to_json(), sort_keys=True).encode()).hexdigest()


def read_marker(target: Path) -> dict | None:
    try:
        with open(target / MARKER, "rb") as f:
            marker = json.loads(f.read(SMALL_MAX))
    except (OSError, ValueError, RecursionError):
        return None
    return marker if isinstance(marker, dict) else None


def _still_intact(target: Path, meta: BundleHead) -> bool:
    """Cheap re-check for a second unpack: every artifact there with its size (content was hashed before)."""
    for art in meta.artifacts:
        p = target / art.path
        try:
            if p.stat().st_size != art.size:
                return False
        except (OSError, ValueError):
            return False
    return True


def _safe_name(name: str) -> PurePosixPath:
    p = PurePosixPath(name)
    if not name or p.is_absolute() or ".." in p.parts or "\\" in name or name.startswith("./"):
        raise IntegrityError(f"refusing member {name[:200]!r}: path leaves the target directory")
    try:
        check_member_name(name)
    except IntegrityError:
        raise IntegrityError(f"refusing member {name[:200]!r}: not a plain relative path (empty or repeated "
                             "components, a NUL, or too long)") from None
    if name == MARKER:
        raise IntegrityError(f"refusing member {name!r}: the name of unpack's own marker")
    return p


def _file_sha256(path: Path) -> str:
    try:
        with open(path, "rb") as f:
            return hashlib.file_digest(f, "sha256").hexdigest()
    except OSError as exc:
        raise BundleError(f"{path}: cannot read: {exc.strerror}") from None


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OverflowError):
        return True  # someone else's process (or not a pid we can ask about): never touch what it may own
    return True


def _clean_stale(target: Path, log) -> None:
    """Remove the hidden siblings an unpack killed mid-way left (`kill -9`, power loss), never a live one's.

    A `.previous-PID` sibling with no target beside it is a bundle moved aside just before the kill: it is put
    back instead."""
    try:
        siblings = list(target.parent.iterdir())
    except OSError:
        return
    for path in sorted(siblings):
        for kind in ("unpacking", "previous"):
            prefix = f".{target.name}.{kind}-"
            pid = path.name[len(prefix):]
            if not path.name.startswith(prefix) or not pid.isdigit() or _alive(int(pid)):
                continue
            try:
                if kind == "previous" and not target.exists():
                    os.replace(path, target)
                    log(f"restored {target} from {path.name}, moved aside by an unpack (process {pid}) that was "
                        "killed")
                    continue
                shutil.rmtree(path)
            except OSError as exc:
                log(f"could not clean up {path}, left by an unpack (process {pid}) that was killed: {exc.strerror}")
                continue
            log(f"removed {path}, left by an unpack (process {pid}) that was killed")


def _reuse(archive: Path, target: Path, meta: BundleHead, marker: dict | None, fingerprint: str | None,
           keyring: Path | None, log) -> UnpackResult | None:
    """The second unpack of one bundle: a result when `target` provably holds what `archive` holds, else None.

    The head alone proves nothing (it is the first few KiB of a file that may be cut or altered after it), so
    the archive's bytes are hashed against those recorded when it was unpacked and verified; an archive with
    other bytes (damaged, or recompressed) is verified in full. The signer is checked against --fingerprint or
    --keyring either way.
    """
    if not marker or marker.get("identity") != bundle_identity(meta) or not _still_intact(target, meta):
        return None
    recorded = marker.get("archive_sha256")
    if not isinstance(recorded, str):
        return None  # unpacked before archive digests were recorded: nothing to compare with
    signer: str | None
    if _file_sha256(archive) == recorded:
        checksums = read_kept(target, CHECKSUMS)
        if checksums is None or content_digest(checksums) != marker.get("content_digest"):
            return None  # the unpacked tree's checksums.sha256 changed: not intact
        signature, key = read_kept(target, SIGNATURE), read_kept(target, PUBLIC_KEY)
        signer, trusted = check_trust(checksums, signature, key, fingerprint=fingerprint, keyring=keyring)
        how = "the same archive bytes"
    else:
        from bundler.bundle.verify import verify_archive

        report = verify_archive(archive, fingerprint=fingerprint, keyring=keyring)
        if not report.ok:
            member, problem = report.problems[0]
            more = f" (and {len(report.problems) - 1} more problems)" if len(report.problems) > 1 else ""
            raise IntegrityError(f"{archive}: {member}: {problem}{more}")
        if report.content_digest != marker.get("content_digest"):
            return None
        signer, trusted = report.signer, report.trusted
        how = "other archive bytes (recompressed?), verified in full"
    try:
        when = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(marker["unpacked_at"]))
    except (KeyError, TypeError, ValueError, OverflowError, OSError):
        when = "earlier"
    log(f"{target} already holds this bundle ({meta.name}, unpacked and verified {when}; {how}); nothing to do")
    return UnpackResult(target, True, len(meta.artifacts), 0, meta.name, signer, trusted)


def unpack(archive: Path, target: Path, replace: bool = False, log=print, fingerprint: str | None = None,
           keyring: Path | None = None) -> UnpackResult:
    target = target.absolute()
    from bundler.bundle.unpack_delta import read_delta_head, unpack_delta

    delta = read_delta_head(archive)
    if delta is not None:
        return unpack_delta(archive, target, delta, log=log, fingerprint=fingerprint, keyring=keyring)
    meta = read_bundle_json(archive)
    identity = bundle_identity(meta)
    _clean_stale(target, log)
    marker = read_marker(target)
    reused = _reuse(archive, target, meta, marker, fingerprint, keyring, log)
    if reused is not None:
        return reused
    try:
        not_empty = target.exists() and any(target.iterdir())
    except OSError as exc:
        raise BundleError(f"--to {target}: {exc.strerror}") from None
    if not_empty and not replace:
        held = f"bundle {str(marker.get('name'))[:80]!r}" if marker else "other files"
        raise BundleError(f"{target} is not empty (it holds {held}); choose another --to or pass --replace")

    total = sum(a.size for a in meta.artifacts)
    check_space([(target.parent, total, "the unpacked bundle")])
    staging = target.with_name(f".{target.name}.unpacking-{os.getpid()}")
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.rmtree(staging, ignore_errors=True)
        staging.mkdir()
    except OSError as exc:
        raise BundleError(f"cannot unpack into {target}: {exc.filename or target.parent}: {exc.strerror}") from None
    with staged(staging, target):
        state = StreamState()
        members, nbytes = _extract(archive, staging, state)
        signature = staging / SIGNATURE
        checksums = (staging / CHECKSUMS).read_bytes()
        signer, trusted = check_trust(checksums,
                                      signature.read_bytes() if signature.exists() else None,
                                      (staging / PUBLIC_KEY).read_bytes() if (staging / PUBLIC_KEY).exists() else None,
                                      fingerprint=fingerprint, keyring=keyring)
        done_ns = time.time_ns()  # no file of the tree is newer: a delta unpacked later relies on it
        (staging / MARKER).write_text(json.dumps(
            {"identity": identity, "name": meta.name, "archive": archive.name, "unpacked_at": done_ns // 10**9,
             "unpacked_at_ns": done_ns,
             "archive_sha256": state.file_hash.hexdigest(), "archive_bytes": state.file_bytes,
             "content_digest": content_digest(checksums), "signer": signer},
            indent=1))
        if target.exists():
            previous = target.with_name(f".{target.name}.previous-{os.getpid()}")
            os.replace(target, previous)
            os.replace(staging, target)
            shutil.rmtree(previous, ignore_errors=True)
        else:
            os.replace(staging, target)
    return UnpackResult(target, False, members, nbytes, meta.name, signer, trusted)


# Errors creating a member's file that say the archive's layout is impossible, not that the disk is.
_LAYOUT_ERRNOS = {errno.EEXIST, errno.ENOTDIR, errno.EISDIR, errno.ENAMETOOLONG, errno.EINVAL, errno.EILSEQ}


@contextmanager
def staged(staging: Path, target: Path) -> Iterator[None]:
    """Work that fills `staging` for `target`: on any failure the staging directory goes, and an OS error becomes
    one line (a full disk said so). Full and delta unpacks both run inside it."""
    try:
        yield
    except OSError as exc:
        shutil.rmtree(staging, ignore_errors=True)
        if exc.errno == errno.ENOSPC:
            raise SpaceError(f"disk full while unpacking into {staging}") from None
        raise BundleError(f"cannot unpack into {target}: {exc.filename or staging}: {exc.strerror}") from None
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise


def _extract(archive: Path, staging: Path, state: StreamState, from_base: frozenset[str] = frozenset(),
             extra: frozenset[str] = frozenset()) -> tuple[int, int]:
    """A delta (bundle/unpack_delta.py) leaves out the members `from_base` and carries the `extra` ones.

    For a split archive, a member that fails its check is blamed on the part that holds the damage, if one does.
    """
    try:
        return _extract_members(archive, staging, state, from_base, extra)
    except IntegrityError:
        if is_parts_manifest(archive) and (bad := name_bad_part(archive)) is not None:
            raise IntegrityError(bad) from None
        raise


def _extract_members(archive: Path, staging: Path, state: StreamState, from_base: frozenset[str],
                     extra: frozenset[str]) -> tuple[int, int]:
    listed: dict[str, str] | None = None
    head_digest = None
    seen: set[str] = set()
    members = nbytes = 0
    for member in iter_members(archive, state):
        name = member.name
        info = member.info
        if info.isdir():
            continue
        _safe_name(name)
        if not info.isfile():
            kind = "link" if (info.issym() or info.islnk()) else "device or special file"
            raise IntegrityError(f"refusing member {name!r}: a {kind}; bundles hold regular files only")
        if name in seen:
            raise IntegrityError(f"refusing member {name!r}: it appears twice in the archive")
        seen.add(name)
        if name not in (BUNDLE_JSON, CHECKSUMS) and listed is None:
            raise IntegrityError(f"{archive}: {CHECKSUMS} must come before {name!r}; not a wire-bundle archive")
        if name not in (BUNDLE_JSON, CHECKSUMS, SIGNATURE, *extra) and (listed is None or name not in listed):
            raise IntegrityError(f"refusing member {name!r}: not listed in {CHECKSUMS}")
        limit = _LIMITS.get(name)
        if limit is not None and member.size > limit:
            raise IntegrityError(f"{archive}: {name} is {member.size} bytes, more than the {limit} it may have")
        dest = staging / name
        h = hashlib.sha256()
        buf = bytearray() if name == CHECKSUMS else None
        try:
            dest.parent.mkdir(parents=True, exist_ok=True)
            with open(dest, "xb") as out:
                for chunk in member.chunks:
                    h.update(chunk)
                    out.write(chunk)
                    if buf is not None:
                        buf += chunk
        except OSError as exc:
            if exc.errno == errno.ENOSPC:
                raise SpaceError(f"disk full while unpacking {name} into {staging}") from None
            if exc.errno in _LAYOUT_ERRNOS:
                raise IntegrityError(f"refusing member {name!r}: it cannot be created there ({exc.strerror})") \
                    from None
            raise
        members += 1
        nbytes += member.size
        if name == CHECKSUMS and buf is not None:
            listed = parse_checksums(bytes(buf))
            head = listed.get(BUNDLE_JSON)
            if head != head_digest:
                raise IntegrityError(f"{BUNDLE_JSON}: sha256 mismatch (expected {head}, got {head_digest})")
        elif name == BUNDLE_JSON:
            head_digest = h.hexdigest()  # checked as soon as checksums.sha256, the next member, is read
        elif name == SIGNATURE or name in extra:
            pass  # checked against checksums.sha256 once everything is extracted
        elif listed is not None and listed.get(name) != h.hexdigest():
            raise IntegrityError(f"{name}: sha256 mismatch (expected {listed.get(name)}, got {h.hexdigest()})")
        elif name.startswith("images/blobs/sha256/") and name.rsplit("/", 1)[1] != h.hexdigest():
            raise IntegrityError(f"{name}: content does not match its digest name")
    if listed is None:
        raise IntegrityError(f"{archive}: no {CHECKSUMS}")
    missing = sorted(set(listed) - seen - from_base)
    if missing:
        more = f" and {len(missing) - 1} more" if len(missing) > 1 else ""
        raise IntegrityError(f"{missing[0][:200]!r}{more}: listed in {CHECKSUMS} but missing from the archive")
    return members, nbytes


_LIMITS = {name: KEPT_MAX[name] for name in (CHECKSUMS, SIGNATURE, PUBLIC_KEY)}
