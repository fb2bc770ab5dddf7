"""The same lock, built by another version of wire-bundle (a git revision) and by this checkout, must give the same
archive byte for byte; then this checkout builds it again from its warm cache with every server stopped.

Covers images (a local registry, stand-in images), an HTTP chart repository and pinned files (one by sha256, one
by sha512): the kinds whose cache layout or transport changed with the one content store. Not the toolchain (its
own wheel is built from the source tree, so two versions differ by design) nor debs (Debian's archive over the
network; tests/debs checks their reproducibility within one version).

    python bench/same_archive_across_versions.py [REV]   # REV defaults to main
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

NEW = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(NEW))

import yaml  # noqa: E402

from bench.fixture_images import seed, start_registry  # noqa: E402
from bundler.bundle.gpg import cached_key  # noqa: E402
from tests.kinds.charts import chartsrc  # noqa: E402
from tests.support.fileserver import FileServer  # noqa: E402

HELM = str(NEW / "tools" / "bin" / "helm")


def cli(root: Path, env: dict[str, str], *args: object) -> None:
    proc = subprocess.run([sys.executable, "-m", "bundler.cli", *map(str, args)], cwd=root, env=env,
                          capture_output=True, text=True, timeout=900)
    if proc.returncode != 0:
        sys.exit(f"{root.name}: wire-bundle {args[0]} failed: {proc.stderr[-2000:]}")


def main(rev: str, work: Path) -> None:
    old = work / "old"
    old.mkdir()
    subprocess.run(f"git -C {NEW} archive {rev} | tar -x -C {old}", shell=True, check=True)
    key = cached_key(work / "signing", log=lambda *_: None)
    (work / "key.asc").write_bytes(key.secret)
    env = {**os.environ, "WIRE_BUNDLE_SIGN_KEY": str(work / "key.asc")}
    henv = {**os.environ, **{f"HELM_{d}_HOME": str(work / "helm" / d) for d in ("CACHE", "CONFIG", "DATA")}}
    spec_path = work / "xver.yaml"
    registry = start_registry(work / "registry")
    try:
        images = seed(registry, scale=0.005)
        (work / "src").mkdir()
        (work / "repo").mkdir()
        chart = chartsrc.tiny_chart(work / "src", "1.0.0", "example.invalid")
        subprocess.run([HELM, "package", str(chart), "-d", str(work / "repo")], check=True, env=henv,
                       capture_output=True)
        a_bin = hashlib.sha256(b"a").digest() * 10000
        b_tgz = hashlib.sha256(b"b").digest() * 20000
        server = FileServer({"/f/a.bin": a_bin, "/f/b.tgz": b_tgz})
        try:
            subprocess.run([HELM, "repo", "index", str(work / "repo"), "--url", f"{server.url}/charts"],
                           check=True, env=henv, capture_output=True)
            for p in (work / "repo").iterdir():
                server.files[f"/charts/{p.name}"] = p.read_bytes()
            spec_path.write_text(yaml.safe_dump({
                "version": 1, "name": "xver",
                "registries": {"quay.io": {"mirror": registry.host}, registry.host: {"insecure": True}},
                "images": {"refs": [i.name for i in images], "exclude": ["example.invalid/*"]},
                "charts": [{"name": "tiny", "repo": f"{server.url}/charts", "version": "1.0.0"}],
                "files": [{"url": f"{server.url}/f/a.bin", "sha256": hashlib.sha256(a_bin).hexdigest()},
                          {"url": f"{server.url}/f/b.tgz", "sha512": hashlib.sha512(b_tgz).hexdigest()}],
            }, sort_keys=False))
            cli(NEW, env, "lock", spec_path, "--cache-dir", work / "c-lock", "--helm", HELM)
            for name, root in (("old", old), ("new", NEW)):
                cli(root, env, "build", spec_path, "-o", work / f"{name}.tar.zst", "--locked",
                    "--cache-dir", work / f"c-{name}", "--helm", HELM)
        finally:
            server.close()
    finally:
        registry.stop()
    before, after = (work / "old.tar.zst").read_bytes(), (work / "new.tar.zst").read_bytes()
    for name, data in (("old", before), ("new", after)):
        print(f"{name}: {len(data)} bytes, sha256 {hashlib.sha256(data).hexdigest()}")
    if before != after:
        sys.exit(f"the archives differ: {work}")
    # A warm cache, every server stopped: no network is needed, and the archive is the same again.
    cli(NEW, env, "build", spec_path, "-o", work / "offline.tar.zst", "--locked", "--cache-dir", work / "c-new",
        "--helm", HELM)
    if (work / "offline.tar.zst").read_bytes() != after:
        sys.exit(f"the offline rebuild differs: {work}")
    print(f"identical to {rev}; the offline rebuild from the warm cache too")


if __name__ == "__main__":
    scratch = Path(tempfile.mkdtemp(prefix="wire-bundle-xver-"))
    main(sys.argv[1] if len(sys.argv) > 1 else "main", scratch)
    shutil.rmtree(scratch, ignore_errors=True)
