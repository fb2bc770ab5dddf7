"""Archives a careful adversary (or a bad USB stick) hands to `verify`, `inspect` and `unpack`: each refused in one
line with a non-zero exit, nothing left behind, and the second unpack of a bundle trusting nothing but proof."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tarfile
import time
from pathlib import Path

import pytest

from tests.bundle.hostile import (
    assert_refused,
    build_bundle,
    bundle_doc,
    cli,
    with_bundle_json,
)
from tests.support.archive import flip_largest_blob, read_tar, tar_bytes, unzstd, write_tar, zst
from tests.support.cli import cli_command, run_cli
from tests.support.mounts import tmpfs


@pytest.fixture(scope="module")
def built(tmp_path_factory, registry):
    # Large enough (several zstd blocks) that a cut in the middle leaves the head readable.
    return build_bundle(tmp_path_factory.mktemp("hostile"), registry, "hostile", size=200_000)


@pytest.fixture
def archive(tmp_path, built):
    copy = tmp_path / "b.tar.zst"
    copy.write_bytes(built.read_bytes())
    return copy


@pytest.fixture(scope="module")
def fpr(bundle_sign_key):
    return bundle_sign_key.with_suffix(".fpr").read_text()


def _leftovers(parent):
    return sorted(p.name for p in parent.iterdir() if ".unpacking-" in p.name or ".previous-" in p.name)


# --- the second unpack proves the archive is the one on disk --------------------------------------------------


def test_second_unpack_of_the_same_archive_hashes_it_and_checks_the_signer(tmp_path, archive, fpr):
    dest = tmp_path / "island" / "bundle"
    assert cli("unpack", archive, "--to", dest, "--fingerprint", fpr).rc == 0
    marker = json.loads((dest / ".wire-bundle-unpacked.json").read_text())
    assert marker["archive_sha256"] and marker["signer"] == fpr
    again = cli("unpack", archive, "--to", dest, "--fingerprint", fpr)
    assert again.rc == 0, again.err
    assert "already holds this bundle" in again.out and "the same archive bytes" in again.out
    assert f"signed by:      {fpr} (the expected key)" in again.out


def test_second_unpack_refuses_a_tampered_archive_with_the_same_head(tmp_path, archive, fpr):
    """Today's code read only the head and said "nothing to do" for an archive whose blob was altered."""
    dest = tmp_path / "bundle"
    assert cli("unpack", archive, "--to", dest).rc == 0
    before = sorted(p.relative_to(dest) for p in dest.rglob("*"))
    victim = flip_largest_blob(archive, mask=1)
    r = cli("unpack", archive, "--to", dest, "--fingerprint", fpr)
    assert_refused(r, victim, "not the name's digest")
    assert sorted(p.relative_to(dest) for p in dest.rglob("*")) == before and not _leftovers(tmp_path)


