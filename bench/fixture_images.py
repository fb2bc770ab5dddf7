"""Seed a local registry with ~20 stand-in images shaped like a Wire release (bench/fixture_images.yaml).

Every image shares one ~60 MiB base layer; the Haskell services also share a runtime layer; each image has
layers of its own; ~500 MiB of unique content in all. Bytes are seeded random (incompressible), so sizes
are what a real pull moves, and two runs make the same digests. Images are pushed as `wire/<name>:bench`;
a bundle spec names them `quay.io/wire/<name>:bench` and maps quay.io to this registry with `mirror`.

    python bench/fixture_images.py --workdir /tmp/bench            # start a registry, seed, print JSON
    python bench/fixture_images.py --workdir /tmp/bench --scale 0.01 --serve   # tiny, keep serving

From Python: `registry = start_registry(workdir); images = seed(registry)`.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from tests.support.images import Blob, RegistryClient, make_image, make_layer, push_image  # noqa: E402
from tests.support.registry import Registry  # noqa: E402

SHAPE_FILE = Path(__file__).with_name("fixture_images.yaml")
MIB = 1 << 20


@dataclass
class SeededImage:
    name: str          # quay.io/wire/brig:bench, the name a spec uses
    repo: str          # wire/brig, where it lives in the local registry
    tag: str
    digest: str
    size: int          # manifest + config + layers, compressed
    blobs: list[str]   # config and layer digests
    blob_sizes: dict[str, int]

    @property
    def local_ref(self) -> str:
        return f"{self.repo}:{self.tag}"


def load_shape(path: Path = SHAPE_FILE) -> dict:
    return yaml.safe_load(path.read_text())


def start_registry(workdir: Path) -> Registry:
    return Registry(Path(workdir), name="bench-registry")


def _size(mib: float, scale: float) -> int:
    return max(1024, int(mib * MIB * scale))


def seed(registry: Registry, *, scale: float = 1.0, shape: dict | None = None, seed_name: str = "wire-bench",
         log: bool = False) -> list[SeededImage]:
    """Push every image of the shape; skips bytes the registry already has. Returns what was pushed."""
    shape = shape or load_shape()
    prefix, tag = shape["registry_prefix"], shape["tag"]
    shared: dict[str, Blob] = {}

    def shared_layer(name: str) -> Blob:
        if name not in shared:
            shared[name] = make_layer(f"{seed_name}:shared:{name}", _size(shape["shared_layers"][name], scale))
        return shared[name]

    client = RegistryClient.for_registry(registry)
    out: list[SeededImage] = []
    for name, spec in shape["images"].items():
        t0 = time.monotonic()
        layers = [shared_layer("base")] + [shared_layer(s) for s in spec.get("shared", [])]
        layers += [make_layer(f"{seed_name}:{name}:{i}", _size(mib, scale)) for i, mib in enumerate(spec["layers"])]
        img = make_image(layers, labels={"stand-in.name": f"{prefix}/{name}"})
        repo = f"wire/{name}"
        push_image(client, repo, img, tag=tag)
        out.append(SeededImage(
            name=f"{prefix}/{name}:{tag}", repo=repo, tag=tag, digest=img.digest, size=img.size,
            blobs=[b.digest for b in img.blobs], blob_sizes={b.digest: b.size for b in img.blobs},
        ))
        if log:
            print(f"seeded {repo}:{tag} {img.size / MIB:7.1f} MiB in {time.monotonic() - t0:4.1f}s",
                  file=sys.stderr)
    return out


def unique_bytes(images: list[SeededImage]) -> int:
    sizes: dict[str, int] = {}
    for img in images:
        sizes.update(img.blob_sizes)
    return sum(sizes.values())


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--workdir", type=Path, required=True, help="registry storage and log go here")
    ap.add_argument("--scale", type=float, default=1.0, help="multiply every layer size (0.01 for a smoke run)")
    ap.add_argument("--serve", action="store_true", help="keep the registry running until Ctrl-C")
    args = ap.parse_args(argv)
    registry = start_registry(args.workdir)
    try:
        t0 = time.monotonic()
        images = seed(registry, scale=args.scale, log=True)
        print(json.dumps({
            "registry": registry.host, "seconds": round(time.monotonic() - t0, 1),
            "images": len(images), "unique_bytes": unique_bytes(images),
            "sum_of_image_bytes": sum(i.size for i in images),
            "list": [asdict(i) | {"blob_sizes": None} for i in images],
        }, indent=2))
        if args.serve:
            print(f"serving on {registry.url}; Ctrl-C stops", file=sys.stderr)
            while registry.running:
                time.sleep(1)
    except KeyboardInterrupt:
        pass
    finally:
        registry.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
