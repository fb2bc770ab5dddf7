"""Layer reading on its own (no registry): GNU long names (a long file name, a long symlink target) beside the
files read, a hard-linked os-release, an opaque whiteout, a package dpkg does not count as installed, and a layer
that is not a tar."""

from __future__ import annotations

import gzip
import io
import tarfile

import pytest

from bundler.errors import IntegrityError
from bundler.sbom.contents import image_contents
from bundler.sbom.layers import scan_layer

STATUS = b"""Package: kept
Status: install ok installed
Architecture: amd64
Version: 1.0-1
Source: kept-src (1.0)

Package: removed-but-configured
Status: deinstall ok config-files
Architecture: amd64
Version: 2.0-1
"""


def gnu_layer(path, entries: list[tarfile.TarInfo | tuple[str, bytes]]) -> str:
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.GNU_FORMAT) as tar:
        for e in entries:
            if isinstance(e, tarfile.TarInfo):
                tar.addfile(e)
            else:
                ti = tarfile.TarInfo(e[0])
                ti.size = len(e[1])
                tar.addfile(ti, io.BytesIO(e[1]))
    path.write_bytes(gzip.compress(raw.getvalue()))
    return path.name


def link(name: str, target: str, hard: bool = False) -> tarfile.TarInfo:
    ti = tarfile.TarInfo(name)
    ti.type, ti.linkname = (tarfile.LNKTYPE if hard else tarfile.SYMTYPE), target
    return ti


def test_gnu_long_names_hard_links_and_opaque_directories(tmp_path):
    long_dir = "opt/" + "x" * 150
    lower = gnu_layer(tmp_path / "lower", [
        (f"{long_dir}/a-file-whose-name-is-long", b"x"),
        ("usr/lib/os-release", b"ID=debian\nVERSION_ID=12\n"),
        link("etc/os-release", "usr/lib/os-release", hard=True),
        link(f"{long_dir}/a-symlink-whose-target-is-long", "y" * 120),
        ("var/lib/dpkg/status", STATUS),
        ("var/lib/dpkg/status.d/a", b"Package: a\nVersion: 1\nArchitecture: all\n"),
    ])
    upper = gnu_layer(tmp_path / "upper", [
        ("var/lib/dpkg/status.d/.wh..wh..opq", b""),
        ("var/lib/dpkg/status.d/b", b"Package: b\nVersion: 2\nArchitecture: all\n"),
    ])
    found = image_contents([lower, upper], lambda d: scan_layer(tmp_path / d, d))
    assert (found.os.id, found.os.version_id) == ("debian", "12")
    assert [(p.name, p.version, p.source, layer) for p, layer in found.packages] == [
        ("b", "2", "b", upper), ("kept", "1.0-1", "kept-src", lower)]
    assert found.databases == ["dpkg status", "dpkg status.d"]


@pytest.mark.parametrize("damage", [
    lambda tgz: gzip.compress(b"not a tar" * 100),
    lambda tgz: tgz[:12] + b"\xff" * 64 + tgz[76:],  # the deflate stream itself broken (ISA-L's own error)
    lambda tgz: tgz[:-20],  # cut short
], ids=["not a tar", "bad deflate", "cut short"])
def test_a_layer_that_is_not_a_tar_is_one_error(tmp_path, damage):
    gnu_layer(tmp_path / "good", [("var/lib/dpkg/status", STATUS * 50)])
    (tmp_path / "bad").write_bytes(damage((tmp_path / "good").read_bytes()))
    with pytest.raises(IntegrityError, match="^layer sha256:bad: not a readable tar layer [^\n]*$"):
        scan_layer(tmp_path / "bad", "sha256:bad")
