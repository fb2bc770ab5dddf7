"""The rendered SBOM remembered between builds, `<cache>/sbom/documents/<key>`: a build whose document would be
the same bytes as an earlier one's (a delta after the full build of one lock, a rebuild) takes those bytes and
never loads cyclonedx-python-lib (about a tenth of a warm delta build's CPU, with rendering).

The key is the sha256 of everything the document is made from: the bundle's name and tool, the lock, every
kind's summary, every artifact record, each image's contents (from the layer scans), the source of the modules
that render it and the versions of the libraries they render with. An entry starts with the sha256 of the
document it holds; one that does not match is ignored and written anew.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import hashlib
import importlib.metadata
import importlib.util
import json
import os
import tempfile
from pathlib import Path
from typing import Any

FORMAT = 1
# What the document's bytes depend on besides its inputs: the modules that render it, and their libraries.
RENDERERS = ("bundler.sbom.document", "bundler.sbom.names", "bundler.sbom.ospkgs", "bundler.kinds.images.reference")
LIBRARIES = ("cyclonedx-python-lib", "packageurl-python", "py-serializable", "sortedcontainers")


@functools.cache
def renderer_id() -> str:
    h = hashlib.sha256()
    for name in RENDERERS:
        spec = importlib.util.find_spec(name)
        h.update(Path(str(spec.origin if spec else name)).read_bytes())
    for dist in LIBRARIES:
        h.update(f"{dist}=={importlib.metadata.version(dist)}\n".encode())
    return h.hexdigest()


def document_key(name: str, tool: str, lock: dict[str, Any], summaries: dict[str, Any], artifacts: list[dict],
                 images: dict[str, Any]) -> str:
    inputs = {"format": FORMAT, "renderer": renderer_id(), "name": name, "tool": tool, "lock": lock,
              "summaries": summaries, "artifacts": artifacts,
              "images": {m: dataclasses.asdict(c) for m, c in images.items()}}
    return hashlib.sha256(json.dumps(inputs, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


class DocumentCache:
    def __init__(self, cache_dir: Path):
        self.root = cache_dir / "sbom" / "documents"

    def get(self, key: str) -> bytes | None:
        try:
            data = (self.root / key).read_bytes()
        except OSError:
            return None
        digest, sep, document = data.partition(b"\n")
        if not sep or hashlib.sha256(document).hexdigest().encode() != digest:
            return None  # cut short or altered: rendered again and written anew
        return document

    def put(self, key: str, document: bytes) -> None:
        # Only a time saver: a cache that cannot take it (full, read-only) means rendering again next time.
        with contextlib.suppress(OSError):
            self.root.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=self.root, prefix=".tmp-")
            try:
                with os.fdopen(fd, "wb") as f:
                    f.write(hashlib.sha256(document).hexdigest().encode() + b"\n" + document)
                os.replace(tmp, self.root / key)
            except BaseException:
                Path(tmp).unlink(missing_ok=True)
                raise
