"""The admin-host toolchain, for real: `wire-bundle build` resolves and downloads from PyPI, the archive is
unpacked, its wheelhouse installed into a fresh venv with no index and no network (a new network namespace) by
its install.sh, and its collections installed with `ansible-galaxy collection install --offline`.

Downloads are cached in WIRE_BUNDLE_TEST_CACHE (default /var/cache/wire-bundle-tests) so reruns are fast.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import re
import subprocess
import tarfile
from pathlib import Path

import pytest

from bundler.bundle.lock import ToolchainLock
from bundler.bundle.spec import load_spec, loads_spec
from bundler.errors import BundleError, SpecError
from bundler.kinds.toolchain.kind import KIND
from bundler.kinds.toolchain.summary import ToolchainSummary
from tests.kinds.files.context import build_context
from tests.support.archive import extract
from tests.support.cli import run, run_cli

CACHE = Path(os.environ.get("WIRE_BUNDLE_TEST_CACHE", "/var/cache/wire-bundle-tests")) / "toolchain-kind"
SPEC = """version: 1
toolchain:
  python: "3.11"
  platform: manylinux2014_x86_64
  collections: [ansible.posix, community.docker]
"""

pytestmark = pytest.mark.slow


def offline(cmd: list[str], **env: str) -> subprocess.CompletedProcess:
    return run(cmd, offline=True, env=env, timeout=600)


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    """One real `wire-bundle build` for the module; the archive is unpacked as the island would see it."""
    tmp = tmp_path_factory.mktemp("toolchain")
    spec_path = tmp / "bundle.yaml"
    spec_path.write_text(SPEC)
    archive = tmp / "toolchain.tar.zst"
    proc = run_cli("build", str(spec_path), "-o", str(archive), "--cache-dir", str(CACHE), "-q", cwd=tmp, timeout=1200)
    assert proc.returncode == 0, proc.stderr[-3000:]
    stage = tmp / "bundle"
    extract(archive, stage)
    bundle = json.loads((stage / "bundle.json").read_text())
    return {
        "spec": load_spec(spec_path),
        "ctx": build_context(cache_dir=CACHE, work_dir=tmp / "work"),
        "locked": json.loads((tmp / "bundle.lock.json").read_text())["toolchain"],
        "summary": bundle["kinds"]["toolchain"],
        "archived": {a["path"]: a["digest"] for a in bundle["artifacts"] if a["kind"] == "toolchain"},
        "archive": archive,
        "stage": stage,
        "tmp": tmp,
    }


def test_lock_pins_every_wheel_by_filename_and_sha256(built):
    locked = built["locked"]
    assert locked["python"] == "3.11" and locked["platform"] == "manylinux2014_x86_64"
    assert locked["project"]["name"] == "wire-bundle"
    names = [w["name"] for w in locked["wheels"]]
    assert names == sorted(names)
    for required in ("ansible-core", "ansible-runner", "pyyaml", "cryptography", "pydantic-core", "zstandard",
                     "cyclonedx-python-lib", "packageurl-python"):
        assert required in names, f"{required} missing from the wheelhouse"
    for w in locked["wheels"]:
        assert w["filename"].endswith(".whl"), f"{w['filename']} is not a binary wheel"
        tags = w["filename"][:-4].split("-")[-3:]
        assert tags[0] in ("py3", "py2.py3", "cp311", "abi3") or tags[0].startswith("cp311"), w["filename"]
        assert tags[2] == "any" or "manylinux" in tags[2], f"{w['filename']} is not for the target platform"
        assert len(w["sha256"]) == 64
    # The collections' source package is resolved with the wheels (same ansible-core) but not shipped as a wheel.
    assert locked["collections_source"]["name"] == "ansible"
    assert "ansible" not in names
    assert [c["name"] for c in locked["collections"]] == [
        "ansible.posix", "community.docker", "community.library_inventory_filtering_v1"]
    assert [c["requested"] for c in locked["collections"]] == [True, True, False]


def test_second_fetch_from_the_lock_gives_the_same_bytes(built):
    again = KIND.fetch(built["spec"], ToolchainLock.model_validate(built["locked"]), built["ctx"])
    # This project's wheel (and requirements.txt, which pins its hash) follow the source tree, which other
    # developers edit while tests run; everything taken from upstream must come out byte for byte the same.
    def upstream(digests):
        return {p: d for p, d in digests.items()
                if not p.startswith("toolchain/wheels/wire_bundle-") and p != "toolchain/requirements.txt"}
    assert upstream({a.path: a.digest for a in again.artifacts}) == upstream(built["archived"])
    assert len(upstream(built["archived"])) == len(built["locked"]["wheels"]) + len(built["locked"]["collections"]) + 1


def test_archive_verifies_and_inspect_lists_the_toolchain(built):
    verified = run_cli("verify", str(built["archive"]), cwd=built["tmp"], timeout=1200)
    assert verified.returncode == 0, verified.stdout + verified.stderr
    shown = run_cli("inspect", str(built["archive"]), cwd=built["tmp"], timeout=1200)
    assert shown.returncode == 0, shown.stderr
    assert "toolchain (Python 3.11, manylinux2014_x86_64)" in shown.stdout
    assert "ansible-core" in shown.stdout and "community.docker" in shown.stdout
    # The SBOM lists every wheel (and this project's own) by its pypi purl and sha256, every collection too.
    sbom = json.loads((built["stage"] / "sbom.cdx.json").read_text())
    listed = {c["purl"]: c["hashes"][0]["content"] for c in sbom["components"] if c["bom-ref"].startswith("wheel:")}
    summary = built["summary"]
    assert listed == {f"pkg:pypi/{w['name']}@{w['version']}?file_name={w['filename']}": w["sha256"]
                      for w in [summary["project"], *summary["wheels"]]}
    assert sorted(c["name"] for c in sbom["components"] if c["bom-ref"].startswith("collection:")) == [
        c["name"] for c in summary["collections"]]


def test_requirements_pin_every_shipped_wheel(built):
    stage = built["stage"] / "toolchain"
    shipped = sorted(p.name for p in (stage / "wheels").iterdir())
    lines = [ln for ln in (stage / "requirements.txt").read_text().splitlines() if not ln.startswith("#")]
    assert len(lines) == len(shipped)
    assert all(" --hash=sha256:" in ln and "==" in ln for ln in lines)
    summary = built["summary"]
    assert summary["project"]["filename"] in shipped
    title, columns, rows = KIND.inspect_rows(ToolchainSummary.model_validate(summary))
    assert title == "toolchain (Python 3.11, manylinux2014_x86_64)"
    assert ["collection", "ansible.posix", built["locked"]["collections"][0]["version"],
            f"ansible-posix-{built['locked']['collections'][0]['version']}.tar.gz"] in rows


def test_wheelhouse_installs_offline_and_ansible_runs(built):
    venv = built["tmp"] / "island-venv"
    collections = built["tmp"] / "island-collections"
    proc = offline(["sh", str(built["stage"] / "toolchain" / "install.sh"), str(venv), str(collections)])
    assert proc.returncode == 0, proc.stderr[-3000:]

    version = offline([str(venv / "bin" / "ansible-playbook"), "--version"])
    assert version.returncode == 0, version.stderr
    core = next(w for w in built["locked"]["wheels"] if w["name"] == "ansible-core")
    assert f"[core {core['version']}]" in version.stdout
    assert str(venv) in version.stdout

    assert offline([str(venv / "bin" / "wire-bundle"), "--help"]).returncode == 0
    runner = offline([str(venv / "bin" / "python"), "-c", "import ansible_runner, bundler.bundle.spec"])
    assert runner.returncode == 0, runner.stderr

    listed = offline([str(venv / "bin" / "ansible-galaxy"), "collection", "list", "--format", "json",
                      "-p", str(collections)])
    assert listed.returncode == 0, listed.stderr
    found = json.loads(listed.stdout).get(str(collections / "ansible_collections"), {})
    assert {k: v["version"] for k, v in found.items()} == {c["name"]: c["version"]
                                                          for c in built["locked"]["collections"]}
    # The collection's modules are usable, not just listed.
    doc = offline([str(venv / "bin" / "ansible-doc"), "-t", "module", "ansible.posix.sysctl"],
                  ANSIBLE_COLLECTIONS_PATH=str(collections))
    assert doc.returncode == 0 and "sysctl" in doc.stdout, doc.stderr


def test_tampered_collection_is_refused_by_ansible_galaxy(built):
    venv = built["tmp"] / "island-venv"
    if not (venv / "bin" / "ansible-galaxy").exists():
        pytest.fail("needs the venv from test_wheelhouse_installs_offline_and_ansible_runs")
    src = next((built["stage"] / "toolchain" / "collections").glob("ansible-posix-*.tar.gz"))
    bad = built["tmp"] / src.name
    with tarfile.open(src) as tin, tarfile.open(bad, "w:gz") as tout:
        for member in tin.getmembers():
            data = tin.extractfile(member).read() if member.isfile() else None
            if member.name == "README.md":
                data = data + b"\ntampered\n"
                member.size = len(data)
            tout.addfile(member, None if data is None else io.BytesIO(data))
    proc = offline([str(venv / "bin" / "ansible-galaxy"), "collection", "install", "--offline",
                    "-p", str(built["tmp"] / "tampered"), str(bad)])
    assert proc.returncode != 0
    assert "README.md" in proc.stderr + proc.stdout


def lock_error(tmp_path: Path, spec_text: str) -> str:
    """The one-line error locking `spec_text` fails with."""
    spec_path = tmp_path / "bundle.yaml"
    spec_path.write_text(spec_text)
    with pytest.raises(BundleError) as err:
        KIND.lock(load_spec(spec_path), build_context(cache_dir=CACHE, work_dir=tmp_path / "work"))
    msg = str(err.value)
    assert "\n" not in msg
    return msg


def test_collection_not_in_the_source_package_is_named(tmp_path, built):
    msg = lock_error(tmp_path, SPEC.replace("community.docker", "community.nosuchthing"))
    assert re.match(r"toolchain: collection community.nosuchthing is not in ansible-[\d.]+-py3-none-any\.whl; "
                    r"community\.\* there: ", msg), msg


def test_package_without_a_binary_wheel_is_refused_with_pips_reason(tmp_path):
    msg = lock_error(tmp_path, 'version: 1\ntoolchain:\n  packages: ["ansible-core==0.0.1"]\n')
    assert msg.startswith("toolchain: resolving wire_bundle-") and "for Python 3.11 on manylinux2014_x86_64" in msg
    assert msg.endswith("No matching distribution found for ansible-core==0.0.1")


def test_python_the_project_does_not_support_is_refused_with_pips_reason(tmp_path):
    msg = lock_error(tmp_path, 'version: 1\ntoolchain:\n  python: "3.10"\n')
    assert "for Python 3.10 on manylinux2014_x86_64: " in msg
    assert "'wire-bundle' requires a different Python: 3.10.0 not in '>=3.11'" in msg


def test_bad_collection_name_is_a_spec_error():
    with pytest.raises(SpecError, match=r"toolchain\.collections: invalid collection 'posix'"):
        loads_spec("version: 1\ntoolchain:\n  collections: [posix]\n")


def subset(locked: dict, names: tuple[str, ...]) -> dict:
    return {**locked, "wheels": [w for w in locked["wheels"] if w["name"] in names], "collections": [],
            "collections_source": None}


def test_fetch_from_the_lock_into_an_empty_cache_downloads_exactly_the_locked_files(built, tmp_path):
    locked = subset(built["locked"], ("idna", "mdurl", "packaging"))
    assert len(locked["wheels"]) == 3
    ctx = build_context(cache_dir=tmp_path / "cache", work_dir=tmp_path / "work")
    result = KIND.fetch(built["spec"], ToolchainLock.model_validate(locked), ctx)
    for w in locked["wheels"]:
        cached = tmp_path / "cache" / "blobs" / "sha256" / w["sha256"]
        assert hashlib.sha256(cached.read_bytes()).hexdigest() == w["sha256"]
    shipped = sorted(a.path for a in result.artifacts if a.path.startswith("toolchain/wheels/"))
    assert len(shipped) == 4  # the three locked wheels and this project's


def test_a_lock_whose_hash_pypi_does_not_have_is_refused(built, tmp_path):
    locked = subset(built["locked"], ("mdurl",))
    forged = hashlib.sha256(b"not mdurl").hexdigest()
    locked["wheels"] = [{**locked["wheels"][0], "sha256": forged}]
    ctx = build_context(cache_dir=tmp_path / "cache", work_dir=tmp_path / "work")
    with pytest.raises(BundleError) as err:
        KIND.fetch(built["spec"], ToolchainLock.model_validate(locked), ctx)
    assert str(err.value).startswith("toolchain: downloading 1 locked wheels: ") and "\n" not in str(err.value)
    assert not (tmp_path / "cache" / "blobs" / "sha256" / forged).exists()
