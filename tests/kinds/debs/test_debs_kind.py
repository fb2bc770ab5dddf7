"""The debs kind against the real Debian archive: resolution, baseline, bad input, checksums, the published repo."""

from __future__ import annotations

import copy
import json
import os
import re
import subprocess
import time
from pathlib import Path

import pytest

from bundler.bundle import gpg
from bundler.bundle.spec import load_spec
from bundler.errors import BundleError, IntegrityError
from bundler.kinds.debs.kind import KIND, cache_path
from tests.kinds.debs.conftest import DebsContext, write_spec
from tests.kinds.debs.island import minbase_root
from tests.support.cli import run_cli
from tests.support.netutil import free_port

pytestmark = pytest.mark.slow


def _lock(tmp_path: Path, ctx: DebsContext, packages: list[str], **kw) -> tuple:
    spec = load_spec(write_spec(tmp_path / "spec.yaml", packages, **kw))
    return spec, KIND.lock(spec, ctx)


def _module_lock(tmp_path_factory, debs_cache: Path, packages: list[str]) -> tuple:
    tmp = tmp_path_factory.mktemp("lock")
    ctx = DebsContext(cache_dir=debs_cache, work_dir=tmp)
    return _lock(tmp, ctx, packages)


# Resolving takes seconds (apt-get update, a 50 MB index, three apt runs): tests share these two locks.
@pytest.fixture(scope="module")
def hello(tmp_path_factory, debs_cache) -> tuple:
    # gpgv is part of minbase (apt needs it): asked for, it is shipped all the same.
    return _module_lock(tmp_path_factory, debs_cache, ["hello", "gpgv"])


@pytest.fixture(scope="module")
def nginx_coturn(tmp_path_factory, debs_cache) -> tuple:
    return _module_lock(tmp_path_factory, debs_cache, ["nginx", "coturn"])


def test_closure_is_pinned_and_leaves_out_the_minimal_system(tmp_path, ctx, nginx_coturn):
    _, lock = nginx_coturn
    (target,) = lock.targets
    pkgs = {p.name: p for p in target.packages}
    assert pkgs["nginx"].requested and pkgs["coturn"].requested
    assert "nginx-common" in pkgs and not pkgs["nginx-common"].requested  # a dependency, found by apt
    baseline = set(target.baseline_packages)
    assert {"libc6", "dpkg", "apt", "bash", "coreutils"} <= baseline
    assert not {"libc6", "dpkg", "bash", "coreutils"} & set(pkgs)  # essential packages are not shipped twice
    for p in target.packages:
        assert re.fullmatch(r"[0-9a-f]{64}", p.sha256) and p.size > 0
        assert p.filename.startswith("pool/") and p.url.endswith(p.filename)
        # In the bundle, each source archive has its own corner of the pool.
        archive = "deb.debian.org_debian-security" if "debian-security" in p.url else "deb.debian.org_debian"
        assert p.path == f"pool/{archive}/{p.filename.removeprefix('pool/')}"
    assert [p.name for p in target.packages] == sorted(pkgs)
    assert re.match(r"^\w{3}, \d{2} \w{3} \d{4} \d{2}:\d{2}:\d{2} UTC$", lock.date)
    # Resolving again from the same archive state gives the same lock.
    _, again = _lock(tmp_path, ctx, ["nginx", "coturn"])
    assert again == lock


def test_minbase_baseline_is_what_debootstrap_installs(needs_root, hello):
    root = minbase_root("bookworm")
    status = (root / "var/lib/dpkg/status").read_text()
    installed = sorted(re.findall(r"^Package: (\S+)$", status, re.M))
    _, lock = hello
    assert "gpgv" in installed
    assert lock.targets[0].baseline_packages == [n for n in installed if n != "gpgv"]
    shipped = {p.name: p.requested for p in lock.targets[0].packages}
    assert shipped == {"hello": True, "gpgv": True}  # their dependencies are all in minbase


