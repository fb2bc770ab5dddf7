"""Container images: locked to index and per-platform manifest digests, stored once per blob.

The archive holds one OCI image layout under `images/`; its index.json names every image by its full
original reference (org.opencontainers.image.ref.name), so `skopeo copy oci:images:<ref> ...` and the asset
host's registry seeding find them by the name charts use.
"""

from __future__ import annotations

import fnmatch
import json
import threading
from concurrent.futures import ThreadPoolExecutor, as_completed
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from bundler.bundle.artifacts import Artifact, BuildContext, KindResult, file_artifact
from bundler.bundle.lock import ImageLock, PlatformLock, WhyRecord
from bundler.bundle.mediatypes import CONTAINERD_NAME, MANIFEST_TYPES, OCI_INDEX, OCI_LAYOUT, REF_NAME
from bundler.bundle.space import check_space, human
from bundler.bundle.spec import LoadedSpec
from bundler.bundle.store import BlobStore
from bundler.errors import BundleError, RegistryError
from bundler.kinds.images.reference import Reference, parse_reference
from bundler.kinds.images.registry import Manifest, RegistryClient, RegistrySettings
from bundler.kinds.images.summary import ImagesSummary, ImageSummary


def platform_of(desc: dict) -> str:
    p = desc.get("platform") or {}
    s = f"{p.get('os', '?')}/{p.get('architecture', '?')}"
    return s + (f"/{p['variant']}" if p.get("variant") else "")


def _matches(wanted: str, have: str) -> bool:
    # linux/arm64 matches linux/arm64/v8: a variant-less request takes the variant the index offers.
    return have == wanted or (wanted.count("/") == 1 and have.startswith(wanted + "/"))


