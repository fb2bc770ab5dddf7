"""End to end: `wire-bundle build` of real Debian packages, then an island host with no network installs them.

The island is a `debootstrap --variant=minbase` bookworm root whose only apt source is the bundle's `debs/`
repository (bind-mounted, file: URI), run in its own network namespace. apt checks the signatures with the
bundle's keyring; a repository signed by any other key must be refused.
"""

from __future__ import annotations

import json
import shutil
import time

import pytest
from packageurl import PackageURL

from bundler.bundle import gpg
from tests.kinds.debs.conftest import write_spec
from tests.kinds.debs.island import Island, minbase_root
from tests.support.archive import extract
from tests.support.cli import run_cli

pytestmark = [pytest.mark.lab, pytest.mark.slow]

PACKAGES = ["nginx", "coturn", "openjdk-17-jre-headless"]


@pytest.fixture(scope="module")
def bundle(tmp_path_factory, debs_cache) -> dict:
    """The real pipeline: lock + build + verify through the CLI, then the repository as the island unpacks it."""
    import os
    if os.geteuid() != 0:
        pytest.skip("needs root (debootstrap, mount and network namespaces)")
    tmp = tmp_path_factory.mktemp("debs-bundle")
    spec = write_spec(tmp / "island.yaml", PACKAGES, name="island-test")
    started = time.monotonic()
    r = run_cli("build", spec, "-o", tmp / "island.tar.zst", "--cache-dir", debs_cache, "-q", timeout=900)
    assert r.returncode == 0, r.stderr
    built = time.monotonic() - started
    r = run_cli("verify", tmp / "island.tar.zst", timeout=900)
    assert r.returncode == 0, r.stderr
    repo = tmp / "repo"
    repo.mkdir(mode=0o755)
    repo.chmod(0o755)  # apt's file: method reads as the _apt user
    extract(tmp / "island.tar.zst", repo, prefix="debs/")
    lock = json.loads((tmp / "island.lock.json").read_text())
    packages = lock["debs"]["targets"][0]["packages"]
    print(f"\ndebs island bundle: {len(packages)} packages, {sum(p['size'] for p in packages) / 2**20:.1f} MiB, "
          f"lock+build {built:.1f}s")
    return {"repo": repo, "lock": lock, "archive": tmp / "island.tar.zst"}


def _problems(output: str) -> list[str]:
    return [ln for ln in output.splitlines() if ln.startswith(("W:", "E:", "N:", "Err:"))]


def test_island_installs_from_the_bundle_with_signatures_checked(bundle, tmp_path):
    island = Island(minbase_root("bookworm"), tmp_path / "island", bundle["repo"])
    island.use_repo()

    r = island.run("cat /proc/net/dev")
    interfaces = [ln.split(":")[0].strip() for ln in r.stdout.splitlines()[2:]]
    assert interfaces == ["lo"], r.stdout  # no way out: only a (down) loopback

    r = island.run("apt-get update")
    assert r.returncode == 0, r.stdout + r.stderr
    assert "file:/srv/debs bookworm InRelease" in r.stdout
    assert _problems(r.stdout + r.stderr) == []  # no warning: signature checked, nothing insecure or missing

    started = time.monotonic()
    r = island.run(f"apt-get install -y {' '.join(PACKAGES)}", timeout=900)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr
    assert _problems(r.stdout + r.stderr) == []
    print(f"\nisland install of {PACKAGES}: {time.monotonic() - started:.1f}s")

    locked = {p["name"]: p["version"] for p in bundle["lock"]["debs"]["targets"][0]["packages"]}
    r = island.run("dpkg-query -W -f '${Package} ${Version} ${Status}\\n' " + " ".join(PACKAGES))
    for line in r.stdout.splitlines():
        name, version, *status = line.split()
        assert version == locked[name] and status == ["install", "ok", "installed"], line
    r = island.run("java -version 2>&1 && nginx -v 2>&1 && turnserver --version 2>&1 | head -1")
    assert r.returncode == 0 and 'openjdk version "17' in r.stdout and "nginx/1.22" in r.stdout, r.stdout


def test_island_refuses_a_repository_signed_by_another_key(bundle, tmp_path, other_key):
    forged = tmp_path / "forged"
    shutil.copytree(bundle["repo"], forged, copy_function=shutil.copy)
    forged.chmod(0o755)
    dist = forged / "dists/bookworm"
    for name in ("InRelease", "Release.gpg"):
        (dist / name).unlink()
    gpg.sign_release(other_key, dist / "Release", dist / "InRelease", dist / "Release.gpg", at=int(time.time()))

    island = Island(minbase_root("bookworm"), tmp_path / "island", forged)
    island.use_repo()  # trusts the bundle's keyring, as the island does
    r = island.run("apt-get update")
    out = r.stdout + r.stderr
    assert r.returncode != 0 or "NO_PUBKEY" in out, out
    assert "NO_PUBKEY" in out and "is not signed" in out, out
    r = island.run("apt-get install -y nginx")
    assert r.returncode != 0


def test_rebuild_from_the_lock_is_byte_identical(bundle, debs_cache, tmp_path):
    spec = bundle["archive"].with_name("island.yaml")
    again = tmp_path / "again.tar.zst"
    r = run_cli("build", spec, "-o", again, "--locked", "--cache-dir", debs_cache, "-q", timeout=900)
    assert r.returncode == 0, r.stderr
    assert again.read_bytes() == bundle["archive"].read_bytes()  # signatures and Release Date included
    r = run_cli("inspect", again, timeout=900)
    assert r.returncode == 0 and "openjdk-17-jre-headless" in r.stdout and "wire-bundle-archive-keyring" in r.stdout


def test_sbom_lists_every_deb_by_purl_and_sha256(bundle):
    from tests.support.archive import read_tar

    sbom = json.loads(next(d for m, d in read_tar(bundle["archive"]) if m.name == "sbom.cdx.json"))
    listed = {}
    for c in sbom["components"]:
        if c["bom-ref"].startswith("deb:"):
            purl = PackageURL.from_string(c["purl"])
            listed[(purl.type, purl.namespace, purl.name, purl.version, purl.qualifiers["arch"],
                    purl.qualifiers["distro"])] = c["hashes"][0]["content"]
    target = bundle["lock"]["debs"]["targets"][0]
    expected = {("deb", "debian", p["name"], p["version"], p["architecture"], target["suite"]): p["sha256"]
                for p in target["packages"]}
    assert listed == expected and len(listed) > 10
