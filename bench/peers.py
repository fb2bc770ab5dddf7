"""Peer measurements for the image benchmark: what the bundle builder is compared against.

(a) `skopeo copy` of each image, one after another, into one shared OCI layout (a careful operator today);
(b) Wire's way: one `docker-archive` tar per image (skopeo copy docker-archive:), each then gzipped;
(c) the raw limit: every unique blob fetched once over HTTP and hashed, nothing written.

Each returns {"name", "wall_s", "peak_rss_bytes", "size_bytes", ...}. Peak RSS is the largest of the
child processes doing the work, measured by GNU time (see run_child); (c) runs in a child Python for the
same reason. Sizes are bytes on disk (for (c): bytes fetched).

    python bench/peers.py --workdir /tmp/bench [--scale 0.02] [--only skopeo-oci,raw-limit]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.fixture_images import SeededImage, seed, start_registry, unique_bytes  # noqa: E402

TIME_BIN = "/usr/bin/time"  # GNU time, Debian package "time"
CHILD_TIMEOUT = 1800  # one child of a full-size run takes seconds to a minute; this only stops a hang


class PeerError(RuntimeError):
    pass


def run_child(cmd: list[str], *, stdin: Path | None = None) -> tuple[int, bytes]:
    """Run `cmd` to completion; returns (its peak RSS in bytes, its stdout). Raises on a non-zero exit.

    GNU time measures it: a child forked straight from this Python would report at least this process's
    own RSS (Linux carries the pre-exec high-water mark into ru_maxrss), so a small exec'd wrapper sits
    between us and the measured command.
    """
    with tempfile.NamedTemporaryFile("r", suffix=".rss") as rss_file:
        with open(stdin or os.devnull, "rb") as fin:
            proc = subprocess.run([TIME_BIN, "-f", "%M", "-o", rss_file.name, *cmd], stdin=fin,
                                  capture_output=True, timeout=CHILD_TIMEOUT)
        if proc.returncode != 0:
            tail = proc.stderr.decode(errors="replace")[-400:]
            raise PeerError(f"{' '.join(cmd[:3])}... exited {proc.returncode}: {tail}")
        # GNU time may prefix lines like "Command exited with non-zero status"; the figure is the last line.
        kib = int(rss_file.read().strip().splitlines()[-1])
    return kib * 1024, proc.stdout


def measure_command(name: str, cmd: list[str], output: Path | None = None) -> dict:
    """One command measured like the peers: wall time, its peak RSS, and the size of `output` (file or dir).

    For the builder's own row, e.g. measure_command("wire-bundle build", [".venv/bin/wire-bundle", "build",
    spec, "-o", out], out).
    """
    t0 = time.monotonic()
    rss, _ = run_child(cmd)
    wall = time.monotonic() - t0
    size = None
    if output is not None:
        size = tree_size(output) if Path(output).is_dir() else Path(output).stat().st_size
    return {"name": name, "wall_s": round(wall, 2), "peak_rss_bytes": rss, "size_bytes": size}


def tree_size(path: Path) -> int:
    return sum(p.stat().st_size for p in Path(path).rglob("*") if p.is_file())


def skopeo_oci(host: str, images: list[SeededImage], out_dir: Path) -> dict:
    """(a) sequential skopeo copy into one shared OCI layout; blobs shared by images are stored once."""
    layout = Path(out_dir) / "skopeo-oci-layout"
    layout.mkdir(parents=True, exist_ok=True)
    peak = 0
    t0 = time.monotonic()
    for img in images:
        rss, _ = run_child(["skopeo", "copy", "--quiet", "--src-tls-verify=false",
                            f"docker://{host}/{img.local_ref}", f"oci:{layout}:{img.name}"])
        peak = max(peak, rss)
    wall = time.monotonic() - t0
    return {"name": "skopeo copy -> one OCI layout (sequential)", "wall_s": round(wall, 2),
            "peak_rss_bytes": peak, "size_bytes": tree_size(layout), "path": str(layout)}


def docker_archives_gz(host: str, images: list[SeededImage], out_dir: Path) -> dict:
    """(b) one docker-archive tar per image, then gzip of each: shared layers are stored once per image."""
    dest = Path(out_dir) / "docker-archives"
    dest.mkdir(parents=True, exist_ok=True)
    peak = 0
    t0 = time.monotonic()
    for img in images:
        tar = dest / (img.repo.replace("/", "_") + ".tar")
        tar.unlink(missing_ok=True)
        tar.with_suffix(".tar.gz").unlink(missing_ok=True)
        rss, _ = run_child(["skopeo", "copy", "--quiet", "--src-tls-verify=false",
                            f"docker://{host}/{img.local_ref}", f"docker-archive:{tar}:{img.name}"])
        peak = max(peak, rss)
        rss, _ = run_child(["gzip", "-6", str(tar)])
        peak = max(peak, rss)
    wall = time.monotonic() - t0
    files = sorted(dest.glob("*.tar.gz"))
    return {"name": "docker-archive per image + gzip (Wire's build)", "wall_s": round(wall, 2),
            "peak_rss_bytes": peak, "size_bytes": sum(f.stat().st_size for f in files), "files": len(files),
            "path": str(dest)}


# The raw limit runs as its own Python process so its peak RSS is its own.
RAW_LIMIT_CHILD = r"""
import hashlib, json, sys
from concurrent.futures import ThreadPoolExecutor
import requests
base, jobs, blobs = sys.argv[1], int(sys.argv[2]), json.loads(sys.stdin.read())
session = requests.Session()
session.trust_env = False
session.mount("http://", requests.adapters.HTTPAdapter(pool_maxsize=jobs))
def fetch(item):
    repo, digest = item
    h, n = hashlib.sha256(), 0
    with session.get(f"{base}/v2/{repo}/blobs/{digest}", stream=True, timeout=120) as r:
        r.raise_for_status()
        for chunk in r.iter_content(1 << 20):
            h.update(chunk)
            n += len(chunk)
    if "sha256:" + h.hexdigest() != digest:
        raise SystemExit(f"digest mismatch for {digest}")
    return n
