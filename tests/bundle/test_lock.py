"""The lock as typed records: a lock whose spec digest matches but whose content is malformed (wrong types,
missing keys) is refused with one line naming the lock file and the field, before anything is fetched."""

from __future__ import annotations

import copy
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from bundler.bundle.lock import Lock, parse_lock, read_lock_for
from bundler.errors import SpecError
from tests.bundle.golden import FIXTURE

GOLDEN = json.loads((FIXTURE / "golden.lock.json").read_text())

DEB = {"name": "nginx", "version": "1.22.1-9", "architecture": "amd64", "component": "main",
       "filename": "pool/main/n/nginx/nginx_1.22.1-9_amd64.deb", "path": "pool/deb.debian.org/n/nginx.deb",
       "url": "http://deb.debian.org/debian/pool/main/n/nginx/nginx_1.22.1-9_amd64.deb", "sha256": "ab" * 32,
       "size": 1000, "requested": True}
DEBS = {"requested": ["nginx"], "install_recommends": False, "date": "Sat, 09 Nov 2024 10:00:00 UTC",
        "targets": [{"name": "bookworm", "suite": "bookworm", "architecture": "amd64", "baseline": "minbase",
                     "sources": [{"uri": "http://deb.debian.org/debian", "suites": ["bookworm"],
                                  "components": ["main"]}],
                     "date": "Sat, 09 Nov 2024 10:00:00 UTC", "baseline_packages": ["bash"], "packages": [DEB]}]}
CHART = {"name": "tiny", "repo": "https://charts.invalid", "constraint": "^1", "version": "1.2.0",
         "url": "https://charts.invalid/tiny-1.2.0.tgz", "digest": "sha256:" + "cd" * 32, "size": 900,
         "dependencies": [{"name": "lib", "repo": "https://charts.invalid", "constraint": "1.0.0", "version": "1.0.0",
                           "url": "https://charts.invalid/lib-1.0.0.tgz", "digest": "sha256:" + "ef" * 32,
                           "size": 100, "within": ["sub"], "dependencies": []}],
         "values": [{"set": "default", "digests": []}],
         "images": [{"image": "quay.io/wire/tiny:1", "chart": "tiny", "version": "1.2.0", "source": "template",
                     "template": "tiny/templates/d.yaml", "kind": "Deployment", "object": "tiny",
                     "container": "tiny", "field": "containers", "values": ["default"]}],
         "release": {"manifest": "build.json", "sha256": "01" * 32, "version": "5.29.0"}}
TOOLCHAIN = {"python": "3.11", "platform": "manylinux2014_x86_64",
             "project": {"name": "wire-bundle", "version": "0.1.0"},
             "wheels": [{"name": "pyyaml", "version": "6.0.2", "filename": "PyYAML-6.0.2.whl", "sha256": "23" * 32}],
             "collections_source": {"name": "ansible", "version": "10.0.0", "filename": "ansible-10.0.0.whl",
                                    "sha256": "45" * 32},
             "collections": [{"name": "ansible.posix", "version": "1.5.4", "dependencies": [], "requested": True}]}
FULL = {**GOLDEN, "debs": DEBS, "charts": [CHART], "toolchain": TOOLCHAIN}


def test_every_section_reads_and_writes_back_as_it_was():
    lock = parse_lock(copy.deepcopy(FULL), Path("x.lock.json"))
    assert lock.to_json() == FULL
    assert json.loads(lock.dumps()) == FULL
    assert lock.kinds() == ["charts", "images", "debs", "files", "toolchain"]
    assert [c.to_json() for c in lock.charts] == [CHART] and lock.debs.to_json() == DEBS
    assert lock.charts[0].dependencies[0].within == ["sub"] and lock.debs.targets[0].packages[0].requested is True


def _set(doc: dict, path: str, value) -> dict:
    *parents, last = path.split(".")
    node = doc
    for p in parents:
        node = node[int(p)] if isinstance(node, list) else node[p]
    if value is KeyError:
        del node[last]
    elif isinstance(node, list):
        node[int(last)] = value
    else:
        node[last] = value
    return doc


