"""bundle.json's `kinds.images`: the images a bundle holds, as `inspect`, `diff` and the SBOM read them."""

from __future__ import annotations

from pydantic import StrictInt, StrictStr

from bundler.bundle.lock import Record, WhyRecord


class ImageSummary(Record):
    ref: StrictStr
    digest: StrictStr  # of the index, or of the manifest of a single-platform image
    media_type: StrictStr
    platforms: list[StrictStr]  # ["as published"] when the image does not say
    size: StrictInt  # its manifests' and blobs' bytes, as if it were alone in the bundle
    # The digests of its manifests and blobs: what `diff` counts as its bytes. Absent in bundles made before
    # `diff` (they credit each blob to the first image that wanted it).
    blobs: list[StrictStr] | None = None
    source: StrictStr
    why: list[WhyRecord]


class ImagesSummary(Record):
    images: list[ImageSummary]
