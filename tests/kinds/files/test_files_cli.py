"""Pinned files end to end through the real CLI: `wire-bundle build`, `verify` and `inspect` on the archive."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from urllib.parse import quote

import pytest

from tests.support.archive import members
from tests.support.cli import run_cli
from tests.support.fileserver import FileServer

STAND_IN = os.urandom(700_000)  # stand-in payload, never shipped


@pytest.fixture
def server():
    with FileServer({"/rel/stand-in-tool-1.2.tar.gz": STAND_IN}) as s:
        yield s


def spec(tmp_path: Path, server: FileServer, sha256: str) -> Path:
    path = tmp_path / "files.yaml"
    path.write_text(f"""version: 1
name: files-e2e
files:
  - url: {server.url}/rel/stand-in-tool-1.2.tar.gz
    sha256: {sha256}
    path: tools/stand-in-tool-1.2.tar.gz
""")
    return path


def test_build_verify_inspect(tmp_path, server):
    path = spec(tmp_path, server, hashlib.sha256(STAND_IN).hexdigest())
    out = tmp_path / "out.tar.zst"
    built = run_cli("build", str(path), "-o", str(out), "--cache-dir", str(tmp_path / "cache"), "-q", cwd=tmp_path)
    assert built.returncode == 0, built.stderr

    lock = json.loads((tmp_path / "files.lock.json").read_text())
    assert lock["files"] == [{"path": "tools/stand-in-tool-1.2.tar.gz",
                              "url": f"{server.url}/rel/stand-in-tool-1.2.tar.gz", "algorithm": "sha256",
                              "checksum": hashlib.sha256(STAND_IN).hexdigest(), "size": len(STAND_IN)}]
    content = members(out)
    assert content["files/tools/stand-in-tool-1.2.tar.gz"] == STAND_IN
    bundle = json.loads(content["bundle.json"])
    assert bundle["kinds"]["files"][0]["sha256"] == hashlib.sha256(STAND_IN).hexdigest()
    sbom = json.loads(content["sbom.cdx.json"])  # the file in the SBOM: its sha256, where it came from
    digest = hashlib.sha256(STAND_IN).hexdigest()
    assert [(c["type"], c["purl"], c["hashes"][0]["content"]) for c in sbom["components"]] == [
        ("file", f"pkg:generic/stand-in-tool-1.2.tar.gz?checksum=sha256:{digest}&download_url="
                 f"{quote(server.url + '/rel/stand-in-tool-1.2.tar.gz', safe='/:')}", digest)]

    verified = run_cli("verify", str(out), cwd=tmp_path)
    assert verified.returncode == 0, verified.stdout + verified.stderr
    shown = run_cli("inspect", str(out), cwd=tmp_path)
    assert shown.returncode == 0, shown.stderr
    assert "tools/stand-in-tool-1.2.tar.gz" in shown.stdout


def test_checksum_mismatch_fails_in_one_line_and_writes_no_archive(tmp_path, server):
    wrong = hashlib.sha256(b"another file").hexdigest()
    path = spec(tmp_path, server, wrong)
    out = tmp_path / "out.tar.zst"
    built = run_cli("build", str(path), "-o", str(out), "--cache-dir", str(tmp_path / "cache"), "-q", cwd=tmp_path)
    assert built.returncode != 0
    lines = built.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: file tools/stand-in-tool-1.2.tar.gz: digest mismatch")
    assert f"expected sha256:{wrong}" in lines[0] and f"got sha256:{hashlib.sha256(STAND_IN).hexdigest()}" in lines[0]
    assert f"{server.url}/rel/stand-in-tool-1.2.tar.gz" in lines[0]
    assert not out.exists() and not list(tmp_path.glob("out.tar.zst*"))


def test_missing_checksum_fails_at_load_naming_file_line_and_key(tmp_path, server):
    path = tmp_path / "files.yaml"
    path.write_text(f"version: 1\nfiles:\n  - url: {server.url}/rel/stand-in-tool-1.2.tar.gz\n")
    built = run_cli("build", str(path), "-o", str(tmp_path / "out.tar.zst"), "--cache-dir", str(tmp_path / "c"),
                cwd=tmp_path)
    assert built.returncode != 0
    assert built.stderr.strip() == (f"error: {path}:3: files[0]: file {server.url}/rel/stand-in-tool-1.2.tar.gz "
                                    "has no checksum: give sha256 or sha512")
    assert not server.requests
