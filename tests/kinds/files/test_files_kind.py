"""Pinned files through the real Downloader against a loopback HTTP server (faults injected by the server)."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pytest

from bundler.bundle.build import Context
from bundler.bundle.lock import FileLock
from bundler.bundle.spec import load_spec, loads_spec
from bundler.errors import BundleError, IntegrityError, RegistryError, SpecError
from bundler.kinds.files.kind import KIND
from tests.kinds.files.context import build_context
from tests.support.fileserver import FileServer
from tests.support.specs import write_spec_text

# Stand-in payloads: random bytes, never shipped. Big enough that a cut leaves a real prefix behind.
STAND_IN_TGZ = os.urandom(3 * 1024 * 1024 + 17)
STAND_IN_BIN = os.urandom(200_000)


def sha256(b: bytes) -> str:
    return hashlib.sha256(b).hexdigest()


def sha512(b: bytes) -> str:
    return hashlib.sha512(b).hexdigest()


@pytest.fixture
def server():
    with FileServer({"/dist/stand-in-1.0.tar.gz": STAND_IN_TGZ, "/bin/stand-in-tool": STAND_IN_BIN}) as s:
        yield s


@pytest.fixture
def ctx(tmp_path: Path) -> Context:
    return build_context(cache_dir=tmp_path / "cache", work_dir=tmp_path / "work")


def write_spec(tmp_path: Path, body: str) -> Path:
    return write_spec_text(tmp_path / "bundle.yaml", body)


def spec_for(tmp_path: Path, server: FileServer, tgz_sum: str | None = None):
    tgz_sum = tgz_sum or sha512(STAND_IN_TGZ)
    return load_spec(write_spec(tmp_path, f"""files:
  - url: {server.url}/dist/stand-in-1.0.tar.gz
    sha512: {tgz_sum}
  - url: {server.url}/bin/stand-in-tool?download=1
    sha256: {sha256(STAND_IN_BIN)}
    path: k8s/v1/stand-in-tool
