"""Property-based fuzzing of the archive readers (hypothesis): whatever the archive, `inspect`, `verify` and
`unpack` end in bounded time with exit 0 or one `error:` line and a non-zero exit, never a traceback, and leave
nothing beside --to. A change to the file's bytes is never accepted unless the content is the same.

Inputs come from one small real bundle: truncated at any byte, its compressed bytes mutated, its tar bytes
mutated and recompressed, generated member layouts, and generated or mutated bundle.json documents. The CLI
runs in this process (a case costs milliseconds, not a Python start); test_hostile_archives runs it as a
process. WIRE_BUNDLE_FUZZ_EXAMPLES=N raises the examples per property (bench/fuzz_archive.py: the long run).
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import shutil
import signal
import tarfile
import tempfile
import time
from pathlib import Path

import pytest
import zstandard
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from tests.bundle.hostile import build_bundle, bundle_doc, cli, error_lines, with_bundle_json
from tests.support.archive import read_tar, zst
from tests.support.cli import run_cli

EXAMPLES = int(os.environ.get("WIRE_BUNDLE_FUZZ_EXAMPLES", "0"))
CASE_SECONDS = 20  # one case (three commands on a ~100 KiB archive) takes well under a second


def fuzz(default: int):
    return settings(max_examples=EXAMPLES or default, deadline=None, derandomize=not EXAMPLES, database=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


class Hang(Exception):
    pass


@contextlib.contextmanager
def time_bound(seconds: int):
    """A case that runs past `seconds` fails as a hang instead of stalling the suite."""
    def fire(*_):
        raise Hang(f"a case ran longer than {seconds} s")
    old = signal.signal(signal.SIGALRM, fire)
    outer, _ = signal.setitimer(signal.ITIMER_REAL, seconds)  # pytest-timeout's own alarm, if it set one
    started = time.monotonic()
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)
        if outer:
            signal.setitimer(signal.ITIMER_REAL, max(outer - (time.monotonic() - started), 0.001))


class Original:
    def __init__(self, path: Path):
        self.path = path
        self.raw = path.read_bytes()
        self.tar = zstandard.ZstdDecompressor().decompressobj().decompress(self.raw)
        self.members = read_tar(path)
        self.doc = bundle_doc(self.members)
        self.names = [m.name for m, _ in self.members]


@pytest.fixture(scope="module")
def original(tmp_path_factory, registry) -> Original:
    # Two images of 150 kB: several zstd blocks, so cuts and edits land in the middle of members too.
    return Original(build_bundle(tmp_path_factory.mktemp("fuzz"), registry, "fuzz", size=150_000))


def same_content(data: bytes, original: Original) -> bool:
    """Does `data` decompress to the original tar? (Then accepting it is right: nothing it holds changed.)"""
    try:
        return zstandard.ZstdDecompressor().decompressobj().decompress(data) == original.tar
    except zstandard.ZstdError:
        return False


def check(data: bytes, *, must_refuse: bool, commands=("inspect", "verify", "unpack")) -> dict[str, int]:
    """Run the commands on `data` as an archive; assert the property; return each command's exit code."""
    codes = {}
    with tempfile.TemporaryDirectory(prefix="wire-bundle-fuzz-") as tmp:
        work = Path(tmp)
        archive = work / "a.tar.zst"
        archive.write_bytes(data)
        parent = work / "island"
        parent.mkdir()
        for command in commands:
            args = ["--to", parent / "bundle"] if command == "unpack" else []
            with time_bound(CASE_SECONDS):
                r = cli(command, archive, *args)
            codes[command] = r.rc
            assert "Traceback" not in r.err and r.rc in (0, 1), (command, r.rc, r.err[-2000:])
            if r.rc:
                lines = error_lines(r)
                assert len(lines) == 1 and "\n" not in lines[0], (command, r.err[-2000:])
                if command == "unpack":
                    assert not list(parent.iterdir()), (command, list(parent.iterdir()), r.err)
            elif must_refuse and command != "inspect":  # inspect reads only the head, by design
                raise AssertionError(f"{command} accepted a changed archive: {r.out}")
            shutil.rmtree(parent / "bundle", ignore_errors=True)
    return codes


