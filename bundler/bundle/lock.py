"""The lock file (SPEC.lock.json) as typed records: what `lock` pins and `build` fetches, section by kind.

The file on disk is the records' JSON with the keys each one was given, sorted, indented by two: a record
read from a lock and written again gives the same bytes (optional keys that were absent stay absent, a
`null` stays `null`). A lock whose spec digest matches but whose content does not fit these records is
refused with one line naming the file and the first field that is wrong.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, StrictBool, StrictInt, StrictStr, ValidationError

from bundler.bundle.yamlsrc import load_json
from bundler.errors import SpecError
from bundler.kinds import KIND_NAMES

LOCK_VERSION: Literal[1] = 1


class Record(BaseModel):
    """A record of the lock or of bundle.json (each kind's summary): strict types, no unknown keys; serialised
    with the keys it was given."""

    model_config = ConfigDict(extra="forbid", strict=True, defer_build=True)

    def to_json(self) -> dict[str, Any]:
        return self.model_dump(mode="json", exclude_unset=True)


# --- images -------------------------------------------------------------------------------------------------


class WhyRecord(Record):
    """Why an image is in the bundle: the spec lists it, or a chart's template or annotation names it."""

    source: StrictStr  # "spec", "template" or "annotation"
    image: StrictStr | None = None  # as the chart wrote it
    chart: StrictStr | None = None
    version: StrictStr | None = None
    template: StrictStr | None = None
    kind: StrictStr | None = None
    object: StrictStr | None = None
    container: StrictStr | None = None
    field: StrictStr | None = None
    values: list[StrictStr] | None = None  # the value sets whose rendering had it


class PlatformLock(Record):
    platform: StrictStr
    digest: StrictStr
    media_type: StrictStr
    size: StrictInt


class ImageLock(Record):
    ref: StrictStr
    digest: StrictStr  # of the index, or of the manifest of a single-platform image
    media_type: StrictStr
    size: StrictInt
    source: StrictStr  # the registry it came from (a mirror's, when one served it)
    why: list[WhyRecord] = []
    platforms: list[PlatformLock] | None  # None: a single-platform image, taken as it is


# --- charts -------------------------------------------------------------------------------------------------


class ValueSetLock(Record):
    set: StrictStr
    digests: list[StrictStr]  # of each values file, in order


class ReleaseLock(Record):
    """The release manifest (Wire's build.json) a chart was taken from."""

    manifest: StrictStr
    sha256: StrictStr
    version: StrictStr


class ChartLock(Record):
    name: StrictStr
    repo: StrictStr
    constraint: StrictStr
    version: StrictStr
    url: StrictStr
    digest: StrictStr
    size: StrictInt | None = None
    manifest: StrictStr | None = None  # an OCI chart's manifest digest
    within: list[StrictStr] = []  # the vendored subchart of its parent that declares it
    dependencies: list[ChartLock] = []
    # Top-level charts only:
    values: list[ValueSetLock] = []
    images: list[WhyRecord] = []
    release: ReleaseLock | None = None


# --- debs ---------------------------------------------------------------------------------------------------


class DebSourceLock(Record):
    uri: StrictStr
    suites: list[StrictStr]
    components: list[StrictStr]


class DebLock(Record):
    name: StrictStr
    version: StrictStr
    architecture: StrictStr
    component: StrictStr
    filename: StrictStr  # path in the source archive
    path: StrictStr  # path in the bundle's repository
    url: StrictStr
    sha256: StrictStr
    size: StrictInt
    requested: StrictBool


class DebTargetLock(Record):
    name: StrictStr
    suite: StrictStr
    architecture: StrictStr
    baseline: StrictStr
    sources: list[DebSourceLock]
    date: StrictStr  # newest Date of the sources' Release files (RFC 2822)
    baseline_packages: list[StrictStr]
    packages: list[DebLock]


class DebsLock(Record):
    requested: list[StrictStr]
    install_recommends: StrictBool
    date: StrictStr
    targets: list[DebTargetLock]


# --- files --------------------------------------------------------------------------------------------------


class FileLock(Record):
    path: StrictStr  # under files/ in the archive
    url: StrictStr
    algorithm: StrictStr
    checksum: StrictStr  # hex, in `algorithm`
    size: StrictInt | None  # None: the server did not say; learned on fetch
    sha256: StrictStr | None = None  # given beside a checksum of another algorithm


# --- toolchain ----------------------------------------------------------------------------------------------


class WheelLock(Record):
    name: StrictStr
    version: StrictStr
    filename: StrictStr
    sha256: StrictStr


class ProjectLock(Record):
    name: StrictStr
    version: StrictStr


class CollectionLock(Record):
    name: StrictStr
    version: StrictStr
    dependencies: list[StrictStr]
    requested: StrictBool


class ToolchainLock(Record):
    python: StrictStr
    platform: StrictStr
    project: ProjectLock
    wheels: list[WheelLock]
    collections_source: WheelLock | None = None
    collections: list[CollectionLock] | None = None


# --- the lock -----------------------------------------------------------------------------------------------


class Lock(Record):
    version: Literal[1]
    spec_digest: StrictStr
    locked_at: StrictInt  # epoch seconds: every archive member's mtime and the signature's time
    tool: StrictStr
    charts: list[ChartLock] | None = None
    images: list[ImageLock] | None = None
    debs: DebsLock | None = None
    files: list[FileLock] | None = None
    toolchain: ToolchainLock | None = None

    def section(self, kind: str) -> Any:
        """The kind's section, or None when the lock has none."""
        return getattr(self, kind, None)

    def kinds(self) -> list[str]:
        """The kinds the lock has a section for, in pipeline order."""
        return [k for k in KIND_NAMES if getattr(self, k) is not None]

    def dumps(self) -> str:
        return json.dumps(self.to_json(), indent=2, sort_keys=True) + "\n"


def field_path(loc: tuple[int | str, ...]) -> str:
    return ".".join(str(p) for p in loc) or "(top)"


def parse_lock(data: Any, path: Path) -> Lock:
    """`data` (the parsed file at `path`) as a Lock; SpecError naming the file, the field and the cause
    otherwise."""
    if not isinstance(data, dict):
        raise SpecError(f"lock file {path}: not a JSON object; delete it or run `wire-bundle lock`")
    if data.get("version") != LOCK_VERSION:
        raise SpecError(f"{path}: lock version {data.get('version')!r} is not {LOCK_VERSION}; run `wire-bundle lock`")
    try:
        return Lock.model_validate(data)
    except ValidationError as exc:
        err = exc.errors()[0]
        raise SpecError(f"lock file {path}: {field_path(err['loc'])[:160]}: {err['msg'][:200]}; delete it or run "
                        "`wire-bundle lock`") from None


def _load(path: Path) -> Any:
    try:
        return load_json(path, f"lock file {path}", SpecError)
    except SpecError as exc:
        raise SpecError(f"{exc}; delete it or run `wire-bundle lock`") from None


def read_lock(path: Path) -> Lock | None:
    """The lock at `path`, or None when there is none."""
    if not path.exists():
        return None
    return parse_lock(_load(path), path)


def read_lock_for(path: Path, spec_digest: str) -> tuple[bool, Lock | None]:
    """(whether there is a lock file, the lock when it was made for the spec with `spec_digest`).

    A lock made for another version of the spec is checked only as far as being a version-1 JSON object: `build`
    replaces it, as it always has, whatever else it holds."""
    if not path.exists():
        return False, None
    data = _load(path)
    if isinstance(data, dict) and data.get("version") == LOCK_VERSION and data.get("spec_digest") != spec_digest:
        return True, None
    return True, parse_lock(data, path)


def write_lock(path: Path, lock: Lock) -> None:
    tmp = path.with_name(path.name + ".partial")
    tmp.write_text(lock.dumps())
    os.replace(tmp, path)
