"""Prove a refactor changed no byte: build one lock with the code of git revision REV and with this checkout.

    .venv/bin/python bench/same_archive.py REV

Seeds a local registry with the demo's stand-in images, locks once, then builds the same lock with one signing
key under each tree (fresh caches, so each fetches for itself) and compares the archives' sha256. Exit 0 when the
bytes are identical.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.fixture_images import seed, start_registry  # noqa: E402
from bundler.bundle.gpg import cached_key  # noqa: E402


def build(tree: Path, spec: Path, out: Path, cache: Path, key: Path) -> str:
    env = {**os.environ, "PYTHONPATH": str(tree)}
    subprocess.run([sys.executable, "-m", "bundler.cli", "build", str(spec), "--locked", "-q", "-o", str(out),
                    "--cache-dir", str(cache), "--sign-key", str(key)], check=True, env=env, cwd=tree.parent)
    return hashlib.sha256(out.read_bytes()).hexdigest()


def main() -> int:
    rev = sys.argv[1] if len(sys.argv) > 1 else "HEAD"
    with tempfile.TemporaryDirectory(prefix="same-archive-", dir="/var/tmp") as tmp:
        work = Path(tmp)
        old = work / "old"
        old.mkdir()
        subprocess.run(f"git -C {ROOT} archive {rev} | tar -x -C {old}", shell=True, check=True)
        registry = start_registry(work / "registry")
        try:
            images = seed(registry, scale=0.02)
            spec = yaml.safe_load((ROOT / "examples" / "demo" / "demo.yaml").read_text())
            spec["registries"] = {"quay.io": {"mirror": registry.host}, registry.host: {"insecure": True}}
            spec["images"]["refs"] = [i.name for i in images]
            spec_path = work / "demo.yaml"
            spec_path.write_text(yaml.safe_dump(spec, sort_keys=False))
            key = work / "key.asc"
            key.write_bytes(cached_key(work / "keydir", log=lambda *_: None).secret)
            subprocess.run([sys.executable, "-m", "bundler.cli", "lock", str(spec_path), "--cache-dir",
                            str(work / "cache-lock"), "-q"], check=True, env={**os.environ, "PYTHONPATH": str(ROOT)})
            before = build(old, spec_path, work / "old.tar.zst", work / "cache-old", key)
            after = build(ROOT, spec_path, work / "new.tar.zst", work / "cache-new", key)
        finally:
            registry.stop()
            shutil.rmtree(work / "registry", ignore_errors=True)
        size = (work / "new.tar.zst").stat().st_size
        print(f"{rev}: {before}\nthis tree: {after}\n({size} bytes) "
              + ("identical" if before == after else "DIFFERENT"))
        return 0 if before == after else 1


if __name__ == "__main__":
    sys.exit(main())
