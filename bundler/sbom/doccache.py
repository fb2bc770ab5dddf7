"""The rendered SBOM kept in the content store between builds: a build whose document would be the same bytes as an
earlier one's (a delta after the full build of one lock, a rebuild) takes those bytes and never loads
cyclonedx-python-lib (about a tenth of a warm delta build's CPU, with rendering).

The store's index `sbom-documents/<key>` names the document's blob. The key is the sha256 of everything the
document is made from: the bundle's name and tool, the lock, every kind's summary, every artifact record, each
image's contents (from the layer scans), the source of the modules that render it and the versions of the
libraries they render with. The blob is read back through the same check as a kept layer scan (its bytes must hash
to its digest); one that fails is ignored and the document rendered anew.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import hashlib
import importlib.metadata
import importlib.util
import json
from pathlib import Path
from typing import Any

from bundler.bundle.store import BlobStore
from bundler.errors import IntegrityError
from bundler.sbom.scancache import read_checked

INDEX = "sbom-documents"
FORMAT = 1
DOCUMENT_MAX = 256 << 20  # a Wire bundle's document is a few MiB
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


def kept_document(store: BlobStore, key: str) -> bytes | None:
    """The document an earlier build rendered from the same inputs, if the store holds a sound one."""
    try:
        return read_checked(store, store.index(INDEX).get(key), DOCUMENT_MAX)
    except (OSError, ValueError, IntegrityError):
        return None


def keep_document(store: BlobStore, key: str, document: bytes) -> None:
    # Only a time saver: a store that cannot take it (full, read-only) means rendering again next time.
    with contextlib.suppress(OSError):
        store.index(INDEX).put(key, store.put_stream([document])[0])
