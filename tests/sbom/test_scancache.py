"""Remembered layer scans (bundler/sbom/scancache.py): used while the blob file is the one scanned, and never once
it was rewritten, was written moments ago, or the entry is damaged or from another scanner."""

from __future__ import annotations

import json
import os
import time

from bundler.sbom.layers import scan_layer
from bundler.sbom.scancache import ScanCache
from tests.sbom.test_layers import gnu_layer

DIGEST = "sha256:" + "ab" * 32
SETTLE = 50_000_000  # 50 ms: the tests wait that long instead of the 2 s a build waits


def layer(path, version: bytes):
    gnu_layer(path, [("etc/os-release", b"ID=debian\nVERSION_ID=" + version + b"\n")])
    time.sleep(2 * SETTLE / 1e9)  # older than the settle time: its scan may be remembered
    return path


def test_a_scan_is_remembered_and_recalled_while_the_file_is_unchanged(tmp_path):
    blob = layer(tmp_path / "blob", b"12")
    cache = ScanCache(tmp_path / "cache", settle_ns=SETTLE)
    first = cache.scan(blob, DIGEST)
    assert first == scan_layer(blob, DIGEST)
    assert cache.recall(DIGEST, os.stat(blob)) == first
    assert cache.scan(blob, DIGEST) == first


def test_a_rewritten_blob_is_scanned_again(tmp_path):
    blob = layer(tmp_path / "blob", b"12")
    cache = ScanCache(tmp_path / "cache", settle_ns=SETTLE)
    cache.scan(blob, DIGEST)
    layer(blob, b"13")  # same size, same inode, other bytes
    assert cache.recall(DIGEST, os.stat(blob)) is None
    assert cache.scan(blob, DIGEST).files["etc/os-release"] == b"ID=debian\nVERSION_ID=13\n"


def test_a_file_written_within_the_settle_time_is_not_remembered(tmp_path):
    gnu_layer(tmp_path / "blob", [("etc/os-release", b"ID=debian\n")])
    cache = ScanCache(tmp_path / "cache")  # the build's 2 s
    cache.scan(tmp_path / "blob", DIGEST)
    assert not (tmp_path / "cache" / "sbom" / "layers").exists()


def test_a_damaged_entry_or_another_scanners_is_scanned_again_and_replaced(tmp_path):
    blob = layer(tmp_path / "blob", b"12")
    cache = ScanCache(tmp_path / "cache", settle_ns=SETTLE)
    expected = cache.scan(blob, DIGEST)
    entry = next((tmp_path / "cache" / "sbom" / "layers").iterdir())
    doc = json.loads(entry.read_text())
    for damaged in ("{not json", json.dumps({**doc, "scanner": "0" * 64}),
                    json.dumps({**doc, "files": {"etc/os-release": "not base64!"}}), json.dumps([1])):
        entry.write_text(damaged)
        assert cache.recall(DIGEST, os.stat(blob)) is None
        assert cache.scan(blob, DIGEST) == expected
        assert json.loads(entry.read_text()) == doc
