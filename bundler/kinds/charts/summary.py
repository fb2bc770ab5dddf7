"""bundle.json's `kinds.charts`: each top-level chart and the dependencies fetched beside it.

The island (bundler.island.charts, the wire_releases role) reads `path`, `parent` and `within` to put each
dependency's package into the charts/ directory of the chart that needs it."""

from __future__ import annotations

from pydantic import StrictInt, StrictStr

from bundler.bundle.lock import Record


class ChartDependencySummary(Record):
    name: StrictStr
    version: StrictStr
    repo: StrictStr
    digest: StrictStr
    size: StrictInt
    path: StrictStr  # its package in the archive
    parent: StrictStr  # the package of the chart that depends on it
    within: list[StrictStr] | None = None  # the vendored subchart of `parent` that declares it; absent: `parent`


class ChartSummary(Record):
    name: StrictStr
    version: StrictStr
    repo: StrictStr
    digest: StrictStr
    size: StrictInt
    path: StrictStr
    dependencies: list[ChartDependencySummary]
    images: list[StrictStr]  # normalised references its templates and annotations use
    excluded: list[StrictStr]  # the ones the spec's images.exclude left out
