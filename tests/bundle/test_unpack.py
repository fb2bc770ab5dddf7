"""`wire-bundle unpack`: verify while extracting, refuse what could escape or lie, all or nothing."""

from __future__ import annotations

import tarfile

import pytest

from tests.bundle.conftest import write_spec
from tests.support.archive import read_tar, write_tar
from tests.support.cli import run_cli


@pytest.fixture
def archive(tmp_path, registry, image_factory):
    image_factory.push(registry, "unpack/a", image_factory.simple("a", size=60_000), tag="1")
    image_factory.push(registry, "unpack/b", image_factory.simple("b", size=60_000), tag="1")
    spec = write_spec(tmp_path / "s.yaml", [f"{registry.host}/unpack/a:1", f"{registry.host}/unpack/b:1"],
                      {registry.host: {"insecure": True}})
    out = tmp_path / "u.tar.zst"
    assert run_cli("build", spec, "-o", out, "--cache-dir", tmp_path / "c").rc == 0
    out.with_name(out.name + ".sha256").unlink()
    return out


def _leftovers(parent):
    return [p.name for p in parent.iterdir() if ".unpacking-" in p.name or ".previous-" in p.name]


def test_unpack_then_again_is_cheap(tmp_path, archive):
    dest = tmp_path / "island" / "bundle"
    r = run_cli("unpack", archive, "--to", dest)
    assert r.rc == 0, r.err
    assert (dest / "images" / "index.json").exists() and (dest / "checksums.sha256").exists()
    again = run_cli("unpack", archive, "--to", dest)
    assert again.rc == 0 and "already holds this bundle" in again.out
    assert not _leftovers(dest.parent)


def test_second_unpack_notices_a_damaged_directory(tmp_path, archive):
    dest = tmp_path / "bundle"
    assert run_cli("unpack", archive, "--to", dest).rc == 0
    blob = next((dest / "images" / "blobs" / "sha256").iterdir())
    blob.write_bytes(blob.read_bytes()[:-1])
    r = run_cli("unpack", archive, "--to", dest, "--replace")
    assert r.rc == 0 and "unpacked" in r.out
    assert len(blob.read_bytes()) > 0 and run_cli("unpack", archive, "--to", dest).rc == 0


def _rewrite(archive, mutate):
    members = read_tar(archive)
    mutate(members)
    write_tar(archive, members)


def test_tampered_blob_is_refused_and_nothing_is_left(tmp_path, archive):
    def flip(members):
        i = next(i for i, (m, _) in enumerate(members) if m.name.startswith("images/blobs/") and len(_) > 1000)
        data = bytearray(members[i][1])
        data[100] ^= 1
        members[i] = (members[i][0], bytes(data))
    _rewrite(archive, flip)
    dest = tmp_path / "bundle"
    r = run_cli("unpack", archive, "--to", dest)
    assert r.rc == 1 and "sha256 mismatch" in r.err and "Traceback" not in r.err
    assert not dest.exists() and not _leftovers(tmp_path)


@pytest.mark.parametrize("evil", ["../escape", "/etc/evil", "images/../../x"])
def test_paths_leaving_the_directory_are_refused(tmp_path, archive, evil):
    def add(members):
        info = tarfile.TarInfo(evil)
        members.insert(2, (info, b"x"))
    _rewrite(archive, add)
    r = run_cli("unpack", archive, "--to", tmp_path / "bundle")
    assert r.rc == 1 and "leaves the target directory" in r.err
    assert not (tmp_path / "escape").exists() and not _leftovers(tmp_path)


def test_links_devices_and_duplicates_are_refused(tmp_path, archive):
    for kind, expect in [(tarfile.SYMTYPE, "a link"), (tarfile.CHRTYPE, "device"), ("dup", "appears twice")]:
        src = tmp_path / f"{kind!s}.tar.zst"
        src.write_bytes(archive.read_bytes())

        def add(members, kind=kind):
            if kind == "dup":
                members.append(members[-1])
                return
            info = tarfile.TarInfo("images/link")
            info.type = kind
            info.linkname = "/etc/passwd"
            members.insert(2, (info, b""))
        _rewrite(src, add)
        r = run_cli("unpack", src, "--to", tmp_path / f"b-{kind!s}")
        assert r.rc == 1 and expect in r.err, r.err


def test_not_empty_target_is_refused_without_replace(tmp_path, archive):
    dest = tmp_path / "bundle"
    dest.mkdir()
    (dest / "precious").write_text("keep me")
    r = run_cli("unpack", archive, "--to", dest)
    assert r.rc == 1 and "not empty" in r.err
    assert (dest / "precious").read_text() == "keep me"


def test_not_a_bundle(tmp_path):
    bogus = tmp_path / "x.tar.zst"
    write_tar(bogus, [(tarfile.TarInfo("hello"), b"")])
    r = run_cli("unpack", bogus, "--to", tmp_path / "d")
    assert r.rc == 1 and "not a wire-bundle" in r.err


def test_signature_is_checked_against_the_expected_signer(tmp_path, archive, bundle_sign_key):
    fpr = bundle_sign_key.with_suffix(".fpr").read_text()
    ok = run_cli("unpack", archive, "--to", tmp_path / "a", "--fingerprint", fpr)
    assert ok.rc == 0 and "(the expected key)" in ok.out
    wrong = run_cli("unpack", archive, "--to", tmp_path / "b", "--fingerprint", "0" * 40)
    assert wrong.rc == 1 and f"signed by {fpr}, not by the expected {'0' * 40}" in wrong.err
    assert not (tmp_path / "b").exists() and not _leftovers(tmp_path)


def test_a_replaced_signature_is_refused(tmp_path, archive):
    """Someone who rewrites checksums.sha256 and signs it with their own key does not pass --fingerprint."""
    def resign(members):
        i = next(i for i, (m, _) in enumerate(members) if m.name == "checksums.sha256.asc")
        members[i] = (members[i][0], b"-----BEGIN PGP SIGNATURE-----\n\nAAAA\n-----END PGP SIGNATURE-----\n")
    _rewrite(archive, resign)
    r = run_cli("verify", archive)
    assert r.rc == 1 and "BROKEN checksums.sha256.asc: bad signature" in r.err
