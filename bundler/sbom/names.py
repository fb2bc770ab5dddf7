"""What readers of the SBOM need, without cyclonedx-python-lib: `wire-bundle sbom` and `inspect` read the document
as plain JSON, so the island's admin host can show it with the base dependencies only."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

from bundler.bundle.mediatypes import SBOM

MEMBER = SBOM
MEDIA_TYPE = "application/vnd.cyclonedx+json"
PROP = "wire-bundle:"  # the namespace of this tool's properties

_NESTED_KINDS = {"library": "os package", "operating-system": "image os", "container": "image platform"}


def component_counts(document: dict[str, Any]) -> dict[str, int]:
    """How many components of each kind the SBOM lists, nested ones included (for `inspect` and `sbom`): top-level
    ones by the kind their bom-ref starts with (image, chart, deb, file, wheel, collection)."""
    counts: dict[str, int] = {}
    for c, parent in iter_components(document.get("components") or []):
        nested = _NESTED_KINDS.get(str(c.get("type")), "?")
        kind = str(c.get("bom-ref", "")).split(":", 1)[0] if parent is None else nested
        counts[kind] = counts.get(kind, 0) + 1
    return counts


def iter_components(components: Iterable[dict[str, Any]], parent: str | None = None
                    ) -> Iterator[tuple[dict[str, Any], str | None]]:
    """Every component with the bom-ref of the one it is nested in (None at the top)."""
    for c in components:
        yield c, parent
        yield from iter_components(c.get("components") or [], c.get("bom-ref"))