"""))


def test_lock_pins_url_checksum_and_size_learned_by_head(tmp_path, server, ctx):
    locked = KIND.lock(spec_for(tmp_path, server), ctx)
    assert [item.to_json() for item in locked] == [
        {"path": "k8s/v1/stand-in-tool", "url": f"{server.url}/bin/stand-in-tool?download=1",
         "algorithm": "sha256", "checksum": sha256(STAND_IN_BIN), "size": len(STAND_IN_BIN)},
        {"path": "stand-in-1.0.tar.gz", "url": f"{server.url}/dist/stand-in-1.0.tar.gz",
         "algorithm": "sha512", "checksum": sha512(STAND_IN_TGZ), "size": len(STAND_IN_TGZ)},
    ]
    assert {r.method for r in server.requests} == {"HEAD"}, "locking must not download the files"


def test_size_is_learned_on_fetch_when_the_server_refuses_head(tmp_path, ctx):
    with FileServer({"/f/stand-in.bin": STAND_IN_BIN}, head_allowed=False) as s:
        spec = load_spec(write_spec(tmp_path, f"files:\n  - url: {s.url}/f/stand-in.bin\n"
                                              f"    sha256: {sha256(STAND_IN_BIN)}\n"))
        locked = KIND.lock(spec, ctx)
        assert locked[0].size is None
        result = KIND.fetch(spec, locked, ctx)
        assert result.summary[0].size == len(STAND_IN_BIN)
        # Once cached, a new lock knows the size without asking the server.
        assert KIND.lock(spec, ctx)[0].size == len(STAND_IN_BIN)


def test_fetch_caches_by_checksum_and_returns_archive_members(tmp_path, server, ctx):
    spec = spec_for(tmp_path, server)
    locked = KIND.lock(spec, ctx)
    result = KIND.fetch(spec, locked, ctx)
    by_path = {a.path: a for a in result.artifacts}
    assert set(by_path) == {"files/k8s/v1/stand-in-tool", "files/stand-in-1.0.tar.gz"}
    tgz = by_path["files/stand-in-1.0.tar.gz"]
    # One store for every kind, by sha256; the sha512 the spec pins finds it through the files index.
    assert tgz.source == ctx.cache_dir / "blobs" / "sha256" / sha256(STAND_IN_TGZ)
    index = ctx.cache_dir / "index" / "files" / "sha512" / sha512(STAND_IN_TGZ)
    assert index.read_text() == f"sha256:{sha256(STAND_IN_TGZ)}\n"
    assert tgz.source.read_bytes() == STAND_IN_TGZ
    # The archive's digests are sha256 even when the spec pins sha512.
    assert tgz.digest == "sha256:" + sha256(STAND_IN_TGZ) and tgz.size == len(STAND_IN_TGZ)
    assert tgz.kind == "file" and tgz.origin.endswith("/dist/stand-in-1.0.tar.gz")
    assert by_path["files/k8s/v1/stand-in-tool"].source.read_bytes() == STAND_IN_BIN

    gets_before = len([r for r in server.requests if r.method == "GET"])
    assert gets_before == 2
    again = KIND.fetch(spec, locked, ctx)
    assert [a.digest for a in again.artifacts] == [a.digest for a in result.artifacts]
    assert len([r for r in server.requests if r.method == "GET"]) == gets_before, "a cached file is not fetched"


def test_checksum_mismatch_names_url_expected_and_got(tmp_path, server, ctx):
    wrong = sha512(b"not the file")
    spec = spec_for(tmp_path, server, tgz_sum=wrong)
    locked = KIND.lock(spec, ctx)
    with pytest.raises(IntegrityError) as err:
        KIND.fetch(spec, locked, ctx)
    msg = str(err.value)
    assert "\n" not in msg
    assert f"{server.url}/dist/stand-in-1.0.tar.gz" in msg
    assert f"expected sha512:{wrong}" in msg
    assert f"got sha512:{sha512(STAND_IN_TGZ)}" in msg
    blobs = ctx.cache_dir / "blobs"
    assert not (blobs / "sha256" / sha256(STAND_IN_TGZ)).exists()
    assert not (ctx.cache_dir / "index" / "files" / "sha512" / wrong).exists()
    staged = list(blobs.glob("*/*sha512*"))
    assert all(p.name.endswith(".partial") and p.stat().st_size == 0 for p in staged), staged


def test_missing_file_is_a_404_naming_the_url(tmp_path, server, ctx):
    url = f"{server.url}/dist/stand-in-2.0.tar.gz"
    gone = sha256(b"stand-in that was removed")
    spec = load_spec(write_spec(tmp_path, f"files:\n  - url: {url}\n    sha256: {gone}\n"))
    with pytest.raises(BundleError, match=f"file {url}: 404 not found"):
        KIND.lock(spec, ctx)
    # A lock made while the file still existed: the fetch fails just as clearly.
    stale = [FileLock(path="stand-in-2.0.tar.gz", url=url, algorithm="sha256", checksum=gone, size=None)]
    with pytest.raises(RegistryError, match=f"404 not found at {url}"):
        KIND.fetch(spec, stale, ctx)
    assert not (ctx.cache_dir / "blobs" / "sha256" / gone).exists()


def test_connection_cut_mid_file_resumes_with_range(tmp_path, server, ctx):
    spec = spec_for(tmp_path, server)
    locked = KIND.lock(spec, ctx)
    cut_at = 1024 * 1024 + 3
    server.cut_once("/dist/stand-in-1.0.tar.gz", after=cut_at)
    result = KIND.fetch(spec, locked, ctx)
    gets = server.gets("/dist/stand-in-1.0.tar.gz")
    assert [g.status for g in gets] == [200, 206]
    assert gets[0].range is None
    # The resume starts where the kept prefix ends: past zero, at most where the server cut.
    resumed_from = int(gets[1].range.removeprefix("bytes=").removesuffix("-"))
    assert 0 < resumed_from <= cut_at
    art = next(a for a in result.artifacts if a.path == "files/stand-in-1.0.tar.gz")
    assert art.source.read_bytes() == STAND_IN_TGZ


def test_file_without_checksum_is_rejected_with_file_line_and_key(tmp_path):
    path = write_spec(tmp_path, "name: x\nfiles:\n  - url: https://example.org/a.tgz\n    sha256: " + "a" * 64
                      + "\n  - url: https://example.org/b.tgz\n    path: b.tgz\n")
    with pytest.raises(SpecError) as err:
        load_spec(path)
    assert str(err.value) == (f"{path}:6: files[1]: file https://example.org/b.tgz has no checksum: "
                              "give sha256 or sha512")


@pytest.mark.parametrize("bad", ["../etc/passwd", "/abs/file", "a//b", "a/./b"])
def test_path_escaping_files_dir_is_rejected(bad):
    with pytest.raises(SpecError, match=r"files\[0\]\.path: invalid path"):
        loads_spec(f"version: 1\nfiles:\n  - url: https://example.org/a\n    sha256: {'a' * 64}\n    path: '{bad}'\n")


def test_inspect_rows(tmp_path, server, ctx):
    spec = spec_for(tmp_path, server)
    result = KIND.fetch(spec, KIND.lock(spec, ctx), ctx)
    title, columns, rows = KIND.inspect_rows(result.summary)
    assert title == "files" and columns == ["path", "size", "digest", "source"]
    assert rows[1][:3] == ["stand-in-1.0.tar.gz", "3.0 MiB", "sha256:" + sha256(STAND_IN_TGZ)[:16]]
