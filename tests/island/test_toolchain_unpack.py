"""`wire-bundle unpack --toolchain-venv`: the admin host gets wire-bundle and Ansible from the bundle alone.

The bundle is built with the real CLI (wheels from PyPI, cached in WIRE_BUNDLE_TEST_CACHE like the toolchain
tests); the unpack and the install run in a network namespace with only a downed loopback, so nothing can be
fetched."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from tests.support.cli import run_cli

CACHE = Path(os.environ.get("WIRE_BUNDLE_TEST_CACHE", "/var/cache/wire-bundle-tests")) / "toolchain-kind"
SPEC = """version: 1
name: admin-toolchain
toolchain:
  python: "3.11"
  platform: manylinux2014_x86_64
  collections: [ansible.posix]
"""

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def archive(tmp_path_factory):
    if os.geteuid() != 0:
        pytest.skip("unshare --net needs root")
    tmp = tmp_path_factory.mktemp("admin")
    (tmp / "admin.yaml").write_text(SPEC)
    proc = run_cli("build", tmp / "admin.yaml", "-o", tmp / "admin.tar.zst", "--cache-dir", CACHE, "-q",
                   timeout=1200)
    assert proc.returncode == 0, proc.stderr[-2000:]
    return tmp / "admin.tar.zst"


def test_unpack_installs_the_toolchain_offline_once(archive, tmp_path):
    venv = tmp_path / "opt" / "venv"
    r = run_cli("unpack", archive, "--to", tmp_path / "bundle", "--toolchain-venv", venv, offline=True, timeout=900)
    assert r.returncode == 0, r.stderr
    assert "collections in" in r.stdout
    version = subprocess.run([str(venv / "bin" / "wire-bundle"), "--version"], capture_output=True, text=True)
    assert version.returncode == 0 and "wire-bundle" in version.stdout
    runner = subprocess.run([str(venv / "bin" / "python"), "-c", "import ansible_runner, bundler.island.runner"],
                            capture_output=True, text=True)
    assert runner.returncode == 0, runner.stderr
    assert (tmp_path / "opt" / "collections" / "ansible_collections" / "ansible" / "posix").is_dir()
    again = run_cli("unpack", archive, "--to", tmp_path / "bundle", "--toolchain-venv", venv, offline=True, timeout=900)
    assert again.returncode == 0 and "nothing to do" in again.stdout


def test_a_bundle_without_toolchain_says_so(tmp_path, registry, image_factory):
    from tests.bundle.conftest import write_spec

    image_factory.push(registry, "admin/none", image_factory.simple("none"), tag="1")
    spec = write_spec(tmp_path / "s.yaml", [f"{registry.host}/admin/none:1"], {registry.host: {"insecure": True}})
    assert run_cli("build", spec, "-o", tmp_path / "n.tar.zst", "--cache-dir", tmp_path / "c").rc == 0
    r = run_cli("unpack", tmp_path / "n.tar.zst", "--to", tmp_path / "b", "--toolchain-venv", tmp_path / "v")
    assert r.rc == 1 and "has no toolchain" in r.err and not (tmp_path / "v").exists()
