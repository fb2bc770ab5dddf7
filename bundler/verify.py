"""Verify an archive offline, in one streaming pass: every member, every blob digest, nothing extra."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path

from bundler.archive import (
    BUNDLE_JSON,
    CHECKSUMS,
    SIGNATURE,
    StreamState,
    content_digest,
    iter_members,
    parse_checksums,
)
from bundler.errors import BundleError, IntegrityError
from bundler.signing import PUBLIC_KEY, check_trust

BLOB_PREFIXES = ("images/blobs/sha256/",)


@dataclass
class VerifyReport:
    path: Path
    problems: list[tuple[str, str]] = field(default_factory=list)  # (member, what is wrong)
    members: int = 0
    bytes: int = 0
    content_digest: str = ""
    file_sha256: str = ""
    bundle: dict | None = None
    signer: str | None = None
    trusted: bool = False

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
            keep = member.name in (BUNDLE_JSON, CHECKSUMS, SIGNATURE, PUBLIC_KEY)
            buf = bytearray()
            for chunk in member.chunks:
                h.update(chunk)
                report.bytes += len(chunk)
                if keep:
                    buf += chunk
            digest = h.hexdigest()
            seen[member.name] = digest
            if keep:
                kept[member.name] = bytes(buf)
            if member.name == CHECKSUMS:
                try:
                    listed = parse_checksums(bytes(buf))
                except IntegrityError as exc:
                    report.problems.append((member.name, str(exc)))
            elif member.name == BUNDLE_JSON:
                try:
                    report.bundle = json.loads(bytes(buf))
                except ValueError:
                    report.problems.append((member.name, "is not valid JSON"))
            if member.name.startswith(BLOB_PREFIXES) and member.name.rsplit("/", 1)[-1] != digest:
                report.problems.append((member.name, f"content hashes to sha256:{digest}, not the name's digest"))
    except IntegrityError as exc:
        report.problems.append(("(stream)", str(exc).split(": ", 1)[-1]))
    if CHECKSUMS in kept:
        report.content_digest = content_digest(kept[CHECKSUMS])
    report.file_sha256 = state.file_hash.hexdigest()

    if listed is None:
        report.problems.append((CHECKSUMS, "missing"))
        listed = {}
    for name, expected in sorted(listed.items()):
        if name not in seen:
            report.problems.append((name, "listed in checksums.sha256 but missing from the archive"))
        elif seen[name] != expected:
            report.problems.append((name, f"sha256 mismatch (expected {expected}, got {seen[name]})"))
    for name in sorted(set(seen) - set(listed) - {CHECKSUMS, SIGNATURE}):
        if listed:
            report.problems.append((name, "not listed in checksums.sha256"))
    if report.bundle is None and not any(m == BUNDLE_JSON for m, _ in report.problems):
        report.problems.append((BUNDLE_JSON, "missing"))
    elif report.bundle is not None:
        for art in report.bundle.get("artifacts", []):
            name = art["path"]
            if name in listed and art["digest"].split(":", 1)[1] != listed[name]:
                report.problems.append((name, "bundle.json and checksums.sha256 disagree"))

    if CHECKSUMS in kept:
        try:
            report.signer, report.trusted = check_trust(
                kept[CHECKSUMS], kept.get(SIGNATURE), kept.get(PUBLIC_KEY), fingerprint=fingerprint, keyring=keyring)
        except BundleError as exc:
            report.problems.append((SIGNATURE, str(exc)))

    sidecar = path.with_name(path.name + ".sha256")
    if sidecar.exists() and not any(m == "(stream)" for m, _ in report.problems):
        expected = sidecar.read_text().split()[0] if sidecar.read_text().strip() else ""
        if expected != report.file_sha256:
            report.problems.append((sidecar.name, f"file sha256 is {report.file_sha256}, sidecar says {expected}"))
    return report
