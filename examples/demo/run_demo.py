"""`make demo`: the whole connected-host workflow with no internet.

Starts a real registry (Debian's docker-registry) on loopback, seeds it with stand-in images shaped like a
Wire release (the images are generated, not Wire's), writes a spec that names them as quay.io/wire/... and
maps quay.io to the local registry, then runs the real CLI: build, verify, inspect, sbom. Everything it writes
goes under out/demo/.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from bench.fixture_images import seed, start_registry  # noqa: E402

OUT = ROOT / "out" / "demo"
SCALE = 0.02  # about 10 MiB of stand-in images: quick, yet with shared layers to deduplicate


def step(title: str, *cmd: str) -> None:
    print(f"\n=== {title}\n$ {' '.join(cmd)}", flush=True)
    subprocess.run(cmd, check=True)


def main() -> int:
    shutil.rmtree(OUT / "registry", ignore_errors=True)
    OUT.mkdir(parents=True, exist_ok=True)
    print("=== starting a local registry and seeding stand-in images (no internet needed)", flush=True)
    registry = start_registry(OUT / "registry")
    try:
        images = seed(registry, scale=SCALE)
        spec = yaml.safe_load((Path(__file__).with_name("demo.yaml")).read_text())
        spec["registries"] = {"quay.io": {"mirror": registry.host}, registry.host: {"insecure": True}}
        spec["images"]["refs"] = [i.name for i in images]
        spec_path = OUT / "demo.yaml"
        spec_path.write_text(yaml.safe_dump(spec, sort_keys=False))
        (OUT / "demo.lock.json").unlink(missing_ok=True)
        archive = OUT / "wire-demo.tar.zst"
        cli = [sys.executable, "-m", "bundler.cli"]
        step("lock: every tag to a digest", *cli, "lock", str(spec_path), "--cache-dir", str(OUT / "cache"))
        step("build: fetch, deduplicate, archive", *cli, "build", str(spec_path), "-o", str(archive),
             "--locked", "--cache-dir", str(OUT / "cache"))
        step("verify: every member and digest, offline", *cli, "verify", str(archive))
        step("inspect: what is inside", *cli, "inspect", str(archive))
        step("sbom: every artifact and the OS packages inside every image", *cli, "sbom", str(archive),
             "--format", "table")
    finally:
        registry.stop()
    print(f"\nDone. Archive: {archive} (checksum beside it: {archive.name}.sha256)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
