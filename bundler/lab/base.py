"""Cached read-only base roots: debootstrap once per (suite, package set), shared by every lab host.

Hosts never write to a base: each host mounts it as the lower layer of its own overlay. A base is built
in a temporary directory and renamed into place, so an interrupted build never leaves a half base that
a later lab would use.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import re
import shutil
import time
from pathlib import Path

from bundler.lab.errors import LabError
from bundler.lab.sysrun import run

# Bump when the post-debootstrap preparation changes, so old cached bases are not reused.
BASE_FORMAT = 2
APT_SOURCES = [Path("/etc/apt/sources.list"), Path("/etc/apt/sources.list.d")]


def base_key(suite: str, packages: list[str]) -> str:
    blob = json.dumps({"format": BASE_FORMAT, "suite": suite, "packages": sorted(set(packages))})
    return f"{suite}-{hashlib.sha256(blob.encode()).hexdigest()[:12]}"


def mirror_for_suite(suite: str) -> str:
    """The archive URI this machine's apt uses for `suite` (main component), so debootstrap follows it."""
    files: list[Path] = []
    for p in APT_SOURCES:
        if p.is_file():
            files.append(p)
        elif p.is_dir():
            files.extend(sorted(p.glob("*.list")) + sorted(p.glob("*.sources")))
    for f in files:
        text = f.read_text(errors="replace")
        if f.suffix == ".sources":
            for stanza in re.split(r"\n\s*\n", text):
                fields = {}
                for line in stanza.splitlines():
                    m = re.match(r"^([A-Za-z-]+):\s*(.*)$", line)
                    if m:
                        fields[m.group(1).lower()] = m.group(2).split()
                if ("deb" in fields.get("types", []) and suite in fields.get("suites", [])
                        and "main" in fields.get("components", []) and fields.get("uris")):
                    return fields["uris"][0]
        else:
            for line in text.splitlines():
                parts = re.sub(r"\[[^]]*\]", "", line.split("#", 1)[0]).split()
                if len(parts) >= 4 and parts[0] == "deb" and parts[2] == suite and "main" in parts[3:]:
                    return parts[1]
    raise LabError(f"no apt source on this machine serves Debian suite {suite!r} (main); pass --mirror URL")


def ensure_base(cache_dir: Path, suite: str, packages: list[str], mirror: str | None = None,
                log=print) -> Path:
    """Return the root directory of the cached base for suite+packages, building it first if needed."""
    key = base_key(suite, packages)
    final = cache_dir / key
    root = final / "root"
    if (final / "meta.json").exists():
        return root
    cache_dir.mkdir(parents=True, exist_ok=True)
    with open(cache_dir / f"{key}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # a concurrent lab building the same base: wait for it, then reuse
        if (final / "meta.json").exists():
            return root
        tmp = cache_dir / f".tmp-{key}"
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir()
        uri = mirror or mirror_for_suite(suite)
        log(f"lab: building base {key} ({suite}: {', '.join(sorted(set(packages)))}) with debootstrap")
        started = time.monotonic()
        proc = run(["debootstrap", "--variant=minbase", f"--include={','.join(sorted(set(packages)))}",
                    suite, str(tmp / "root"), uri], what=f"building lab base {key}", check=False, timeout=1800)
        if proc.returncode != 0:
            (cache_dir / f"{key}.failed.log").write_text(proc.stdout + proc.stderr)
            shutil.rmtree(tmp, ignore_errors=True)
            tail = (proc.stderr.strip() or proc.stdout.strip()).splitlines()[-1:]
            raise LabError(f"building lab base {key}: debootstrap failed ({' '.join(tail)}); "
                           f"full log in {cache_dir / f'{key}.failed.log'}")
        prepare_root(tmp / "root")
        (tmp / "meta.json").write_text(json.dumps({
            "suite": suite, "packages": sorted(set(packages)), "mirror": uri, "format": BASE_FORMAT,
            "build_seconds": round(time.monotonic() - started, 1)}, indent=2))
        shutil.rmtree(final, ignore_errors=True)
        tmp.rename(final)
    return root


def prepare_root(root: Path) -> None:
    """Make a fresh debootstrap root fit to be shared: nothing host-specific, nothing that needs a network."""
    # Every host gets its own SSH host keys and machine id; a shared one would make hosts indistinguishable.
    for key in (root / "etc/ssh").glob("ssh_host_*"):
        key.unlink()
    (root / "etc/machine-id").write_text("")
    (root / "etc/hostname").write_text("localhost\n")
    # Island hosts have no DNS and no reachable mirror; an empty apt source list keeps `apt-get update`
    # honest (it succeeds with nothing) until the offline_sources role points apt at the island repo.
    (root / "etc/apt/sources.list").write_text("# island lab: no network; the island apt repo is configured later\n")
    resolv = root / "etc/resolv.conf"
    if resolv.is_symlink() or resolv.exists():
        resolv.unlink()
    resolv.write_text("# island lab: no DNS server\n")
    for deb in (root / "var/cache/apt/archives").glob("*.deb"):
        deb.unlink()
    for lists in (root / "var/lib/apt/lists").glob("*_*"):
        lists.unlink()


def base_size_bytes(root: Path) -> int:
    total = 0
    for p in root.rglob("*"):
        try:
            if p.is_file() and not p.is_symlink():
                total += p.lstat().st_size
        except OSError:
            pass
    return total


def cached_bases(cache_dir: Path) -> list[dict]:
    """Complete bases in the cache: key, root, suite, packages, size in bytes."""
    out = []
    if cache_dir.is_dir():
        for meta in sorted(cache_dir.glob("*/meta.json")):
            info = json.loads(meta.read_text())
            root = meta.parent / "root"
            out.append({"key": meta.parent.name, "root": root, "suite": info.get("suite"),
                        "packages": info.get("packages", []), "size": base_size_bytes(root)})
    return out


def remove_base(cache_dir: Path, key: str) -> bool:
    """Delete one cached base under its build lock (a lab being built from it right now keeps it)."""
    final = cache_dir / key
    with open(cache_dir / f"{key}.lock", "w") as lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return False
        (final / "meta.json").unlink(missing_ok=True)  # first, so nobody picks up a half-deleted base
        shutil.rmtree(final, ignore_errors=True)
    (cache_dir / f"{key}.lock").unlink(missing_ok=True)
    return not final.exists()