# --- the file's bytes -----------------------------------------------------------------------------------------


@fuzz(25)
@given(data=st.data())
def test_truncated_anywhere(original, data):
    n = len(original.raw)
    cut = data.draw(st.one_of(st.integers(0, n - 1), st.integers(n - 16, n - 1)), label="cut")  # the tail too
    check(original.raw[:cut], must_refuse=True)


@st.composite
def byte_edits(draw, size: int):
    """A few replaced, inserted or deleted bytes at offsets anywhere in a file of `size` bytes."""
    edits = draw(st.lists(st.tuples(st.sampled_from(["set", "insert", "delete", "xor"]), st.integers(0, size - 1),
                                    st.integers(1, 255)), min_size=1, max_size=4))
    return edits


def apply_edits(data: bytes, edits) -> bytes:
    buf = bytearray(data)
    for op, at, value in edits:
        at = min(at, len(buf) - 1)
        if op == "set":
            buf[at] = value
        elif op == "xor":
            buf[at] ^= value
        elif op == "insert":
            buf[at:at] = bytes([value])
        elif len(buf) > 1:
            del buf[at]
    return bytes(buf)


@fuzz(30)
@given(data=st.data())
def test_compressed_bytes_changed(original, data):
    mutated = apply_edits(original.raw, data.draw(byte_edits(len(original.raw)), label="edits"))
    assume(mutated != original.raw)
    check(mutated, must_refuse=not same_content(mutated, original))


@fuzz(20)
@given(tail=st.one_of(st.binary(min_size=1, max_size=64),
                      st.binary(max_size=2000).map(zst),
                      st.binary(max_size=64).map(lambda b: (0x184D2A50).to_bytes(4, "little")
                                                 + len(b).to_bytes(4, "little") + b)))
def test_data_appended(original, tail):
    check(original.raw + tail, must_refuse=True, commands=("verify", "unpack"))


@fuzz(30)
@given(data=st.data())
def test_tar_bytes_changed(original, data):
    """Edits inside the tar (headers, pax records, data, padding), recompressed: the zstd layer is fine, the
    tar and member checks must hold. Half the edits land in header blocks, where parsing is."""
    headers = [i for i in range(0, len(original.tar), 512) if original.tar[i + 257:i + 262] == b"ustar"]
    where = data.draw(st.one_of(st.sampled_from(headers).flatmap(lambda h: st.integers(h, h + 511)),
                                st.integers(0, len(original.tar) - 1)), label="at")
    edits = [(op, where, v) for op, _, v in data.draw(byte_edits(len(original.tar)), label="edits")]
    mutated = apply_edits(original.tar, edits)
    assume(mutated != original.tar)
    check(zst(mutated), must_refuse=False)


# --- member layouts -----------------------------------------------------------------------------------------

ODD_NAMES = ["", ".", "..", "./x", "a/../b", "/etc/passwd", "a//b", "a/", "x" * 300, "d/" + "y" * 256, "a\\b",
             "é/ü", "\udcff", "bundle.json", "checksums.sha256", "checksums.sha256.asc", "signing-key.asc",
             ".wire-bundle-unpacked.json", "images", "images/blobs/sha256/" + "0" * 64, "files/x", "files/x/y"]
TYPES = [tarfile.REGTYPE, tarfile.AREGTYPE, tarfile.DIRTYPE, tarfile.SYMTYPE, tarfile.LNKTYPE, tarfile.CHRTYPE,
         tarfile.BLKTYPE, tarfile.FIFOTYPE, tarfile.CONTTYPE, tarfile.GNUTYPE_LONGNAME, b"Z"]


