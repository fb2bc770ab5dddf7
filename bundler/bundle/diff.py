"""What changed between two bundles, per kind, and what a delta from one to the other would carry.

Read from the two bundle.json files alone (an archive's head, or the file itself): every artifact is named by its
digest there, so "what a delta carries" is the new artifacts whose digest the old bundle lacks, exactly the
members `build --base` writes. Images are paired by repository (a release bump changes the tag), and an image's
new bytes are its blobs the old bundle lacks: for a rebuilt image, its new layers, not the whole image.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from bundler.bundle.basis import Basis
from bundler.bundle.manifest import BundleHead, KindSummaries
from bundler.bundle.signing import PUBLIC_KEY
from bundler.kinds.images.summary import ImageSummary

BLOB_PREFIX = "images/blobs/sha256/"


@dataclass
class KindDiff:
    added: list[dict] = field(default_factory=list)
    removed: list[dict] = field(default_factory=list)
    changed: list[dict] = field(default_factory=list)

    def empty(self) -> bool:
        return not (self.added or self.removed or self.changed)

    def as_dict(self) -> dict:
        return {"added": self.added, "removed": self.removed, "changed": self.changed}


def diff_bundles(old: Basis, new: Basis) -> dict[str, Any]:
    before, after = old.meta.summaries(), new.meta.summaries()
    kinds = {
        "images": _images(old, new, before, after),
        "charts": _pairs(_charts(before), _charts(after), "version"),
        "debs": _pairs(_debs(before), _debs(after), "version"),
        "files": _pairs(_files(before), _files(after), "sha256"),
        "wheels": _pairs(_wheels(before), _wheels(after), "version"),
    }
    have = old.digests
    carried = [a for a in new.meta.artifacts if a.digest not in have or a.path == PUBLIC_KEY]
    full = sum(a.size for a in new.meta.artifacts)
    return {
        "old": {"name": old.name, "content_digest": old.content_digest, "source": str(old.source)},
        "new": {"name": new.name, "content_digest": new.content_digest, "source": str(new.source)},
        "kinds": {k: v.as_dict() for k, v in kinds.items()},
        "delta": {"members": len(carried), "bytes": sum(a.size for a in carried), "full_bytes": full,
                  "removed_members": sum(1 for a in old.meta.artifacts
                                         if a.digest not in {b.digest for b in new.meta.artifacts})},
    }


def repository(ref: str) -> str:
    """quay.io/wire/brig:5.0.0 -> quay.io/wire/brig (the pairing key of a bump)."""
    name = ref.split("@", 1)[0]
    colon = name.rfind(":")
    return name[:colon] if colon > name.rfind("/") else name


def _image_rows(summaries: KindSummaries) -> dict[str, ImageSummary]:
    rows = summaries.images.images if summaries.images else []
    repos = [repository(i.ref) for i in rows]
    # A repository bundled under two tags is paired by its full reference instead.
    return {(repository(i.ref) if repos.count(repository(i.ref)) == 1 else i.ref): i for i in rows}


def _image_blobs(image: ImageSummary, meta: BundleHead) -> set[str]:
    if image.blobs is not None:
        return set(image.blobs)
    # Bundles made before images listed their blobs: each blob is credited to the first image that wanted it.
    return {a.digest for a in meta.artifacts
            if a.kind == "image" and (a.model_extra or {}).get("origin") == image.ref}


def _images(old: Basis, new: Basis, old_summaries: KindSummaries, new_summaries: KindSummaries) -> KindDiff:
    before, after = _image_rows(old_summaries), _image_rows(new_summaries)
    sizes = {a.digest: a.size for a in new.meta.artifacts if a.path.startswith(BLOB_PREFIX)}
    have = old.digests
    out = KindDiff()
    for key in sorted(after.keys() - before.keys()):
        i = after[key]
        out.added.append({"name": i.ref, "new_digest": i.digest, "size": i.size,
                          "new_bytes": sum(sizes.get(b, 0) for b in _image_blobs(i, new.meta) - have)})
    for key in sorted(before.keys() - after.keys()):
        i = before[key]
        out.removed.append({"name": i.ref, "old_digest": i.digest, "size": i.size})
    for key in sorted(before.keys() & after.keys()):
        o, n = before[key], after[key]
        if o.digest == n.digest and o.ref == n.ref:
            continue
        new_blobs = _image_blobs(n, new.meta) - have
        out.changed.append({"name": key, "old_ref": o.ref, "new_ref": n.ref, "old_digest": o.digest,
                            "new_digest": n.digest, "size": n.size, "new_blobs": len(new_blobs),
                            "new_bytes": sum(sizes.get(b, 0) for b in new_blobs)})
    return out


def _charts(summaries: KindSummaries) -> dict[str, dict]:
    """Each chart by name, and each dependency fetched beside it as chart/[subchart/]dependency: a range such
    as ^0.1.0 resolves anew at every lock, so a dependency can move on under an unchanged chart."""
    out: dict[str, dict] = {}
    for c in summaries.charts or []:
        out[c.name] = {"version": c.version, "digest": c.digest}
        for d in c.dependencies:
            out["/".join([c.name, *(d.within or []), d.name])] = {"version": d.version, "digest": d.digest}
    return out


def _debs(summaries: KindSummaries) -> dict[str, dict]:
    targets = summaries.debs.targets if summaries.debs else []
    return {f"{t.name}/{p.name}:{p.architecture}": {"version": p.version, "digest": p.sha256}
            for t in targets for p in t.packages}


def _files(summaries: KindSummaries) -> dict[str, dict]:
    return {f.path: {"sha256": f.sha256, "digest": f.sha256} for f in summaries.files or []}


def _wheels(summaries: KindSummaries) -> dict[str, dict]:
    tc = summaries.toolchain
    rows = [*tc.wheels, tc.project] if tc else []
    return {w.name: {"version": w.version, "digest": w.sha256} for w in rows}


def _pairs(before: dict[str, dict], after: dict[str, dict], label: str) -> KindDiff:
    out = KindDiff()
    for key in sorted(after.keys() - before.keys()):
        out.added.append({"name": key, label: after[key][label]})
    for key in sorted(before.keys() - after.keys()):
        out.removed.append({"name": key, label: before[key][label]})
    for key in sorted(before.keys() & after.keys()):
        if before[key]["digest"] != after[key]["digest"] or before[key][label] != after[key][label]:
            out.changed.append({"name": key, f"old_{label}": before[key][label], f"new_{label}": after[key][label]})
    return out
