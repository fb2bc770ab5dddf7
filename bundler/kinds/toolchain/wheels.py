"""Wheels for another Python and platform, resolved and fetched by pip, pinned by filename and sha256.

Resolution is pip's own (`pip install --dry-run --report` with --platform/--python-version/--implementation
and binary wheels only), so what the island installs is exactly what pip would have chosen there. The
fetch asks pip again with `--require-hashes` and every requirement pinned to the locked hash, which makes it
download exactly the locked files and nothing else.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from packaging.utils import canonicalize_name

from bundler import paths
from bundler.bundle.artifacts import sha256_file
from bundler.errors import BundleError, IntegrityError

# Wheels are zip files: zip cannot store times before 1980, and a fixed time makes our own wheel reproducible.
SOURCE_DATE_EPOCH = "315532800"
PIP_TIMEOUT = 1800
PROJECT_FILES = ("pyproject.toml", "README.md", "LICENSE")


def _pip(args: list[str], what: str, cwd: Path | None = None, env: dict[str, str] | None = None) -> str:
    cmd = [sys.executable, "-m", "pip", "--disable-pip-version-check", *args]
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=PIP_TIMEOUT, cwd=cwd,
                              env={**os.environ, **(env or {})})
    except subprocess.TimeoutExpired:
        raise BundleError(f"toolchain: {what}: pip did not finish in {PIP_TIMEOUT}s") from None
    if proc.returncode != 0:
        raise BundleError(f"toolchain: {what}: {_pip_reason(proc.stderr)}")
    return proc.stdout


def _pip_reason(stderr: str) -> str:
    """pip's own one-line reason, e.g. 'No matching distribution found for foo==9'."""
    lines = [ln.strip() for ln in stderr.splitlines() if ln.strip() and not ln.startswith("WARNING")]
    errors = [ln.removeprefix("ERROR: ") for ln in lines if ln.startswith("ERROR:")]
    picked = errors[-1] if errors else (lines[-1] if lines else "pip failed without a message")
    return picked[:400]


def target_flags(python: str, platform: str) -> list[str]:
    return ["--only-binary=:all:", "--platform", platform, "--python-version", python, "--implementation", "cp"]


def project_root() -> Path:
    root = paths.REPO
    if not (root / "pyproject.toml").is_file():
        raise BundleError(
            f"toolchain: this project's source tree is not at {root} (installed from a wheel?); "
            "build the toolchain from a checkout of wire-bundle"
        )
    return root


def build_project_wheel(out_dir: Path) -> Path:
    """This project as a wheel, built from a clean copy of its sources (no build/ or egg-info in the tree)."""
    root = project_root()
    out_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="wire-bundle-src-") as tmp:
        src = Path(tmp) / "src"
        src.mkdir()
        for name in PROJECT_FILES:
            if (root / name).exists():
                shutil.copy2(root / name, src / name)
        shutil.copytree(root / "bundler", src / "bundler", ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
        built = Path(tmp) / "wheel"
        _pip(["wheel", "--no-deps", "--quiet", "-w", str(built), str(src)], "building this project's wheel",
             env={"SOURCE_DATE_EPOCH": SOURCE_DATE_EPOCH})
        (wheel,) = built.glob("*.whl")
        dest = out_dir / wheel.name
        shutil.move(str(wheel), dest)
    return dest


def wheel_name_version(filename: str) -> tuple[str, str]:
    name, version = filename.split("-")[:2]
    return canonicalize_name(name), version


def resolve(requirements: list[str], python: str, platform: str, work: Path) -> list[dict[str, Any]]:
    """pip's resolution of `requirements` (names, pins or local wheel paths) for the target, as sorted items."""
    work.mkdir(parents=True, exist_ok=True)
    report = work / "pip-report.json"
    _pip(["install", "--dry-run", "--ignore-installed", "--quiet", "--report", str(report),
          "--target", str(work / "unused-target"), *target_flags(python, platform), *requirements],
         f"resolving {' '.join(Path(r).name if '/' in r else r for r in requirements)} "
         f"for Python {python} on {platform}")
    items = []
    for entry in json.loads(report.read_text())["install"]:
        info = entry["download_info"]
        hashes = info.get("archive_info", {}).get("hashes", {})
        url = info["url"]
        filename = url.rsplit("/", 1)[-1].split("#", 1)[0]
        if "sha256" not in hashes:
            raise BundleError(f"toolchain: pip gave no sha256 for {filename}; the index must publish hashes")
        items.append({
            "name": canonicalize_name(entry["metadata"]["name"]),
            "version": entry["metadata"]["version"],
            "filename": filename,
            "sha256": hashes["sha256"],
        })
    return sorted(items, key=lambda i: i["name"])


def cache_path(cache_dir: Path, item: dict[str, Any]) -> Path:
    return cache_dir / "toolchain" / "wheels" / item["sha256"] / item["filename"]


def fetch(items: list[dict[str, Any]], python: str, platform: str, cache_dir: Path, work: Path) -> dict[str, Path]:
    """Every locked wheel in the cache, verified; pip downloads only the missing ones, by hash."""
    paths = {i["filename"]: cache_path(cache_dir, i) for i in items}
    missing = [i for i in items if not paths[i["filename"]].exists()]
    if missing:
        work.mkdir(parents=True, exist_ok=True)
        req = work / "pinned-requirements.txt"
        req.write_text("".join(f"{i['name']}=={i['version']} --hash=sha256:{i['sha256']}\n" for i in missing))
        dl = work / "downloads"
        _pip(["download", "--no-deps", "--require-hashes", "--quiet", "-d", str(dl),
              *target_flags(python, platform), "-r", str(req)],
             f"downloading {len(missing)} locked wheels")
        # Match by content, not by name: another index may spell a file name differently (PyYAML/pyyaml).
        by_digest = {sha256_file(f).removeprefix("sha256:"): f for f in dl.iterdir() if f.is_file()}
        for item in missing:
            got = by_digest.get(item["sha256"])
            if got is None:
                raise IntegrityError(f"toolchain: pip did not download {item['filename']} "
                                     f"(sha256:{item['sha256']}); its index no longer has that file")
            dest = paths[item["filename"]]
            dest.parent.mkdir(parents=True, exist_ok=True)
            partial = dest.with_name(dest.name + ".partial")
            shutil.copyfile(got, partial)
            os.replace(partial, dest)
    return paths


def requirements_text(items: list[dict[str, Any]]) -> str:
    """A requirements file that installs exactly these wheels and refuses anything else."""
    lines = ["# Installs exactly the wheels beside it: pip install --no-index --find-links wheels -r requirements.txt"]
    ordered = sorted(items, key=lambda i: i["name"])
    lines += [f"{i['name']}=={i['version']} --hash=sha256:{i['sha256']}" for i in ordered]
    return "\n".join(lines) + "\n"