@st.composite
def layouts(draw, original: Original):
    """Members drawn from odd names, the bundle's own names (so duplicates and clashes happen), odd types and
    sizes; optionally the real head first, and checksums.sha256 listing the members so unpack creates them."""
    names = st.one_of(st.sampled_from(ODD_NAMES), st.sampled_from(ODD_NAMES), st.sampled_from(original.names),
                      st.text(st.characters(codec="utf-8", exclude_characters="\0"), max_size=30))
    members = draw(st.lists(st.tuples(names, st.sampled_from(TYPES), st.binary(max_size=1500)), max_size=8))
    out = []
    for name, type_, payload in members:
        info = tarfile.TarInfo(name)
        info.type = type_
        info.linkname = "../../etc/passwd" if type_ in (tarfile.SYMTYPE, tarfile.LNKTYPE) else ""
        out.append((info, payload if info.isreg() else b""))
    head = draw(st.sampled_from(["none", "real", "listing", "listing"]))
    if head == "real":
        out = original.members[:2] + out
    elif head == "listing":
        import hashlib

        listing = original.members[1][1] + b"".join(
            f"{hashlib.sha256(p).hexdigest()}  {i.name}\n".encode("utf-8", "surrogateescape") for i, p in out)
        out = [original.members[0], (original.members[1][0], listing)] + out + original.members[2:]
    fmt = draw(st.sampled_from([tarfile.PAX_FORMAT, tarfile.GNU_FORMAT, tarfile.USTAR_FORMAT]))
    buf = io.BytesIO()
    try:
        with tarfile.open(fileobj=buf, mode="w", format=fmt, encoding="utf-8", errors="surrogateescape") as tar:
            for info, payload in out:
                info.size = len(payload)
                tar.addfile(info, io.BytesIO(payload) if info.isreg() else None)
    except (ValueError, UnicodeError):
        assume(False)  # tarfile itself cannot write this layout (a name too long for ustar, ...)
    return zst(buf.getvalue())


@fuzz(45)
@given(data=st.data())
def test_generated_member_layouts(original, data):
    check(data.draw(layouts(original), label="archive"), must_refuse=False)


# --- bundle.json documents ------------------------------------------------------------------------------------

JSON = st.recursive(st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
                    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner,
                                                                                max_size=4),
                    max_leaves=20)


def _paths(value, prefix=()):
    yield prefix
    if isinstance(value, dict):
        for k, v in value.items():
            yield from _paths(v, (*prefix, k))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            yield from _paths(v, (*prefix, i))


@st.composite
def documents(draw, original: Original) -> bytes:
    """The real bundle.json with one value replaced (or removed), or a JSON value of any shape."""
    if draw(st.booleans()):
        doc = json.loads(json.dumps(original.doc))
        paths = [p for p in _paths(doc) if p and p[0] != "lock" and p[0] != "spec"]
        path = draw(st.sampled_from(paths))
        parent = doc
        for key in path[:-1]:
            parent = parent[key]
        if draw(st.booleans()) and isinstance(parent, dict):
            del parent[path[-1]]
        else:
            parent[path[-1]] = draw(JSON)
        return json.dumps(doc).encode()
    return json.dumps(draw(JSON)).encode()


@fuzz(30)
@given(data=st.data())
def test_generated_bundle_json(original, data):
    doc = data.draw(documents(original), label="bundle.json")
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for info, payload in with_bundle_json(original.members, doc):
            info.size = len(payload)
            tar.addfile(info, io.BytesIO(payload))
    codes = check(zst(buf.getvalue()), must_refuse=False)
    # The signature covers checksums.sha256, which now names the new bundle.json: never accepted.
    assert codes["verify"] == 1 and codes["unpack"] == 1


# --- the CLI as a process -------------------------------------------------------------------------------------


def test_a_few_cases_through_the_real_cli(tmp_path, original):
    """The in-process runs above stand for the command line: these prove a real process says the same."""
    raw = original.raw
    cases = {"cut": raw[: len(raw) * 3 // 5], "flip": raw[:200] + bytes([raw[200] ^ 1]) + raw[201:],
             "appended": raw + zst(b"x")}
    for label, data in cases.items():
        path = tmp_path / f"{label}.tar.zst"
        path.write_bytes(data)
        for args in (["verify", path], ["unpack", path, "--to", tmp_path / "d"]):
            r = run_cli(*args)
            assert r.rc == 1 and "Traceback" not in r.err, (label, r.err)
            assert len([line for line in r.err.splitlines() if line.startswith("error:")]) == 1, (label, r.err)
        assert not [p for p in tmp_path.iterdir() if p.name.startswith((".d.", "d"))], label
