"""bundle.json's `kinds.debs`: the signed apt repository a bundle holds, per target its packages."""

from __future__ import annotations

from pydantic import StrictBool, StrictInt, StrictStr

from bundler.bundle.lock import Record


class RepoKeySummary(Record):
    """The key that signed the repository's Release files."""

    fingerprint: StrictStr
    created: StrictInt  # epoch seconds
    expires: StrictInt | None  # None: never
    origin: StrictStr  # "generated" or the file it was read from


class DebSummary(Record):
    name: StrictStr
    version: StrictStr
    architecture: StrictStr
    size: StrictInt
    sha256: StrictStr
    requested: StrictBool  # named in the spec (else a dependency)


class DebTargetSummary(Record):
    name: StrictStr
    suite: StrictStr
    architecture: StrictStr
    baseline: StrictStr
    baseline_count: StrictInt  # packages the baseline already has, left out
    packages: list[DebSummary]
    bytes: StrictInt


class DebsSummary(Record):
    keyring: StrictStr  # its member path
    key: RepoKeySummary
    date: StrictStr  # the Release files' Date (RFC 2822)
    signed_at: StrictInt
    suites: list[StrictStr]
    targets: list[DebTargetSummary]