def test_second_unpack_refuses_a_truncated_archive(tmp_path, archive):
    dest = tmp_path / "bundle"
    assert cli("unpack", archive, "--to", dest).rc == 0
    data = archive.read_bytes()
    archive.write_bytes(data[: len(data) // 2])
    assert_refused(cli("unpack", archive, "--to", dest), "archive is truncated")


def test_second_unpack_checks_the_fingerprint(tmp_path, archive, fpr):
    dest = tmp_path / "bundle"
    assert cli("unpack", archive, "--to", dest, "--fingerprint", fpr).rc == 0
    other = "0123456789ABCDEF0123456789ABCDEF01234567"
    assert_refused(cli("unpack", archive, "--to", dest, "--fingerprint", other),
                   f"signed by {fpr}, not by the expected {other}")


def test_second_unpack_checks_the_keyring(tmp_path, archive, fpr):
    dest = tmp_path / "bundle"
    assert cli("unpack", archive, "--to", dest).rc == 0
    ring = tmp_path / "ring.asc"
    ring.write_bytes((dest / "signing-key.asc").read_bytes())
    assert "(the expected key)" in cli("unpack", archive, "--to", dest, "--keyring", ring).out
    # Keys that signed nothing here: Debian's archive keys.
    ring.write_bytes(Path("/usr/share/keyrings/debian-archive-keyring.gpg").read_bytes())
    assert_refused(cli("unpack", archive, "--to", dest, "--keyring", ring), "bad signature")


def test_second_unpack_of_a_recompressed_archive_verifies_it_in_full(tmp_path, archive, fpr):
    dest = tmp_path / "bundle"
    assert cli("unpack", archive, "--to", dest).rc == 0
    archive.write_bytes(zst(unzstd(archive), level=9, checksum=False))
    r = cli("unpack", archive, "--to", dest, "--fingerprint", fpr)
    assert r.rc == 0 and "verified in full" in r.out, r.err


# --- truncation and trailing data -------------------------------------------------------------------------------


@pytest.mark.parametrize("command", ["verify", "unpack"])
def test_an_archive_cut_in_half_is_truncated_not_interrupted(tmp_path, archive, command):
    """Today: `error: interrupted`, exit 130 (EOFError inside a member, turned into click's Abort)."""
    data = archive.read_bytes()
    archive.write_bytes(data[: len(data) // 2])
    args = ["--to", tmp_path / "d"] if command == "unpack" else []
    r = cli(command, archive, *args)
    assert r.rc == 1
    assert_refused(r, "archive is truncated", f"({len(data) // 2} bytes read)", str(archive))
    assert not (tmp_path / "d").exists() and not _leftovers(tmp_path)


def test_a_cut_inside_the_last_bytes_is_truncated(tmp_path, archive):
    """The decompressor ends silently where a zstd frame is cut (its checksum never checked): the frame walk
    notices a file short by even one byte."""
    data = archive.read_bytes()
    for cut in (1, 4, 7):
        archive.write_bytes(data[:-cut])
        assert_refused(cli("verify", archive), "archive is truncated")


@pytest.mark.parametrize("tail", [b"garbage!", b"\0" * 5000, "frame", "empty-frame", "skippable"])
def test_trailing_data_after_the_archive_is_an_error(tmp_path, archive, tail):
    """Today an appended zstd frame (and a skippable one) passed `verify` when the .sha256 sidecar was absent."""
    if tail == "frame":
        tail = zst(b"more data that no checksum covers")
    elif tail == "empty-frame":
        tail = zst(b"")
    elif tail == "skippable":
        tail = (0x184D2A50).to_bytes(4, "little") + (5).to_bytes(4, "little") + b"hello"
    archive.write_bytes(archive.read_bytes() + tail)
    assert_refused(cli("verify", archive), f"{len(tail)} bytes of trailing data")
    assert_refused(cli("unpack", archive, "--to", tmp_path / "d"), "trailing data")
    assert not (tmp_path / "d").exists() and not _leftovers(tmp_path)


def test_data_after_the_tar_end_inside_the_frame_is_an_error(tmp_path, archive):
    raw = unzstd(archive)
    archive.write_bytes(zst(raw + b"x" * 512))
    assert_refused(cli("verify", archive), "after the tar archive's last record")


# --- malformed bundle.json: one line, bounded ---------------------------------------------------------------


def _doc_cases(doc: dict) -> dict[str, bytes]:
    no_artifacts = {k: v for k, v in doc.items() if k != "artifacts"}
    bad_size = json.loads(json.dumps(doc))
    bad_size["artifacts"][0]["size"] = "big"
    escaping = json.loads(json.dumps(doc))
    escaping["artifacts"][0]["path"] = "../../etc/passwd"
    bad_kind = json.loads(json.dumps(doc))
    bad_kind["kinds"]["images"] = {"images": [{"ref": 1}]}
    return {
        "a list": b"[1, 2]",
        "no artifacts": json.dumps(no_artifacts).encode(),
        "name is a number": json.dumps({**doc, "name": 5}).encode(),
        "size is a string": json.dumps(bad_size).encode(),
        "path escapes": json.dumps(escaping).encode(),
        "kind summary": json.dumps(bad_kind).encode(),
        "lone surrogate": json.dumps({**doc, "name": "\ud800"}).encode(),
        "nested 100000 deep": b"[" * 100_000 + b"]" * 100_000,
        "nested 70 deep": json.dumps({**doc, "x": json.loads("[" * 70 + "]" * 70)}).encode(),
        "not utf-8": b'{"format": "\xff"}',
    }


@pytest.fixture(scope="module")
def doc_archives(tmp_path_factory, built):
    members = read_tar(built)
    doc = bundle_doc(members)
    out = {}
    tmp = tmp_path_factory.mktemp("docs")
    for label, data in _doc_cases(doc).items():
        path = tmp / (label.replace(" ", "-") + ".tar.zst")
        write_tar(path, with_bundle_json(members, data))
        out[label] = path
    return out


@pytest.mark.parametrize("label", list(_doc_cases({"artifacts": [{}], "kinds": {}}).keys()))
def test_malformed_bundle_json_is_one_line_everywhere(tmp_path, doc_archives, label):
    """Today: KeyError/TypeError/RecursionError tracebacks from inspect, verify and unpack."""
    path = doc_archives[label]
    for args in (["inspect"], ["inspect", "--json"], ["verify"], ["unpack", "--to", tmp_path / "d"]):
        r = cli(args[0], path, *args[1:])
        if label == "kind summary":  # valid for every reader but inspect; the signature no longer matches
            assert_refused(r, "a kind's summary is malformed" if args[0] == "inspect" else "bad signature")
        else:
            assert_refused(r, "bundle.json")
    assert not (tmp_path / "d").exists() and not _leftovers(tmp_path)


def test_a_huge_bundle_json_is_refused_before_it_is_read(tmp_path, built):
    """Today a 17 MiB bundle.json was read whole into memory and accepted."""
    members = read_tar(built)
    doc = bundle_doc(members)
    doc["padding"] = "x" * (17 << 20)
    path = tmp_path / "huge.tar.zst"
    write_tar(path, with_bundle_json(members, json.dumps(doc).encode()))
    for args in (["inspect"], ["verify"], ["unpack", "--to", tmp_path / "d"]):
        assert_refused(cli(args[0], path, *args[1:]), "more than the 16777216")


# --- member layouts ---------------------------------------------------------------------------------------------


def _info(name: str, type_: bytes = tarfile.REGTYPE, **kw) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type = type_
    for k, v in kw.items():
        setattr(info, k, v)
    return info


def _layout_cases(members):
    head = members[:2]
    rest = members[2:]
    listed = members[1][1].decode()
    some = rest[0][0].name
    return {
        "a file, then a file under it": lambda: _listing(head, [(_info("files/x"), b"x"), (_info("files/x/y"), b"y")]),
        "bundle.json a directory": lambda: [(_info("bundle.json", tarfile.DIRTYPE), b"")] + rest,
        "a fifo": lambda: head + [(_info("images/fifo", tarfile.FIFOTYPE), b"")] + rest,
        "a hard link": lambda: head + [(_info(some, tarfile.LNKTYPE, linkname="bundle.json"), b"")] + rest,
        "no checksums": lambda: members[:1] + rest,
        "checksums is binary": lambda: members[:1] + [(members[1][0], os.urandom(300))] + rest,
        "checksums huge listing": lambda: members[:1] + [(members[1][0], (listed * 50).encode())] + rest,
        "only bundle.json": lambda: members[:1],
        "empty tar": lambda: [],
        "a member named like the marker": lambda: head + [(_info(".wire-bundle-unpacked.json"), b"{}")] + rest,
    }


def _listing(head, extra):
    """head's checksums.sha256 extended to list `extra` too, so unpack gets as far as creating them."""
    import hashlib

    lines = head[1][1] + b"".join(f"{hashlib.sha256(d).hexdigest()}  {i.name}\n".encode() for i, d in extra)
    return [head[0], (head[1][0], lines)] + extra


def test_odd_member_layouts_are_one_line(tmp_path, built):
    """Today: a file followed by a member under it raised NotADirectoryError from unpack (a traceback)."""
    members = read_tar(built)
    for label, make in _layout_cases(members).items():
        path = tmp_path / "layout.tar.zst"
        write_tar(path, make())
        dest = tmp_path / "d"
        for args in (["verify"], ["unpack", "--to", dest]):
            r = cli(args[0], path, *args[1:])
            try:
                assert_refused(r)
            except AssertionError as exc:
                raise AssertionError(f"{label}: {args[0]}: {exc}") from None
        assert not dest.exists() and not _leftovers(tmp_path), label


def test_raw_tar_headers_that_lie_are_one_line(tmp_path, built):
    """Negative sizes (base-256), pax sizes that are not numbers, a pax header claiming gigabytes."""
    members = read_tar(built)
    good = unzstd(built)
    cases = {}
    neg = bytearray(tar_bytes([(_info("bundle.json"), b"{}")], fmt=tarfile.USTAR_FORMAT))
    neg[124:136] = b"\xff" * 12  # base-256 size field: -1
    neg[148:156] = b" " * 8
    neg[148:155] = f"{sum(neg[:512]):06o}\0".encode()
    cases["negative size"] = bytes(neg)
    pax = _info("bundle.json")
    pax.pax_headers = {"size": "12abc"}
    cases["pax size not a number"] = tar_bytes([(pax, b"{}")])
    big = bytearray(tar_bytes([(_info("x"), b"")], fmt=tarfile.USTAR_FORMAT))
    big[156:157] = b"x"
    big[124:136] = f"{(1 << 33) - 1:011o}\0".encode()
    big[148:156] = b" " * 8
    big[148:155] = f"{sum(big[:512]):06o}\0".encode()
    cases["a pax header of 8 GiB"] = bytes(big)
    cases["garbage after a good head"] = good[:1536] + os.urandom(4096)
    for label, raw in cases.items():
        path = tmp_path / "raw.tar.zst"
        path.write_bytes(zst(raw))
        for args in (["inspect"], ["verify"], ["unpack", "--to", tmp_path / "d"]):
            r = cli(args[0], path, *args[1:])
            try:
                assert_refused(r)
            except AssertionError as exc:
                raise AssertionError(f"{label}: {args[0]}: {exc}") from None
    assert members


# --- where the archive goes -----------------------------------------------------------------------------------


@pytest.fixture
def read_only_dir(tmp_path):
    with tmpfs(tmp_path / "ro", "ro,size=256m") as where:
        yield where


def test_unpack_onto_a_read_only_file_system_is_one_line(archive, read_only_dir):
    """Today: OSError [Errno 30] traceback from mkdir."""
    for dest in (read_only_dir / "bundle", read_only_dir / "deeper" / "bundle"):
        r = run_cli("unpack", archive, "--to", dest)
        assert_refused(r, "Read-only file system", str(read_only_dir))


# --- leftovers of a killed unpack ----------------------------------------------------------------------------


def test_a_killed_unpack_leaves_nothing_the_next_run_keeps(tmp_path, tmp_path_factory, registry):
    """Today the hidden `.NAME.unpacking-PID` of a `kill -9`ed unpack stayed for good."""
    big = build_bundle(tmp_path_factory.mktemp("big"), registry, "hostile-big", size=24 << 20)
    dest = tmp_path / "bundle"
    proc = subprocess.Popen(cli_command("unpack", big, "--to", dest),
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    staging = tmp_path / f".bundle.unpacking-{proc.pid}"
    deadline = time.monotonic() + 60
    while not (staging / "images").exists() and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.002)
    assert proc.poll() is None, "the unpack ended before it could be killed"
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert staging.exists()
    # A live unpack's staging directory is never touched.
    live = subprocess.Popen(["sleep", "60"])
    theirs = tmp_path / f".bundle.unpacking-{live.pid}"
    theirs.mkdir()
    try:
        r = run_cli("unpack", big, "--to", dest)
        assert r.rc == 0, r.err
        assert f"removed {staging}, left by an unpack (process {proc.pid}) that was killed" in r.out
        assert not staging.exists() and theirs.exists()
    finally:
        live.kill()
        live.wait()


def test_a_bundle_moved_aside_by_a_killed_replace_is_put_back(tmp_path, archive):
    """Killed between moving the old tree aside and renaming the new one in: the next run restores the old tree
    (and finds it already holds the bundle) instead of deleting the only copy."""
    dest = tmp_path / "bundle"
    assert cli("unpack", archive, "--to", dest).rc == 0
    dead = subprocess.Popen(["true"])
    dead.wait()
    aside = tmp_path / f".bundle.previous-{dead.pid}"
    dest.rename(aside)
    r = cli("unpack", archive, "--to", dest)
    assert r.rc == 0, r.err
    assert f"restored {dest} from {aside.name}" in r.out and "already holds this bundle" in r.out
    assert not aside.exists() and not _leftovers(tmp_path)


def _cli_process(*args: object, timeout: float = 20) -> tuple[int, str]:
    """A real process, bounded: a FIFO given as the archive used to block its open() forever."""
    try:
        proc = subprocess.run([sys.executable, "-m", "bundler.cli", *map(str, args)], capture_output=True,
                              text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        pytest.fail(f"wire-bundle {args[0]} on a FIFO still running after {timeout} s")
    return proc.returncode, proc.stderr


@pytest.mark.parametrize("command", ["inspect", "verify", "unpack"])
def test_a_fifo_as_the_archive_is_refused_at_once(tmp_path, command):
    fifo = tmp_path / "b.tar.zst"
    os.mkfifo(fifo)
    extra = ["--to", tmp_path / "out"] if command == "unpack" else []
    rc, err = _cli_process(command, fifo, *extra)
    assert rc == 1 and "Traceback" not in err, err
    assert err.strip().splitlines() == [f"error: {fifo}: is a FIFO (named pipe), not a regular file: not an archive"]
    assert not (tmp_path / "out").exists()


def test_a_directory_socket_or_device_as_the_archive_is_one_line(tmp_path):
    import socket
    import tempfile

    with tempfile.TemporaryDirectory(prefix="wb-sock-") as short:  # socket paths are limited to ~108 bytes
        sock_path = Path(short) / "s"
        with socket.socket(socket.AF_UNIX) as sock:
            sock.bind(str(sock_path))
            for path, what in [(tmp_path, "a directory"), (sock_path, "a socket"),
                               (Path("/dev/null"), "a character device")]:
                for command in ("inspect", "verify", "unpack"):
                    extra = ["--to", tmp_path / "out"] if command == "unpack" else []
                    assert_refused(cli(command, path, *extra), f"{path}: is {what}, not a regular file")
    assert not (tmp_path / "out").exists()