@pytest.mark.parametrize(("path", "value", "says"), [
    ("images.0.size", "415", "images.0.size: Input should be a valid integer"),
    ("images.0.digest", KeyError, "images.0.digest: Field required"),
    ("images.0.platforms", "linux/amd64", "images.0.platforms: Input should be a valid list"),
    ("images.0.why.0", "spec", "images.0.why.0: Input should be a valid dictionary or instance of WhyRecord"),
    ("images", {}, "images: Input should be a valid list"),
    ("files.0.checksum", KeyError, "files.0.checksum: Field required"),
    ("files.0.size", 1.5, "files.0.size: Input should be a valid integer"),
    ("locked_at", "yesterday", "locked_at: Input should be a valid integer"),
    ("tool", KeyError, "tool: Field required"),
    ("spec_digest", None, "spec_digest: Input should be a valid string"),
    ("debs.targets.0.packages.0.sha256", KeyError, "debs.targets.0.packages.0.sha256: Field required"),
    ("debs.install_recommends", "no", "debs.install_recommends: Input should be a valid boolean"),
    ("charts.0.dependencies.0.digest", 7, "charts.0.dependencies.0.digest: Input should be a valid string"),
    ("charts.0.release", "build.json", "charts.0.release: Input should be a valid dictionary"),
    ("toolchain.wheels.0.filename", KeyError, "toolchain.wheels.0.filename: Field required"),
    ("toolchain.project", None, "toolchain.project: Input should be a valid dictionary"),
    ("images.0.digset", "sha256:00", "images.0.digset: Extra inputs are not permitted"),
])
def test_a_malformed_lock_names_the_file_and_the_field(path, value, says):
    with pytest.raises(SpecError) as err:
        parse_lock(_set(copy.deepcopy(FULL), path, value), Path("/srv/wire.lock.json"))
    assert str(err.value).startswith(f"lock file /srv/wire.lock.json: {says}")
    assert str(err.value).endswith("; delete it or run `wire-bundle lock`")
    assert "\n" not in str(err.value)


def test_the_lock_version_and_shape_are_checked_first():
    with pytest.raises(SpecError, match=r"^x.lock.json: lock version 2 is not 1; run `wire-bundle lock`$"):
        parse_lock({**GOLDEN, "version": 2}, Path("x.lock.json"))
    with pytest.raises(SpecError, match=r"^lock file x.lock.json: not a JSON object"):
        parse_lock([GOLDEN], Path("x.lock.json"))


def test_build_refuses_a_malformed_lock_whose_digest_matches_with_one_line(tmp_path):
    """Through the CLI: exit 1, one line naming the lock file and the field, no traceback, no archive."""
    for name in ("golden.yaml", "golden.lock.json"):
        shutil.copy(FIXTURE / name, tmp_path / name)
    lock = tmp_path / "golden.lock.json"
    lock.write_text(json.dumps(_set(copy.deepcopy(GOLDEN), "images.0.size", "big")))
    out = tmp_path / "out.tar.zst"
    r = subprocess.run([sys.executable, "-m", "bundler.cli", "build", str(tmp_path / "golden.yaml"), "-o", str(out),
                        "--cache-dir", str(tmp_path / "cache"), "--sign-key", str(FIXTURE / "signing-key.asc"), "-q"],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 1
    assert r.stderr == (f"error: lock file {lock}: images.0.size: Input should be a valid integer; delete it or run "
                        "`wire-bundle lock`\n")
    assert not out.exists() and not list(tmp_path.glob("out.tar.zst*"))


def test_records_made_in_code_serialise_with_only_the_keys_given():
    lock = Lock(version=1, spec_digest="sha256:" + "0" * 64, locked_at=1, tool="t",
                files=[{"path": "a", "url": "u", "algorithm": "sha512", "checksum": "c", "size": None}])
    assert lock.to_json()["files"] == [{"path": "a", "url": "u", "algorithm": "sha512", "checksum": "c", "size": None}]
    lock.files[0].sha256 = "d"
    assert lock.to_json()["files"][0]["sha256"] == "d"


def test_a_lock_for_another_spec_is_left_to_be_replaced_whatever_it_holds(tmp_path):
    """build replaces a lock made for another version of the spec (as it always has): only the matching one is
    read into records, and refused when malformed."""
    path = tmp_path / "x.lock.json"
    malformed = _set(copy.deepcopy(GOLDEN), "images.0.size", "big")
    path.write_text(json.dumps({**malformed, "spec_digest": "sha256:" + "1" * 64}))
    assert read_lock_for(path, GOLDEN["spec_digest"]) == (True, None)
    path.write_text(json.dumps(malformed))
    with pytest.raises(SpecError, match=r"images\.0\.size: Input should be a valid integer"):
        read_lock_for(path, GOLDEN["spec_digest"])
    path.write_text(json.dumps(GOLDEN))
    exists, lock = read_lock_for(path, GOLDEN["spec_digest"])
    assert exists and lock is not None and lock.to_json() == GOLDEN
    assert read_lock_for(tmp_path / "none.lock.json", GOLDEN["spec_digest"]) == (False, None)
