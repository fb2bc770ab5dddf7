"""The bundle's SBOM through the real CLI and a real registry: images the test builds from a real debootstrap root
(the lab's base: its dpkg status, compared with dpkg-query on that root), an Alpine-style apk database, a
distroless status.d with a whiteout, and images of unknown OS. The document is checked against the CycloneDX 1.6
schema shipped in cyclonedx-python-lib and every purl is parsed back with packageurl-python."""

from __future__ import annotations

import gzip
import io
import json
import re
import subprocess
import sys
import tarfile

import pytest
import zstandard
from cyclonedx.schema import SchemaVersion
from cyclonedx.validation.json import JsonStrictValidator
from packageurl import PackageURL

from bundler.lab.base import ensure_base
from bundler.lab.config import defaults
from bundler.sbom.names import iter_components
from bundler.sbom.ospkgs.dpkg import paragraphs
from tests.bundle.conftest import write_spec
from tests.fixtures.builds import bundle_sign_key  # noqa: F401 - the session's signing key (autouse)
from tests.fixtures.lab import require_lab
from tests.support.archive import read_tar, write_tar
from tests.support.cli import run_cli
from tests.support.images import FIXED_MTIME, Blob, make_image, sha256_digest

APK_DB = b"""C:Q1abc=
P:musl
V:1.2.4_git20230717-r4
A:x86_64
L:MIT
o:musl

C:Q1def=
P:busybox-binsh
V:1.36.1-r15
A:x86_64
L:GPL-2.0-only
o:busybox

C:Q1ghi=
P:alpine-baselayout-data
V:3.4.3-r2
A:x86_64
L:GPL-2.0-only
o:alpine-baselayout
"""
ALPINE_OS = b'NAME="Alpine Linux"\nID=alpine\nVERSION_ID=3.19.1\nPRETTY_NAME="Alpine Linux v3.19"\n'
LATE = "iproute2"  # the package the Debian image's second layer installs


def tar_layer(entries: dict[str, bytes | str], compression: str = "gzip") -> Blob:
    """A layer: bytes are files, a str is a symlink's target. gzip, zstd or plain, as image builders write."""
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for name, content in entries.items():
            ti = tarfile.TarInfo(name)
            ti.mtime = FIXED_MTIME
            if isinstance(content, str):
                ti.type, ti.linkname = tarfile.SYMTYPE, content
                tar.addfile(ti)
            else:
                ti.size = len(content)
                tar.addfile(ti, io.BytesIO(content))
    data = raw.getvalue()
    if compression == "zstd":
        return Blob(zstandard.ZstdCompressor().compress(data), "application/vnd.oci.image.layer.v1.tar+zstd",
                    sha256_digest(data))
    if compression == "gzip":
        return Blob(gzip.compress(data, mtime=0), "application/vnd.oci.image.layer.v1.tar+gzip", sha256_digest(data))
    return Blob(data, "application/vnd.oci.image.layer.v1.tar", sha256_digest(data))


def dpkg_query(root) -> set[tuple[str, str, str]]:
    out = subprocess.run(["dpkg-query", f"--admindir={root}/var/lib/dpkg", "-W",
                          "-f=${db:Status-Status}\t${Package}\t${Version}\t${Architecture}\n"],
                         capture_output=True, text=True, check=True).stdout
    return {tuple(line.split("\t")[1:]) for line in out.splitlines() if line.startswith("installed\t")}


@pytest.fixture(scope="module")
def debian_root():
    require_lab()
    d = defaults()
    return ensure_base(d.cache_dir, d.suite, sorted(d.base_packages), log=lambda *_: None)


def _without(status: bytes, names: set[str]) -> bytes:
    kept = [p for p in status.decode().split("\n\n") if p.strip() and paragraphs(p)[0]["Package"] not in names]
    return ("\n\n".join(kept) + "\n").encode()


def _paragraph(status: bytes, name: str) -> bytes:
    return next(p for p in status.decode().split("\n\n") if p.strip() and paragraphs(p)[0]["Package"] == name).encode()


def _props(c: dict) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for p in c.get("properties", []):
        out.setdefault(p["name"].removeprefix("wire-bundle:"), []).append(p["value"])
    return out


