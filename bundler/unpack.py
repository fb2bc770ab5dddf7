"""Unpack an archive on the island: verify while extracting, in one streaming pass, all or nothing.

Members land in a temporary sibling of the target directory and are checked against checksums.sha256 as they
stream; only when every member is present and intact is the sibling renamed into place. A marker records which
bundle a directory holds, so unpacking the same bundle again reads only the archive's head.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import time
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from bundler.archive import BUNDLE_JSON, CHECKSUMS, SIGNATURE, iter_members, parse_checksums, read_bundle_json
from bundler.errors import BundleError, IntegrityError, SpaceError
from bundler.signing import PUBLIC_KEY, check_trust
from bundler.space import check_space

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


def bundle_identity(meta: dict) -> str:
    """bundle.json names every artifact by digest, so its own digest identifies the content."""
    return "sha256:" + hashlib.sha256(json.dumps(meta, sort_keys=True).encode()).hexdigest()


def read_marker(target: Path) -> dict | None:
    try:
        return json.loads((target / MARKER).read_text())
    except (FileNotFoundError, NotADirectoryError, ValueError):
        return None


def _still_intact(target: Path, meta: dict) -> bool:
    """Cheap re-check for a second unpack: every artifact there with its size (content was hashed before)."""
    for art in meta["artifacts"]:
        p = target / art["path"]
        try:
            if p.stat().st_size != art["size"]:
                return False
        except OSError:
            return False
    return True


def _safe_name(name: str) -> PurePosixPath:
    p = PurePosixPath(name)
    if not name or p.is_absolute() or ".." in p.parts or "\\" in name or name.startswith("./"):
        raise IntegrityError(f"refusing member {name!r}: path leaves the target directory")
    return p


def unpack(archive: Path, target: Path, replace: bool = False, log=print, fingerprint: str | None = None,
           keyring: Path | None = None) -> UnpackResult:
    target = target.absolute()
    meta = read_bundle_json(archive)
    identity = bundle_identity(meta)
    marker = read_marker(target)
    if marker and marker.get("identity") == identity and _still_intact(target, meta):
        log(f"{target} already holds this bundle ({meta['name']}, unpacked and verified "
            f"{time.strftime('%Y-%m-%d %H:%M', time.gmtime(marker['unpacked_at']))} UTC); nothing to do")
        return UnpackResult(target, True, len(meta["artifacts"]), 0, meta["name"])
    if target.exists() and any(target.iterdir()) and not replace:
        held = f"bundle {marker.get('name')!r}" if marker else "other files"
        raise BundleError(f"{target} is not empty (it holds {held}); choose another --to or pass --replace")

    total = sum(a["size"] for a in meta["artifacts"])
    check_space([(target.parent, total, "the unpacked bundle")])
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = target.with_name(f".{target.name}.unpacking-{os.getpid()}")
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir()
    try:
        members, nbytes = _extract(archive, staging)
        signature = staging / SIGNATURE
        signer, trusted = check_trust((staging / CHECKSUMS).read_bytes(),
                                      signature.read_bytes() if signature.exists() else None,
                                      (staging / PUBLIC_KEY).read_bytes() if (staging / PUBLIC_KEY).exists() else None,
                                      fingerprint=fingerprint, keyring=keyring)
        (staging / MARKER).write_text(json.dumps(
            {"identity": identity, "name": meta["name"], "archive": archive.name, "unpacked_at": int(time.time())},
            indent=1))
        if target.exists():
            previous = target.with_name(f".{target.name}.previous-{os.getpid()}")
            os.replace(target, previous)
            os.replace(staging, target)
            shutil.rmtree(previous, ignore_errors=True)
        else:
            os.replace(staging, target)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return UnpackResult(target, False, members, nbytes, meta["name"], signer, trusted)


def _extract(archive: Path, staging: Path) -> tuple[int, int]:
    listed: dict[str, str] | None = None
    seen: set[str] = set()
    members = nbytes = 0
    for member in iter_members(archive):
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
        if name not in (BUNDLE_JSON, CHECKSUMS, SIGNATURE) and name not in listed:
            raise IntegrityError(f"refusing member {name!r}: not listed in {CHECKSUMS}")
        dest = staging / name
        dest.parent.mkdir(parents=True, exist_ok=True)
        h = hashlib.sha256()
        buf = bytearray() if name == CHECKSUMS else None
        try:
            with open(dest, "xb") as out:
                for chunk in member.chunks:
                    h.update(chunk)
                    out.write(chunk)
                    if buf is not None:
                        buf += chunk
        except OSError as exc:
            if exc.errno == 28:
                raise SpaceError(f"disk full while unpacking {name} into {staging}") from None
            raise
        members += 1
        nbytes += member.size
        if name == CHECKSUMS:
            listed = parse_checksums(bytes(buf))
        elif name == SIGNATURE:
            pass  # checked against checksums.sha256 once everything is extracted
        elif listed is not None and listed.get(name) != h.hexdigest():
            raise IntegrityError(f"{name}: sha256 mismatch (expected {listed.get(name)}, got {h.hexdigest()})")
        elif name.startswith("images/blobs/sha256/") and name.rsplit("/", 1)[1] != h.hexdigest():
            raise IntegrityError(f"{name}: content does not match its digest name")
    if listed is None:
        raise IntegrityError(f"{archive}: no {CHECKSUMS}")
    missing = sorted(set(listed) - seen)
    if missing:
        more = f" and {len(missing) - 1} more" if len(missing) > 1 else ""
        raise IntegrityError(f"{missing[0]}{more}: listed in {CHECKSUMS} but missing from the archive")
    return members, nbytes
