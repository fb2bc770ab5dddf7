"""Verify an archive offline, in one streaming pass: every member, every blob digest, nothing extra."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path

from bundler.bundle.archive import (
    KEPT_MAX,
    StreamState,
    content_digest,
    iter_members,
    parse_bundle_json,
    parse_checksums,
)
from bundler.bundle.delta import Declaration, check_delta_members
from bundler.bundle.manifest import BundleHead
from bundler.bundle.mediatypes import BUNDLE_JSON, CHECKSUMS, DELTA_JSON, DELTA_SIGNATURE, PUBLIC_KEY, SIGNATURE
from bundler.bundle.signing import check_trust
from bundler.errors import BundleError, IntegrityError

BLOB_PREFIXES = ("images/blobs/sha256/",)


@dataclass
class VerifyReport:
    path: Path
    problems: list[tuple[str, str]] = field(default_factory=list)  # (member, what is wrong)
    members: int = 0
    bytes: int = 0
    content_digest: str = ""
    file_sha256: str = ""
    bundle: BundleHead | None = None
    signer: str | None = None
    trusted: bool = False
    delta: Declaration | None = None  # when the archive is a delta

    @property
    def ok(self) -> bool:
        return not self.problems


def verify_archive(path: Path, on_bytes=None, fingerprint: str | None = None,
                   keyring: Path | None = None) -> VerifyReport:
    report = VerifyReport(path)
    kept: dict[str, bytes] = {}
    state = StreamState()
    seen: dict[str, str] = {}
    listed: dict[str, str] | None = None
    try:
        for member in iter_members(path, state, on_bytes):
            report.members += 1
            if member.name in seen:
                report.problems.append((member.name, "appears twice in the archive"))
            if not member.info.isfile():
                report.problems.append((member.name, "is not a regular file"))
                continue
            h = hashlib.sha256()
            limit = KEPT_MAX.get(member.name)  # kept in memory, checked once the stream has ended
            if limit is not None and member.size > limit:
                report.problems.append((member.name, f"is {member.size} bytes, more than the {limit} it may have"))
                limit = None
            buf = bytearray()
            for chunk in member.chunks:
                h.update(chunk)
                report.bytes += len(chunk)
                if limit is not None:
                    buf += chunk
            digest = h.hexdigest()
            seen[member.name] = digest
            if limit is not None:
                kept[member.name] = bytes(buf)
            if member.name == CHECKSUMS and limit is not None:
                try:
                    listed = parse_checksums(bytes(buf))
                except IntegrityError as exc:
                    report.problems.append((member.name, str(exc)))
            elif member.name == BUNDLE_JSON and limit is not None:
                try:
                    report.bundle = parse_bundle_json(bytes(buf))
                except IntegrityError as exc:
                    report.problems.append((member.name, str(exc)))
            if member.name.startswith(BLOB_PREFIXES) and member.name.rsplit("/", 1)[-1] != digest:
                report.problems.append((member.name, f"content hashes to sha256:{digest}, not the name's digest"))
    except IntegrityError as exc:
        report.problems.append(("(stream)", str(exc).split(": ", 1)[-1]))
    if CHECKSUMS in kept:
        report.content_digest = content_digest(kept[CHECKSUMS])
    report.file_sha256 = state.file_hash.hexdigest()

    stream_broken = any(m == "(stream)" for m, _ in report.problems)
    if listed is None:
        if not any(m == CHECKSUMS for m, _ in report.problems) and not stream_broken:
            report.problems.append((CHECKSUMS, "missing"))
        listed = {}
    from_base = check_delta_members(report, kept, listed, seen) if DELTA_JSON in seen else set()
    for name, expected in sorted(listed.items()):
        if name in from_base:
            continue  # the base supplies it
        if name not in seen and stream_broken:
            continue  # unread behind the break, not missing: the stream's problem says it all
        if name not in seen:
            report.problems.append((name, "listed in checksums.sha256 but missing from the archive"))
        elif seen[name] != expected:
            report.problems.append((name, f"sha256 mismatch (expected {expected}, got {seen[name]})"))
    for name in sorted(set(seen) - set(listed) - {CHECKSUMS, SIGNATURE, DELTA_JSON, DELTA_SIGNATURE}):
        if listed:
            report.problems.append((name, "not listed in checksums.sha256"))
    if report.bundle is None and not stream_broken and not any(m == BUNDLE_JSON for m, _ in report.problems):
        report.problems.append((BUNDLE_JSON, "missing"))
    elif report.bundle is not None:
        for art in report.bundle.artifacts:
            name = art.path
            if name in listed and art.digest.split(":", 1)[1] != listed[name]:
                report.problems.append((name, "bundle.json and checksums.sha256 disagree"))

    if CHECKSUMS in kept and not report.problems:
        try:
            report.signer, report.trusted = check_trust(
                kept[CHECKSUMS], kept.get(SIGNATURE), kept.get(PUBLIC_KEY), fingerprint=fingerprint, keyring=keyring)
        except BundleError as exc:
            report.problems.append((SIGNATURE, str(exc)))
    if report.delta is not None and not report.problems:
        try:
            check_trust(kept[DELTA_JSON], kept.get(DELTA_SIGNATURE), kept.get(PUBLIC_KEY),
                        fingerprint=fingerprint, keyring=keyring)
        except BundleError as exc:
            report.problems.append((DELTA_SIGNATURE, str(exc)))

    sidecar_problem = _check_sidecar(path, report.file_sha256)
    if sidecar_problem and not stream_broken:
        report.problems.append(sidecar_problem)
    return report


def _check_sidecar(path: Path, file_sha256: str) -> tuple[str, str] | None:
    """The `.sha256` beside the archive, when there is one, must name the file's sha256."""
    sidecar = path.with_name(path.name + ".sha256")
    try:
        with open(sidecar, "rb") as f:
            text = f.read(4096).decode("ascii", "replace")
    except FileNotFoundError:
        return None
    except OSError as exc:
        return sidecar.name, f"cannot read: {exc.strerror}"
    expected = text.split()[0] if text.strip() else ""
    if expected != file_sha256:
        return sidecar.name, f"file sha256 is {file_sha256}, sidecar says {expected[:64]!r}"
    return None