def test_baseline_none_ships_the_essential_packages_too(tmp_path, ctx):
    target = {"name": "bookworm", "suite": "bookworm", "baseline": "none",
              "sources": [{"uri": "http://deb.debian.org/debian", "suites": ["bookworm"],
                           "signed_by": "/usr/share/keyrings/debian-archive-keyring.gpg"}]}
    path = tmp_path / "spec.yaml"
    path.write_text(json.dumps({"version": 1, "debs": {"targets": [target], "packages": ["hello"]}}))
    lock = KIND.lock(load_spec(path), ctx)
    names = {p.name for p in lock.targets[0].packages}
    assert {"hello", "libc6", "libgcc-s1"} <= names
    assert lock.targets[0].baseline_packages == []


def _cli_error(tmp_path: Path, cache: Path, packages: list[str], **kw) -> str:
    spec = write_spec(tmp_path / "bad.yaml", packages, **kw)
    r = run_cli("lock", spec, "--cache-dir", cache, "-q", timeout=900)
    assert r.returncode != 0, r.stdout
    lines = [ln for ln in r.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: "), r.stderr
    assert "Traceback" not in r.stderr
    assert not (tmp_path / "bad.lock.json").exists()  # nothing half-written
    return lines[0]


def test_missing_package_names_package_and_suites(tmp_path, debs_cache):
    line = _cli_error(tmp_path, debs_cache, ["nginx", "no-such-package-wb"])
    assert "package no-such-package-wb not found" in line
    assert "http://deb.debian.org/debian bookworm/bookworm-updates" in line


def test_missing_version_lists_nearest_available(tmp_path, debs_cache):
    line = _cli_error(tmp_path, debs_cache, ["nginx=1.22.1-999"])
    assert "package nginx has no version 1.22.1-999" in line
    assert re.search(r"available: .*1\.22\.1-9", line)


def test_unsatisfiable_dependency_gives_apts_explanation(tmp_path, debs_cache):
    line = _cli_error(tmp_path, debs_cache, ["exim4-daemon-light", "postfix"])
    assert "cannot resolve" in line
    assert "postfix : Conflicts: mail-transport-agent" in line  # apt's own words
    assert "Unable to correct problems" in line


def test_unreachable_source(tmp_path, debs_cache):
    port = free_port()  # nothing listens there
    sources = [{"uri": f"http://127.0.0.1:{port}/debian", "suites": ["bookworm"],
                "signed_by": "/usr/share/keyrings/debian-archive-keyring.gpg"}]
    line = _cli_error(tmp_path, debs_cache, ["hello"], sources=sources)
    assert "source unreachable or unverifiable" in line and f"127.0.0.1:{port}" in line


def test_source_signed_by_another_key_is_refused(tmp_path, debs_cache, other_key):
    other = tmp_path / "other-keyring.gpg"
    other.write_bytes(other_key.public)
    sources = [{"uri": "http://deb.debian.org/debian", "suites": ["bookworm"], "signed_by": str(other)}]
    line = _cli_error(tmp_path, debs_cache, ["hello"], sources=sources)
    assert "source unreachable or unverifiable" in line
    assert "NO_PUBKEY" in line or "not signed" in line


def test_checksum_mismatch_is_refused_and_nothing_is_kept(tmp_path, hello):
    ctx = DebsContext(cache_dir=tmp_path / "cache", work_dir=tmp_path / "work")  # an empty cache: a real download
    ctx.work_dir.mkdir()
    spec, lock = hello
    (hello,) = [p for p in lock.targets[0].packages if p.name == "hello"]
    bad = copy.deepcopy(lock)
    wrong = "0" * 64
    for p in bad.targets[0].packages:
        if p.name == "hello":
            p.sha256 = wrong
    with pytest.raises(IntegrityError) as exc:
        KIND.fetch(spec, bad, ctx)
    msg = str(exc.value)
    assert "hello" in msg and f"expected sha256:{wrong}" in msg and f"got sha256:{hello.sha256}" in msg
    assert hello.url in msg
    assert not cache_path(ctx.cache_dir, wrong).exists()
    # Neither under the locked digest nor under its own: nothing unverified reaches the store, nor stays partial.
    assert not cache_path(ctx.cache_dir, hello.sha256).exists()
    assert not list(cache_path(ctx.cache_dir, wrong).parent.glob("*.partial"))


def _generated(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def test_published_repository_is_signed_long_lived_and_reproducible(tmp_path, ctx, nginx_coturn):
    spec, lock = nginx_coturn
    first = KIND.fetch(spec, lock, ctx)
    files_one = _generated(ctx.work_dir / "debs")
    ctx2 = DebsContext(cache_dir=ctx.cache_dir, work_dir=tmp_path / "work2")
    ctx2.work_dir.mkdir()
    second = KIND.fetch(spec, lock, ctx2)
    assert _generated(ctx2.work_dir / "debs") == files_one  # signatures included: byte for byte
    assert [(a.path, a.digest) for a in first.artifacts] == [(a.path, a.digest) for a in second.artifacts]

    paths = {a.path for a in first.artifacts}
    for member in ("Release", "InRelease", "Release.gpg", "main/binary-amd64/Packages",
                   "main/binary-amd64/Packages.gz"):
        assert f"debs/dists/bookworm/{member}" in paths
    assert {"debs/wire-bundle-archive-keyring.gpg", "debs/wire-bundle-archive-keyring.asc"} <= paths
    nginx = next(p for p in lock.targets[0].packages if p.name == "nginx")
    assert f"debs/{nginx.path}" in paths

    release = files_one["dists/bookworm/Release"].decode()
    assert "Valid-Until" not in release and f"Date: {lock.date}" in release
    keyring = ctx.work_dir / "debs/wire-bundle-archive-keyring.gpg"
    for args in (["dists/bookworm/InRelease"], ["dists/bookworm/Release.gpg", "dists/bookworm/Release"]):
        r = subprocess.run(["gpgv", "--keyring", str(keyring), *[str(ctx.work_dir / "debs" / a) for a in args]],
                           capture_output=True, text=True)
        assert r.returncode == 0, r.stderr
    key = first.summary.key
    assert key.expires is not None and key.expires - time.time() > 3 * 365 * 86400  # years, not months
    packages = files_one["dists/bookworm/main/binary-amd64/Packages"].decode()
    assert f"Package: nginx\nVersion: {nginx.version}\n" in packages
    assert f"SHA256: {nginx.sha256}" in packages

    title, columns, rows = KIND.inspect_rows(first.summary)
    assert key.fingerprint in title
    assert ["nginx", nginx.version] in [r[1:3] for r in rows]


def test_user_supplied_signing_key(tmp_path, ctx, hello):
    home = tmp_path / "gnupg"
    home.mkdir(mode=0o700)
    env = {**os.environ, "GNUPGHOME": str(home)}
    base = ["gpg", "--batch", "--pinentry-mode", "loopback"]
    subprocess.run([*base, "--passphrase", "", "--quick-gen-key", "Island Ops <ops@island.invalid>", "rsa3072",
                    "sign", "10y"], env=env, check=True, capture_output=True)
    secret = tmp_path / "island-key.asc"
    secret.write_bytes(subprocess.run(["gpg", "--armor", "--export-secret-keys"], env=env, check=True,
                                      capture_output=True).stdout)
    fpr = re.search(r"^fpr:+([0-9A-F]{40}):", subprocess.run(
        ["gpg", "--with-colons", "--list-keys"], env=env, check=True, capture_output=True, text=True).stdout,
        re.M).group(1)
    spec = load_spec(write_spec(tmp_path / "spec.yaml", ["hello"], signing_key=str(secret)))
    lock = hello[1]
    result = KIND.fetch(spec, lock, ctx)
    assert result.summary.key.fingerprint == fpr

    protected_home = tmp_path / "gnupg2"
    protected_home.mkdir(mode=0o700)
    env2 = {**os.environ, "GNUPGHOME": str(protected_home)}
    subprocess.run([*base, "--passphrase", "secret", "--quick-gen-key", "Locked <l@island.invalid>", "rsa3072",
                    "sign", "10y"], env=env2, check=True, capture_output=True)
    locked = tmp_path / "locked.asc"
    locked.write_bytes(subprocess.run([*base, "--passphrase", "secret", "--armor", "--export-secret-keys"],
                                      env=env2, check=True, capture_output=True).stdout)
    with pytest.raises(BundleError, match="cannot sign without a passphrase"):
        gpg.read_key(locked)
    subprocess.run(["gpgconf", "--kill", "all"], env=env)
    subprocess.run(["gpgconf", "--kill", "all"], env=env2)


def test_two_architectures_share_one_suite(tmp_path, ctx):
    main = [{"uri": "http://deb.debian.org/debian", "suites": ["bookworm"],
             "signed_by": "/usr/share/keyrings/debian-archive-keyring.gpg"}]
    targets = [{"name": f"bookworm-{a}", "suite": "bookworm", "architecture": a, "sources": main}
               for a in ("amd64", "arm64")]
    path = tmp_path / "spec.yaml"
    path.write_text(json.dumps({"version": 1, "debs": {"targets": targets, "packages": ["hello"]}}))
    spec = load_spec(path)
    lock = KIND.lock(spec, ctx)
    by_target = {t.name: t for t in lock.targets}
    assert [p.architecture for p in by_target["bookworm-arm64"].packages] == ["arm64"]
    result = KIND.fetch(spec, lock, ctx)
    repo = ctx.work_dir / "debs/dists/bookworm"
    assert "Architectures: amd64 arm64" in (repo / "Release").read_text()
    for arch in ("amd64", "arm64"):
        packages = (repo / f"main/binary-{arch}/Packages").read_text()
        assert "Package: hello\n" in packages and f"Architecture: {arch}\n" in packages
    assert len([a for a in result.artifacts if a.kind == "deb"]) == 2


def test_suite_and_architecture_must_be_unique_per_target(tmp_path):
    from bundler.bundle.spec import loads_spec
    from bundler.errors import SpecError
    t = {"name": "a", "suite": "bookworm", "sources": [{"uri": "http://x", "suites": ["bookworm"], "signed_by": "k"}]}
    with pytest.raises(SpecError, match="duplicate target suite/architecture 'bookworm/amd64'"):
        loads_spec(json.dumps({"version": 1, "debs": {"targets": [t, {**t, "name": "b"}], "packages": ["hello"]}}))


def test_install_recommends_widens_the_closure(tmp_path, ctx):
    _, plain = _lock(tmp_path, ctx, ["openssh-server"])
    _, wide = _lock(tmp_path, ctx, ["openssh-server"], install_recommends=True)
    plain_names = {p.name for p in plain.targets[0].packages}
    wide_names = {p.name for p in wide.targets[0].packages}
    assert plain_names < wide_names
    assert "xauth" in wide_names - plain_names  # openssh-client Recommends: xauth


def test_version_gone_from_the_archive_says_lock_again(tmp_path, hello):
    ctx = DebsContext(cache_dir=tmp_path / "cache", work_dir=tmp_path / "work")
    ctx.work_dir.mkdir()
    spec, lock = hello
    stale = copy.deepcopy(lock)
    (p,) = [p for p in stale.targets[0].packages if p.name == "hello"]
    p.url = p.url.replace(p.version, "0.0-0wb")  # what a superseded version looks like: 404
    with pytest.raises(BundleError, match=r"404 not found .*the archive no longer has this version: lock again"):
        KIND.fetch(spec, stale, ctx)