@pytest.mark.lab
def test_sbom_lists_artifacts_and_os_packages(tmp_path, registry, image_factory, debian_root):
    status = (debian_root / "var/lib/dpkg/status").read_bytes()
    os_release = (debian_root / "usr/lib/os-release").read_bytes()
    base = tar_layer({"usr/lib/os-release": os_release, "etc/os-release": "../usr/lib/os-release",
                      "var/lib/dpkg/status": _without(status, {LATE})})
    late = tar_layer({"var/lib/dpkg/status": status, "usr/sbin/ip": b"stand-in"}, compression="zstd")
    debian = image_factory.push(registry, "sbom/debian", make_image([base, late]), tag="12")
    distroless = make_image([
        tar_layer({"etc/os-release": os_release, "var/lib/dpkg/status.d/base-files": _paragraph(status, "base-files"),
                   "var/lib/dpkg/status.d/libc6": _paragraph(status, "libc6"),
                   "var/lib/dpkg/status.d/libc6.md5sums": b"0  lib/x\n"}, compression="plain"),
        tar_layer({"var/lib/dpkg/status.d/.wh.libc6": b""}),
    ])
    image_factory.push(registry, "sbom/distroless", distroless, tag="1")
    alpine = make_image([tar_layer({"etc/os-release": ALPINE_OS, "lib/apk/db/installed": APK_DB})], docker=True)
    image_factory.push(registry, "sbom/alpine", alpine, tag="3.19")
    image_factory.push(registry, "sbom/unknown", image_factory.simple("unknown"), tag="1")
    image_factory.push(registry, "sbom/multi", image_factory.multiarch("multi"), tag="1")
    reg = registry.host
    refs = [f"{reg}/sbom/{n}" for n in ("debian:12", "distroless:1", "alpine:3.19", "unknown:1")]
    spec = write_spec(tmp_path / "s.yaml", [*refs, {"ref": f"{reg}/sbom/multi:1",
                                                    "platforms": ["linux/amd64", "linux/arm64"]}],
                      {reg: {"insecure": True}})
    a, b = tmp_path / "a.tar.zst", tmp_path / "b.tar.zst"
    assert run_cli("lock", spec, "--cache-dir", tmp_path / "c0").rc == 0
    built = run_cli("build", spec, "-o", a, "--locked", "--cache-dir", tmp_path / "c1", "-j", "8")
    assert built.rc == 0, built.err
    assert run_cli("build", spec, "-o", b, "--locked", "--cache-dir", tmp_path / "c2", "-j", "1").rc == 0

    # Again over the first cache: every layer's scan recorded there, no layer read.
    again = run_cli("build", spec, "-o", tmp_path / "again.tar.zst", "--locked", "--cache-dir", tmp_path / "c1")
    assert again.rc == 0 and re.search(r"sbom: .*; 0 of [1-9]\d* layers read", again.err), again.err

    members = read_tar(a)
    sbom_bytes = dict((m.name, d) for m, d in members)["sbom.cdx.json"]
    assert sbom_bytes == dict((m.name, d) for m, d in read_tar(b))["sbom.cdx.json"]  # one lock, one SBOM
    assert (tmp_path / "again.tar.zst").read_bytes() == a.read_bytes()  # the recorded scans: the same archive
    assert JsonStrictValidator(SchemaVersion.V1_6).validate_str(sbom_bytes.decode()) is None
    doc = json.loads(sbom_bytes)
    everything = list(iter_components(doc["components"]))
    for c, _ in everything:
        if "purl" in c:
            assert PackageURL.from_string(c["purl"]).to_string() == c["purl"]
    by_ref = {c["bom-ref"]: c for c, _ in everything}
    meta = doc["metadata"]
    lock = json.loads((tmp_path / "s.lock.json").read_text())
    assert meta["timestamp"].startswith(
        __import__("datetime").datetime.fromtimestamp(lock["locked_at"], __import__("datetime").UTC).isoformat())
    assert _props(meta["component"])["spec-digest"] == [lock["spec_digest"]]

    # Debian: every package dpkg-query finds in the same root, each with the layer that brought it.
    image = by_ref[f"image:{reg}/sbom/debian:12"]
    assert image["purl"] == (f"pkg:oci/debian@{debian.digest}"
                             f"?repository_url={reg}/sbom/debian&tag=12")
    assert _props(image)["os"] == ["debian 12"]
    pkgs = [c for c in image["components"] if c["type"] == "library"]
    found = {(p["name"], p["version"], PackageURL.from_string(p["purl"]).qualifiers["arch"]) for p in pkgs}
    assert found == dpkg_query(debian_root) and len(found) > 100
    layer_of = {p["name"]: _props(p)["layer"][0] for p in pkgs}
    assert layer_of.pop(LATE) == late.digest and set(layer_of.values()) == {base.digest}
    libc = next(p for p in pkgs if p["name"] == "libc6")
    assert libc["purl"].startswith("pkg:deb/debian/libc6@") and "distro=debian-12" in libc["purl"]
    assert "upstream=glibc" in libc["purl"]

    distro = by_ref[f"image:{reg}/sbom/distroless:1"]
    assert [c["name"] for c in distro["components"] if c["type"] == "library"] == ["base-files"]  # libc6 whited out
    assert _props(distro)["package-databases"] == ["dpkg status.d"]

    alpine_c = by_ref[f"image:{reg}/sbom/alpine:3.19"]
    assert sorted(c["purl"] for c in alpine_c["components"] if c["type"] == "library") == [
        "pkg:apk/alpine/alpine-baselayout-data@3.4.3-r2?arch=x86_64&distro=alpine-3.19.1&upstream=alpine-baselayout",
        "pkg:apk/alpine/busybox-binsh@1.36.1-r15?arch=x86_64&distro=alpine-3.19.1&upstream=busybox",
        "pkg:apk/alpine/musl@1.2.4_git20230717-r4?arch=x86_64&distro=alpine-3.19.1",
    ]
    # Images whose OS cannot be told are listed as such, per platform of a multi-platform one.
    assert _props(by_ref[f"image:{reg}/sbom/unknown:1"])["os"] == ["unknown"]
    assert _props(by_ref[f"image:{reg}/sbom/unknown:1"])["package-databases"] == ["none found"]
    multi = by_ref[f"image:{reg}/sbom/multi:1"]
    assert sorted(_props(c)["platform"][0] for c in multi["components"]) == ["linux/amd64", "linux/arm64/v8"]
    assert all(_props(c)["os"] == ["unknown"] for c in multi["components"])

    # On the island: the command prints the member as it is, or one image as a table; inspect counts.
    printed = run_cli("sbom", a)
    assert printed.rc == 0, printed.err
    assert printed.out.encode() == sbom_bytes  # the member as signed, byte for byte
    # The island's admin host reads it with the base dependencies: cyclonedx-python-lib (and isal) are for making it.
    without = subprocess.run([sys.executable, "-c", "import sys; sys.modules['cyclonedx'] = sys.modules['packageurl'] "
                              "= sys.modules['isal'] = None; from bundler.cli import main; main(sys.argv[1:])",
                              "sbom", str(a)],
                             capture_output=True, text=True)
    assert without.returncode == 0 and json.loads(without.stdout) == doc, without.stderr
    table = run_cli("sbom", a, "--format", "table", "--image", f"{reg}/sbom/debian:12", env={"COLUMNS": "250"})
    assert table.rc == 0, table.err
    assert any(LATE in ln and late.digest[:19] in ln for ln in table.out.splitlines())
    missing = run_cli("sbom", a, "--image", f"{reg}/sbom/nope:1")
    assert missing.rc == 1 and "has no image" in missing.err and "Traceback" not in missing.err
    inspected = run_cli("inspect", a)
    assert inspected.rc == 0 and f"os package: {len(found) + 1 + 3}" in inspected.out.replace("\n", " ")

    # A changed SBOM is refused by verify and by the sbom command.
    a.with_name(a.name + ".sha256").unlink()
    changed = sbom_bytes.replace(f'"{LATE}"'.encode(), b'"iproute3"')
    assert changed != sbom_bytes
    write_tar(a, [(m, changed if m.name == "sbom.cdx.json" else d) for m, d in members])
    verified = run_cli("verify", a)
    assert verified.rc == 1 and "BROKEN sbom.cdx.json: sha256 mismatch" in verified.err
    refused = run_cli("sbom", a)
    assert refused.rc == 1 and "does not match its sha256" in refused.err and "Traceback" not in refused.err
