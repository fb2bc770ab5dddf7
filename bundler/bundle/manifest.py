"""bundle.json, the archive's first member, as typed records: what a bundle holds.

`Manifest` is what `build` writes; `BundleHead` is what readers (inspect, verify, unpack) check in an archive
they have not verified yet: the fields every reader relies on, the rest carried along unchecked. Each kind's
summary is a record its package owns (bundler/kinds/<kind>/summary.py), gathered in `KindSummaries`: `build`
writes them, and a reader that needs them (inspect, diff) checks them with `BundleHead.summaries()`, so verify and
unpack do not depend on them. Both serialise to the same JSON the dicts did: keys sorted, indented by one.
"""

from __future__ import annotations

import json
from typing import Annotated, Any

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StrictInt,
    StrictStr,
    StringConstraints,
    ValidationError,
)

from bundler.bundle.lock import Lock, Record, field_path
from bundler.bundle.mediatypes import BUNDLE_FORMAT, BUNDLE_JSON
from bundler.errors import IntegrityError
from bundler.kinds.charts.summary import ChartSummary
from bundler.kinds.debs.summary import DebsSummary
from bundler.kinds.files.summary import FileSummary
from bundler.kinds.images.summary import ImagesSummary
from bundler.kinds.toolchain.summary import ToolchainSummary


def dumps(document: dict[str, Any]) -> bytes:
    """bundle.json's bytes: sorted keys, one-space indent, a final newline."""
    return (json.dumps(document, indent=1, sort_keys=True) + "\n").encode()


class ManifestArtifact(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, defer_build=True)

    path: StrictStr
    digest: StrictStr
    size: StrictInt
    kind: StrictStr
    media_type: StrictStr | None
    origin: StrictStr | None


class SbomSummary(BaseModel):
    """bundle.json's `sbom`: where the SBOM is and how many components of each type it lists (for inspect)."""

    model_config = ConfigDict(extra="forbid", strict=True, defer_build=True)

    member: StrictStr
    format: StrictStr
    components: dict[str, StrictInt]


class KindSummaries(Record):
    """bundle.json's `kinds`: per kind in the bundle the summary its fetch() gave; absent kinds stay absent."""

    charts: list[ChartSummary] | None = None
    images: ImagesSummary | None = None
    debs: DebsSummary | None = None
    files: list[FileSummary] | None = None
    toolchain: ToolchainSummary | None = None


def parse_summaries(kinds: Any) -> KindSummaries:
    """bundle.json's `kinds` as typed records; IntegrityError naming the first field that does not fit."""
    try:
        return KindSummaries.model_validate(kinds)
    except ValidationError as exc:
        err = exc.errors()[0]
        raise IntegrityError(f"{BUNDLE_JSON}: a kind's summary is malformed (kinds.{field_path(err['loc'])[:160]}: "
                             f"{err['msg'][:120]})") from None


class Manifest(BaseModel):
    """What `build` writes as bundle.json."""

    model_config = ConfigDict(extra="forbid", strict=True, defer_build=True)

    format: StrictStr = BUNDLE_FORMAT
    name: StrictStr
    created: StrictInt  # the lock's time
    tool: StrictStr | None
    spec: dict[str, Any]  # the spec as loaded (its canonical JSON form)
    lock: Lock
    kinds: KindSummaries
    artifacts: list[ManifestArtifact]
    signer: StrictStr  # the fingerprint of the key that signed checksums.sha256
    sbom: SbomSummary | None = None  # absent in bundles built without an SBOM

    def to_json(self) -> dict[str, Any]:
        doc = {**self.model_dump(mode="json", exclude={"lock", "kinds", "sbom"}), "lock": self.lock.to_json(),
               "kinds": self.kinds.to_json()}
        if self.sbom is not None:
            doc["sbom"] = self.sbom.model_dump(mode="json")
        return doc

    def dumps(self) -> bytes:
        return dumps(self.to_json())


# --- reading ------------------------------------------------------------------------------------------------


def _member_name(name: str) -> str:
    from bundler.bundle.archive import check_member_name
    from bundler.errors import IntegrityError

    try:
        check_member_name(name)
    except IntegrityError as exc:
        raise ValueError(str(exc)) from None  # what pydantic reports as a validation error
    return name


class HeadArtifact(BaseModel):
    model_config = ConfigDict(extra="allow", defer_build=True)
    path: Annotated[StrictStr, AfterValidator(_member_name)]
    digest: Annotated[StrictStr, StringConstraints(pattern=r"^sha256:[0-9a-f]{64}$")]
    size: Annotated[StrictInt, Field(ge=0)]
    kind: StrictStr


class BundleHead(BaseModel):
    """What readers (inspect, verify, unpack) take from bundle.json; the rest is carried along unchecked, and
    `to_json()` gives back the document as it was read."""

    model_config = ConfigDict(extra="allow", defer_build=True)
    format: StrictStr
    name: Annotated[StrictStr, StringConstraints(min_length=1, max_length=200)]
    tool: StrictStr | None = None
    created: StrictInt | None = None
    # Per kind its summary, as read: a mapping (images, debs, toolchain) or a list (charts, files); summaries()
    # gives them typed.
    kinds: dict[str, dict | list] = {}
    artifacts: list[HeadArtifact]
    sbom: dict[str, Any] | None = None  # SbomSummary's fields; only shown, so not checked further

    def to_json(self) -> dict[str, Any]:
        return self.model_dump(mode="json", exclude_unset=True)

    def summaries(self) -> KindSummaries:
        """The kinds' summaries as typed records; IntegrityError naming the first field that does not fit."""
        return parse_summaries(self.kinds)

    def extra(self, key: str) -> Any:
        """A field readers do not check (spec, lock, signer), as it was read; None when absent."""
        return (self.model_extra or {}).get(key)