with ThreadPoolExecutor(jobs) as pool:
    total = sum(pool.map(fetch, blobs))
print(json.dumps({"bytes": total, "blobs": len(blobs)}))
"""


def raw_limit(url: str, images: list[SeededImage], *, jobs: int = 4) -> dict:
    """(c) fetch every unique blob once (config and layers) with `jobs` parallel streams, and hash it."""
    seen: dict[str, str] = {}
    for img in images:
        for digest in img.blobs:
            seen.setdefault(digest, img.repo)
    work = [[repo, digest] for digest, repo in seen.items()]
    with tempfile.NamedTemporaryFile("w", suffix=".json") as work_file:
        json.dump(work, work_file)
        work_file.flush()
        t0 = time.monotonic()
        rss, out = run_child([sys.executable, "-c", RAW_LIMIT_CHILD, url, str(jobs)], stdin=Path(work_file.name))
        wall = time.monotonic() - t0
    result = json.loads(out)
    return {"name": f"raw limit: every unique blob once, hashed ({jobs} streams)", "wall_s": round(wall, 2),
            "peak_rss_bytes": rss, "size_bytes": result["bytes"], "blobs": result["blobs"]}


def run_all(registry: object, images: list[SeededImage], out_dir: Path, *, only: set[str] | None = None,
            jobs: int = 4) -> list[dict]:
    """Every peer against `registry` (a tests.support.registry.Registry) seeded with `images`."""
    peers = {
        "skopeo-oci": lambda: skopeo_oci(registry.host, images, out_dir),  # type: ignore[attr-defined]
        "docker-archive-gz": lambda: docker_archives_gz(registry.host, images, out_dir),  # type: ignore
        "raw-limit": lambda: raw_limit(registry.url, images, jobs=jobs),  # type: ignore[attr-defined]
    }
    return [fn() for name, fn in peers.items() if only is None or name in only]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--workdir", type=Path, required=True, help="registry, layouts and archives go here")
    ap.add_argument("--scale", type=float, default=1.0, help="shrink the fixture (0.02 for a smoke run)")
    ap.add_argument("--only", default="", help="comma list of: skopeo-oci, docker-archive-gz, raw-limit")
    ap.add_argument("--jobs", type=int, default=4, help="parallel streams for the raw limit")
    args = ap.parse_args(argv)
    registry = start_registry(args.workdir)
    try:
        t0 = time.monotonic()
        images = seed(registry, scale=args.scale)
        print(f"seeded {len(images)} images, {unique_bytes(images) / (1 << 20):.0f} MiB unique, "
              f"in {time.monotonic() - t0:.0f}s", file=sys.stderr)
        results = run_all(registry, images, args.workdir / "peers",
                          only=set(args.only.split(",")) if args.only else None, jobs=args.jobs)
        print(json.dumps({"unique_bytes": unique_bytes(images), "images": len(images), "peers": results},
                         indent=2))
    finally:
        registry.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
