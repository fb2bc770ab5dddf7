"""bundle.json's `kinds.toolchain`: the admin host's wheelhouse and Ansible collections."""

from __future__ import annotations

from pydantic import StrictStr

from bundler.bundle.lock import CollectionLock, Record, WheelLock


class CollectionSummary(CollectionLock):
    file: StrictStr  # its tarball under toolchain/collections/
    sha256: StrictStr


class ToolchainSummary(Record):
    python: StrictStr
    platform: StrictStr
    project: WheelLock  # this project's own wheel, built from the source tree at build time
    wheels: list[WheelLock]
    collections_source: WheelLock | None  # the wheel the collections were taken from
    collections: list[CollectionSummary]
    install: StrictStr  # how to install it on the admin host
