"""rpm's SQLite database, made by the real rpm (rpmbuild, then `rpm -i --justdb`), read from an image layer without
rpm and compared with what `rpm -qa` says of the same database; a Berkeley DB is named, not read."""

from __future__ import annotations

import subprocess
from pathlib import Path

from packageurl import PackageURL

from bundler.sbom.contents import image_contents
from bundler.sbom.document import os_package_purl
from bundler.sbom.layers import scan_layer
from tests.sbom.test_sbom import tar_layer

SQLITE = ["--define", "_db_backend sqlite"]
SPEC = """Name: {name}
Version: 1.2.3
Release: 4.el9
{epoch}
Summary: stand-in package for the SBOM tests
License: MIT
BuildArch: noarch
%description
stand-in
%files
"""


def rpm_database(work: Path) -> Path:
    db = work / "db"
    subprocess.run(["rpm", "--initdb", "--dbpath", str(db), *SQLITE], check=True)
    for name, epoch in (("wire-standin", "Epoch: 2"), ("wire-other", "")):
        spec = work / f"{name}.spec"
        spec.write_text(SPEC.format(name=name, epoch=epoch))
        subprocess.run(["rpmbuild", "-bb", "--define", f"_topdir {work / 'top'}", "--define", f"_rpmdir {work / 'out'}",
                        str(spec)], check=True, capture_output=True)
    rpms = sorted(str(p) for p in (work / "out").rglob("*.rpm"))
    subprocess.run(["rpm", "-i", "--justdb", "--nodeps", "--dbpath", str(db), *SQLITE, *rpms], check=True,
                   capture_output=True)
    return db


def test_rpm_sqlite_database_read_without_rpm(tmp_path):
    db = rpm_database(tmp_path)
    listed = subprocess.run(["rpm", "-qa", "--dbpath", str(db), *SQLITE, "--qf",
                             "%{NAME}\t%|EPOCH?{%{EPOCH}:}:{}|%{VERSION}-%{RELEASE}\t%{ARCH}\n"],
                            capture_output=True, text=True, check=True).stdout
    expected = {tuple(line.split("\t")) for line in listed.splitlines()}
    layer = tar_layer({"etc/os-release": b"ID=rhel\nVERSION_ID=9.4\n",
                       "var/lib/rpm/rpmdb.sqlite": (db / "rpmdb.sqlite").read_bytes()})
    bdb = tar_layer({"usr/lib/sysimage/rpm/Packages": b"\0" * 4096})
    blobs = {}
    for blob in (layer, bdb):
        blobs[blob.digest] = tmp_path / blob.digest
        blobs[blob.digest].write_bytes(blob.data)

    found = image_contents([layer.digest], lambda d: scan_layer(blobs[d], d))
    assert {(p.name, p.version, p.arch) for p, _ in found.packages} == expected == {
        ("wire-standin", "2:1.2.3-4.el9", "noarch"), ("wire-other", "1.2.3-4.el9", "noarch")}
    purls = sorted(os_package_purl(p, found).to_string() for p, _ in found.packages)
    assert purls == ["pkg:rpm/rhel/wire-other@1.2.3-4.el9?arch=noarch&distro=rhel-9.4",
                     "pkg:rpm/rhel/wire-standin@1.2.3-4.el9?arch=noarch&distro=rhel-9.4&epoch=2"]
    assert all(PackageURL.from_string(p).to_string() == p for p in purls)

    old = image_contents([bdb.digest], lambda d: scan_layer(blobs[d], d))
    assert old.packages == [] and old.databases == ["rpm Berkeley DB"]
    assert old.unread == ["usr/lib/sysimage/rpm/Packages: rpm Berkeley DB, a format this tool does not read"]