class ImagesKind:
    name = "images"

    def wanted(self, spec: LoadedSpec) -> bool:
        return True  # charts may add images even when the spec lists none

    def client(self, spec: LoadedSpec) -> RegistryClient:
        return RegistryClient(RegistrySettings.from_spec(spec.spec.registries))

    # --- lock -----------------------------------------------------------------------------------------------

    def requested(self, spec: LoadedSpec, ctx: BuildContext) -> list[tuple[Reference, list[str], list[dict]]]:
        section = spec.spec.images
        out: dict[str, tuple[Reference, list[str], list[dict]]] = {}
        for entry in section.refs:
            ref = entry.reference
            out[str(ref)] = (ref, entry.platforms or section.platforms, [{"source": "spec"}])
        for text, why in sorted(ctx.discovered_images.items()):
            ref = parse_reference(text)
            if str(ref) in out:
                out[str(ref)][2].extend(why)
            else:
                out[str(ref)] = (ref, section.platforms, list(why))
        kept = []
        for key, item in sorted(out.items()):
            if any(fnmatch.fnmatchcase(key, pat) for pat in section.exclude):
                ctx.log(f"images: excluded {key}")
                continue
            kept.append(item)
        return kept

    def lock(self, spec: LoadedSpec, ctx: BuildContext) -> list[ImageLock]:
        client = self.client(spec)
        items = self.requested(spec, ctx)
        ctx.log(f"images: resolving {len(items)} references")
        results: list[ImageLock] = []
        with ThreadPoolExecutor(max_workers=max(1, ctx.jobs)) as pool:
            futures = [pool.submit(self._lock_one, client, ref, platforms, why) for ref, platforms, why in items]
            for fut in as_completed(futures):
                results.append(fut.result())
        return sorted(results, key=lambda r: r.ref)

    def _lock_one(self, client: RegistryClient, ref: Reference, platforms: list[str], why: list[dict]) -> ImageLock:
        top = client.get_manifest(ref)
        chosen: list[PlatformLock] | None = None  # a single-platform image: taken as it is
        if top.is_index:
            children = top.json().get("manifests") or []
            chosen = []
            for want in platforms:
                match = [c for c in children if _matches(want, platform_of(c))]
                if not match:
                    offered = ", ".join(sorted({platform_of(c) for c in children})) or "none"
                    raise RegistryError(f"{ref}: no manifest for platform {want} (index offers: {offered})")
                c = match[0]
                try:
                    chosen.append(PlatformLock(platform=platform_of(c), digest=c["digest"],
                                               media_type=c["mediaType"], size=c["size"]))
                except (KeyError, ValidationError) as exc:
                    raise RegistryError(f"{ref}: malformed index entry for {want} ({str(exc)[:160]})") from None
        return ImageLock(ref=str(ref), digest=top.digest, media_type=top.media_type, size=top.size,
                         source=client.source_of(ref), why=[WhyRecord.model_validate(w) for w in why],
                         platforms=chosen)

    # --- fetch ----------------------------------------------------------------------------------------------

    def fetch(self, spec: LoadedSpec, locked: list[ImageLock], ctx: BuildContext) -> KindResult:
        client = self.client(spec)
        store = BlobStore(ctx.cache_dir)
        images, blobs = self._manifests(client, store, locked, ctx)
        missing = {d: b for d, b in blobs.items() if not store.has(d)}
        missing_bytes = sum(b["size"] for b in missing.values())
        check_space([(ctx.cache_dir, missing_bytes, "new blobs for the cache")])
        total = sum(b["size"] for b in blobs.values())
        ctx.log(f"images: {len(images)} images, {len(blobs)} unique blobs ({human(total)}),"
                f" {len(missing)} to fetch ({human(missing_bytes)})")
        # Configs say each single-platform image's platform, which the layout records: they are queued first and
        # waited for, while the layers behind them are already downloading.
        configs = sorted({image["config"]["digest"] for image in images} & set(missing))
        order = configs + sorted(d for d in missing if d not in configs)
        if not order:
            return self._layout(store, images, blobs, ctx)
        pending, close = self._fetch_in_background(client, store, {d: missing[d] for d in order}, ctx)
        try:
            for d in configs:
                pending[blob_member(d)].result()
            result = self._layout(store, images, blobs, ctx)
        except BaseException:
            close()
            raise
        result.pending, result.close = pending, close
        return result

    def _fetch_in_background(self, client: RegistryClient, store: BlobStore, blobs: dict[str, dict], ctx):
        """Download in the order given (configs, then layers in archive order, so the archive writer can follow
        right behind the downloads)."""
        task = ctx.progress("images", sum(b["size"] for b in blobs.values()))
        task.__enter__()
        cancelled = threading.Event()

        def count(n: int) -> None:
            if cancelled.is_set():
                raise _Cancelled
            task.advance(n)

        pool = ThreadPoolExecutor(max_workers=ctx.jobs)
        pending = {
            blob_member(d): pool.submit(client.fetch_blob, b["ref"], d, b["size"], store.path(d), count)
            for d, b in blobs.items()
        }

        def close() -> None:
            ok = all(f.done() and not f.cancelled() and f.exception() is None for f in pending.values())
            if not ok:
                cancelled.set()  # partial files stay in the cache; the next build resumes them
            pool.shutdown(wait=True, cancel_futures=True)
            task.close(ok=ok)

        return pending, close

    def _manifests(self, client, store, locked, ctx) -> tuple[list[dict], dict[str, dict]]:
        """Fetch every manifest by digest (cheap, verified); learn the blobs each image needs."""
        images: list[dict] = []
        blobs: dict[str, dict] = {}

        def want_blob(ref: Reference, desc: dict, image: dict) -> None:
            if desc.get("urls"):
                raise BundleError(f"{ref}: foreign (non-distributable) layers are not supported")
            d = desc["digest"]
            blobs.setdefault(d, {"size": desc["size"], "media_type": desc.get("mediaType"), "ref": ref})
            image["blobs"].add(d)

        def get(ref: Reference, digest: str, media_type: str) -> Manifest:
            path = store.path(digest)
            if path.exists():
                return Manifest(path.read_bytes(), media_type, digest)
            m = client.get_manifest(ref, digest)
            store.put_bytes(digest, m.body)
            return m

        def one(entry: ImageLock) -> dict:
            ref = parse_reference(entry.ref)
            image: dict[str, Any] = {"entry": entry, "ref": ref, "manifests": {entry.digest}, "blobs": set(),
                                     "platforms": []}
            top = get(ref, entry.digest, entry.media_type)
            children: list[tuple[str, str | None, str]] = [(c.digest, c.platform, c.media_type)
                                                           for c in entry.platforms or []]
            children = children or [(top.digest, None, top.media_type)]
            for digest, platform, media_type in children:
                m = top if digest == top.digest else get(ref, digest, media_type)
                image["manifests"].add(m.digest)
                body = m.json()
                if m.media_type not in MANIFEST_TYPES:
                    raise RegistryError(f"{ref}: {m.digest} is a {m.media_type}, expected an image manifest")
                cfg = body.get("config")
                if not cfg:
                    raise RegistryError(f"{ref}: manifest {m.digest} has no config")
                image["config"] = cfg
                image["platforms"].append(platform)
                image["layer_lists"] = image.get("layer_lists", []) + [body.get("layers") or []]
            return image

        with ThreadPoolExecutor(max_workers=max(1, ctx.jobs)) as pool:
            for image in pool.map(one, locked):
                ref = image["ref"]
                want_blob(ref, image["config"], image)
                for layers in image["layer_lists"]:
                    for layer in layers:
                        want_blob(ref, layer, image)
                images.append(image)
        return images, blobs

    def _layout(self, store: BlobStore, images: list[dict], blobs: dict[str, dict], ctx) -> KindResult:
        layout_dir = Path(ctx.work_dir) / "images"
        layout_dir.mkdir(parents=True, exist_ok=True)
        artifacts: dict[str, Artifact] = {}
        manifests: list[dict[str, Any]] = []
        summary: list[ImageSummary] = []
        for image in images:
            entry: ImageLock = image["entry"]
            name = str(image["ref"])
            manifests.append({
                "mediaType": entry.media_type,
                "digest": entry.digest,
                "size": entry.size,
                "annotations": {REF_NAME: name, CONTAINERD_NAME: name},
            })
            for d in sorted(image["manifests"]):
                artifacts[d] = self._blob_artifact(store, d, None, name, store.path(d).stat().st_size)
            for d in sorted(image["blobs"]):
                artifacts.setdefault(d, self._blob_artifact(store, d, blobs[d]["media_type"], name, blobs[d]["size"]))
            size = sum(artifacts[d].size for d in image["manifests"] | image["blobs"])
            if image["platforms"] == [None]:
                image["platforms"] = [self._config_platform(store, image["config"]["digest"])]
            summary.append(ImageSummary(
                ref=name, digest=entry.digest, media_type=entry.media_type,
                platforms=[p for p in image["platforms"] if p] or ["as published"], size=size,
                blobs=sorted(image["manifests"] | image["blobs"]), source=entry.source, why=entry.why))
        (layout_dir / "oci-layout").write_text(OCI_LAYOUT)
        index = {"schemaVersion": 2, "mediaType": OCI_INDEX,
                 "manifests": sorted(manifests, key=lambda m: m["annotations"][REF_NAME])}
        (layout_dir / "index.json").write_text(json.dumps(index, indent=1, sort_keys=True))
        out = [file_artifact("images/oci-layout", layout_dir / "oci-layout", "meta"),
               file_artifact("images/index.json", layout_dir / "index.json", "meta")]
        out += sorted(artifacts.values(), key=lambda a: a.path)
        return KindResult(artifacts=out, summary=ImagesSummary(images=summary))

    def _config_platform(self, store: BlobStore, digest: str) -> str | None:
        """A single-platform image says its platform only in its config blob."""
        try:
            cfg = json.loads(store.path(digest).read_bytes())
        except (OSError, ValueError):
            return None
        return platform_of({"platform": {k: cfg.get(k) for k in ("os", "architecture", "variant") if cfg.get(k)}})

    def _blob_artifact(self, store: BlobStore, digest: str, media_type: str | None, origin: str,
                       size: int) -> Artifact:
        # The blob may still be downloading: its size comes from the descriptor, not the file.
        return Artifact(path=blob_member(digest), source=store.path(digest), digest=digest,
                        size=size, kind="image", media_type=media_type, origin=origin)

    # --- inspect --------------------------------------------------------------------------------------------

    def inspect_rows(self, summary: ImagesSummary) -> tuple[str, list[str], list[list[str]]]:
        rows = [[i.ref, i.digest[:19], ", ".join(i.platforms), human(i.size)] for i in summary.images]
        return "Images", ["image", "digest", "platforms", "size"], rows


def blob_member(digest: str) -> str:
    """A blob's path in the archive's OCI layout."""
    return f"images/blobs/sha256/{digest.split(':', 1)[1]}"


class _Cancelled(Exception):
    """Stops a background download when the build has failed elsewhere."""


KIND = ImagesKind()
