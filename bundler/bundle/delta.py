"""Delta bundles: NEW's bundle.json and full checksums.sha256, but only the members whose digest the base lacks.

A delta is an ordinary archive with two more members: `delta.json` after checksums.sha256, which names the base
by its content digest and lists every member the base supplies, and `delta.json.asc` before the last member, its
detached signature by the bundle key. checksums.sha256 (signed as in every bundle) is NEW's in full, so
unpacking a delta onto the unpacked base is checked against exactly what a full NEW bundle would have been, and
the result is the same tree (`unpack_delta.py`). Images are stored blob by blob, so "member" means a layer for
images and a file for every other kind.
"""

from __future__ import annotations

import concurrent.futures
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated

from pydantic import BaseModel, ConfigDict, StrictInt, StrictStr, StringConstraints, ValidationError

from bundler.bundle.archive import (
    BUNDLE_JSON,
    CHECKSUMS,
    check_member_name,
    content_digest,
    head_bytes,
    unique_artifacts,
)
from bundler.bundle.artifacts import Artifact
from bundler.bundle.basis import Basis
from bundler.bundle.manifest import Manifest
from bundler.bundle.mediatypes import DELTA_JSON, DELTA_SIGNATURE, PUBLIC_KEY
from bundler.errors import IntegrityError

DELTA_FORMAT = "wire-bundle-delta/1"

Digest = Annotated[StrictStr, StringConstraints(pattern=r"^sha256:[0-9a-f]{64}$")]


class Declaration(BaseModel):
    """delta.json: which bundle it needs underneath and which members that bundle supplies."""

    model_config = ConfigDict(extra="forbid", defer_build=True)
    format: StrictStr
    base: Digest  # the base's content digest
    base_name: StrictStr
    content_digest: Digest  # NEW's: the sha256 of the checksums.sha256 this delta carries
    from_base: list[StrictStr]  # member paths of NEW whose bytes the base holds (by digest, at any path)
    carried_bytes: StrictInt
    from_base_bytes: StrictInt


@dataclass(frozen=True)
class DeltaPlan:
    declaration: bytes
    leave_out: frozenset[str]
    carried: int
    carried_bytes: int
    from_base_bytes: int


def plan_delta(basis: Basis, metadata: Manifest, artifacts: list[Artifact]) -> DeltaPlan:
    """Which of NEW's artifacts the base supplies, and the declaration saying so (deterministic: sorted)."""
    artifacts = unique_artifacts(artifacts)
    have = basis.digests
    # The public key is always carried (a few KiB): verify checks a delta on its own.
    leave = sorted(a.path for a in artifacts if a.digest in have and a.path != PUBLIC_KEY)
    _, checksums = head_bytes(metadata, artifacts)
    left = set(leave)
    decl = Declaration(
        format=DELTA_FORMAT, base=basis.content_digest, base_name=basis.name,
        content_digest=content_digest(checksums), from_base=leave,
        carried_bytes=sum(a.size for a in artifacts if a.path not in left),
        from_base_bytes=sum(a.size for a in artifacts if a.path in left),
    )
    data = (json.dumps(decl.model_dump(), indent=1, sort_keys=True) + "\n").encode()
    return DeltaPlan(data, frozenset(leave), len(artifacts) - len(leave), decl.carried_bytes, decl.from_base_bytes)


def parse_declaration(data: bytes, listed: dict[str, str]) -> Declaration:
    """delta.json checked against the checksums.sha256 it came with; IntegrityError names the first problem."""
    try:
        decl = Declaration.model_validate_json(data)
    except ValidationError as exc:
        err = exc.errors()[0]
        at = ".".join(str(p) for p in err["loc"]) or "(top)"
        raise IntegrityError(f"{DELTA_JSON}: {at[:80]}: {err['msg'][:160]}") from None
    if decl.format != DELTA_FORMAT:
        raise IntegrityError(f"{DELTA_JSON}: unknown delta format {decl.format[:60]!r} (this tool reads "
                             f"{DELTA_FORMAT})")
    if len(set(decl.from_base)) != len(decl.from_base):
        raise IntegrityError(f"{DELTA_JSON}: from_base names a member twice")
    for path in decl.from_base:
        check_member_name(path)
        if path not in listed or path == BUNDLE_JSON:
            raise IntegrityError(f"{DELTA_JSON}: {path[:120]!r} is to come from the base but is not an artifact "
                                 "listed in checksums.sha256")
    return decl


def needs_line(decl: Declaration) -> str:
    from bundler.bundle.space import human

    return (f"delta: needs the bundle {decl.base_name!r} ({decl.base}) unpacked underneath; carries "
            f"{human(decl.carried_bytes)}, takes {len(decl.from_base)} members ({human(decl.from_base_bytes)}) "
            "from the base")


def check_delta_members(report, kept: dict[str, bytes], listed: dict[str, str], seen: dict[str, str]) -> set[str]:
    """verify's part for a delta: its declaration, and that the base's members are exactly those not carried.

    Sets `report.delta`; returns the paths the base supplies (not missing, though not in the archive)."""
    if DELTA_JSON not in kept or CHECKSUMS not in kept:
        return set()
    try:
        decl = parse_declaration(kept[DELTA_JSON], listed)
    except IntegrityError as exc:
        report.problems.append((DELTA_JSON, str(exc).removeprefix(f"{DELTA_JSON}: ")))
        return set()
    if decl.content_digest != content_digest(kept[CHECKSUMS]):
        report.problems.append((DELTA_JSON, f"declares content digest {decl.content_digest}, but the "
                                            f"{CHECKSUMS} it came with is {content_digest(kept[CHECKSUMS])}"))
    for path in decl.from_base:
        if path in seen:
            report.problems.append((path, "carried in the archive, but delta.json says the base supplies it"))
    report.delta = decl
    return set(decl.from_base)


@dataclass(frozen=True)
class DeltaMembers:
    plan: DeltaPlan
    head: tuple[tuple[str, bytes], ...]  # after checksums.sha256: the declaration
    tail: Callable[[], tuple[tuple[str, bytes], ...]]  # before the last member: its signature, made meanwhile


def delta_members(basis: Basis, metadata: Manifest, artifacts: list[Artifact], sign: Callable[[bytes], bytes],
                  pool: concurrent.futures.Executor) -> DeltaMembers:
    """The plan and what write_archive adds for it; the declaration is signed on `pool` while artifacts stream
    (gpg takes about half a second: a tenth of a small delta's build)."""
    plan = plan_delta(basis, metadata, artifacts)
    signature = pool.submit(sign, plan.declaration)
    return DeltaMembers(plan, ((DELTA_JSON, plan.declaration),), lambda: ((DELTA_SIGNATURE, signature.result()),))
