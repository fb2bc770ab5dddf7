"""The dependency closure of a target's packages, as apt decides it, minus the target's minimal system.

Baseline "minbase" stands for a `debootstrap --variant=minbase` system: Priority required and Essential
packages plus apt, with their dependencies as apt resolves them. They go into the root's dpkg status at the
*lowest* version the sources offer (the release's own version, before point and security updates), so a
package that needs a newer libc6 than a freshly installed target has pulls that newer libc6 into the bundle
instead of assuming it.
"""

from __future__ import annotations

import email.utils
import fcntl
import hashlib
import json
import os
import re
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

from bundler.errors import BundleError
from bundler.kinds.debs.aptroot import AptRoot, Source
from bundler.kinds.debs.index import PackageIndex, nearest_versions

MINBASE_EXTRAS = ("apt", "usr-is-merged")


@dataclass(frozen=True)
class LockedDeb:
    name: str
    version: str
    architecture: str
    component: str
    filename: str  # path in the source archive
    path: str  # path in the bundle's repository: pool/<source archive>/<path in its pool>
    url: str
    sha256: str
    size: int
    requested: bool

    def to_json(self) -> dict:
        return asdict(self)


@dataclass
class ResolvedTarget:
    date: str  # newest Date of the sources' Release files (RFC 2822)
    baseline: list[str]  # names assumed present on the target
    packages: list[LockedDeb]


def bundle_pool_path(repo_uri: str, filename: str) -> str:
    """Each source archive gets its own corner of the pool: a file name is unique within an archive, not across
    archives (Debian and Ubuntu both have pool/main/c/ca-certificates/...)."""
    archive = re.sub(r"[^A-Za-z0-9.+~-]+", "_", repo_uri.split("://", 1)[-1].strip("/"))
    return f"pool/{archive}/{filename.removeprefix('pool/')}"


def root_key(target_json: dict) -> str:
    return hashlib.sha256(json.dumps(target_json, sort_keys=True).encode()).hexdigest()[:16]


def resolve_target(
    *,
    name: str,
    architecture: str,
    sources: list[Source],
    baseline: str,
    packages: list[str],
    recommends: bool,
    root_dir: Path,
    settings: dict[str, str],
    log: Callable[[str], None],
) -> ResolvedTarget:
    what = f"debs target {name}"
    root_dir.mkdir(parents=True, exist_ok=True)
    # Builds sharing a cache share this root: one resolves at a time (apt itself would refuse, not wait).
    with open(root_dir / ".resolve.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        return _resolve(AptRoot(root_dir, architecture=architecture, sources=sources, settings=settings,
                                what=what), what, architecture, sources, baseline, packages, recommends, log)


def _resolve(root: AptRoot, what: str, architecture: str, sources: list[Source], baseline: str,
             packages: list[str], recommends: bool, log: Callable[[str], None]) -> ResolvedTarget:
    root.prepare()
    root.write_status([])
    root.update()
    index = PackageIndex()
    for src in root.index_sources():
        index.load(src)
    if not index.by_name:
        raise BundleError(f"{what}: the sources list no packages for architecture {architecture}")
    _check_requested(index, packages, what, sources)

    requested_names = {p.split("=", 1)[0] for p in packages}
    base: list[str] = []
    if baseline == "minbase":
        base = _install_baseline(root, index, requested_names, what, log)

    planned = root.simulate_install(packages, recommends=recommends)
    if root.removals:
        log(f"{what}: installing these packages removes {', '.join(root.removals)} from the target")
    locked = []
    for inst in planned:
        st = index.find(inst.name, inst.version, inst.architecture)
        if st is None:
            raise BundleError(f"{what}: apt chose {inst.name} {inst.version} ({inst.architecture}) but no Packages "
                              f"index lists it with a checksum")
        locked.append(LockedDeb(
            name=st.name, version=st.version, architecture=st.architecture, component=st.source.component,
            filename=st.filename, path=bundle_pool_path(st.source.repo_uri, st.filename), url=st.url,
            sha256=st.sha256, size=st.size,
            requested=st.name in requested_names,
        ))
    locked.sort(key=lambda d: (d.name, d.version, d.architecture))
    dates = root.release_dates()
    if not dates:
        raise BundleError(f"{what}: the sources gave no Release file with a Date")
    newest = max(dates, key=lambda d: email.utils.parsedate_to_datetime(d))
    return ResolvedTarget(date=newest, baseline=base, packages=locked)


def _check_requested(index: PackageIndex, packages: list[str], what: str, sources: list[Source]) -> None:
    suites = ", ".join(f"{s.uri} {'/'.join(s.suites)}" for s in sources)
    for p in packages:
        name, _, version = p.partition("=")
        if name not in index.by_name:
            if name in index.provided:
                continue  # a virtual package: apt picks the provider, or explains why it cannot
            raise BundleError(f"{what}: package {name} not found in {suites}")
        if version and "*" not in version and version not in index.versions(name):
            near = ", ".join(nearest_versions(index.versions(name), version))
            raise BundleError(f"{what}: package {name} has no version {version} in {suites} (available: {near})")


def _install_baseline(root: AptRoot, index: PackageIndex, requested: set[str], what: str,
                      log: Callable[[str], None]) -> list[str]:
    """Write the baseline into the root's dpkg status, less the requested packages (they are shipped)."""
    stanzas = _baseline_stanzas(root, index, what, log)
    names = sorted(set(stanzas) - requested)
    root.write_status([stanzas[n] for n in names])
    return names


def _baseline_stanzas(root: AptRoot, index: PackageIndex, what: str, log: Callable[[str], None]) -> dict[str, str]:
    # The baseline is a function of the indexes alone, and they are named by the signed Release files: while
    # those are unchanged, reuse it and save apt two runs over the whole archive.
    h = hashlib.sha256(json.dumps(MINBASE_EXTRAS).encode())
    for f in sorted(root.lists.iterdir()):
        if f.name.endswith(("_InRelease", "_Release")):
            h.update(f.name.encode() + b"\0" + f.read_bytes())
    memo = root.root / "baseline.json"
    try:
        cached = json.loads(memo.read_text())
        if cached["key"] == h.hexdigest():
            return cached["stanzas"]
    except (OSError, ValueError, KeyError):
        pass
    stanzas = _compute_baseline(root, index, what, log)
    tmp = memo.with_name("baseline.json.tmp")
    tmp.write_text(json.dumps({"key": h.hexdigest(), "stanzas": stanzas}))
    os.replace(tmp, memo)
    return stanzas


def _compute_baseline(root: AptRoot, index: PackageIndex, what: str, log: Callable[[str], None]) -> dict[str, str]:
    seeds = index.base_system()
    # debootstrap adds apt to minbase, and on merged-/usr releases it installs usr-is-merged itself, where apt
    # would pick the first alternative of `usrmerge | usr-is-merged` (and perl with it).
    seeds += [n for n in MINBASE_EXTRAS if n in index.by_name]
    planned = root.simulate_install(seeds, recommends=False)
    stanzas = {p.name: index.lowest(p.name).text for p in sorted(planned, key=lambda p: p.name)}
    root.write_status(list(stanzas.values()))
    if not root.check():
        # The release versions do not fit together (rare: a security update split a package); assume the
        # versions apt chose instead.
        log(f"{what}: baseline at release versions is inconsistent; assuming the newest versions")
        for p in planned:
            st = index.find(p.name, p.version, p.architecture)
            if st is not None:
                stanzas[p.name] = st.text
    return stanzas
