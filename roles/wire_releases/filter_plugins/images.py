"""Filter `wire_manifest_images`: every container image a rendered release (helm template's output) runs.

What `wire-bundle prune` must keep served for the release: the record the role writes after each install."""

from __future__ import annotations

import yaml

CONTAINER_LISTS = ("containers", "initContainers", "ephemeralContainers")


def _walk(node, found: set[str]) -> None:
    if isinstance(node, dict):
        for key, value in node.items():
            if key in CONTAINER_LISTS and isinstance(value, list):
                found.update(c["image"] for c in value if isinstance(c, dict) and isinstance(c.get("image"), str))
            else:
                _walk(value, found)
    elif isinstance(node, list):
        for item in node:
            _walk(item, found)


def wire_manifest_images(rendered: str) -> list[str]:
    found: set[str] = set()
    for doc in yaml.safe_load_all(rendered or ""):
        _walk(doc, found)
    return sorted(found)


class FilterModule:
    def filters(self):
        return {"wire_manifest_images": wire_manifest_images}
