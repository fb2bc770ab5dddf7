"""Layer scans kept in the content store (bundler.sbom.scancache): a recorded scan is used without reading the
layer, is never used for another layer, and a damaged record is scanned again, not trusted and not a crash."""

from __future__ import annotations

import gzip
import json
import tarfile

from bundler.bundle.store import BlobStore
from bundler.sbom.layers import SCANNER, scan_layer
from bundler.sbom.scancache import INDEX, cached_scan, load
from tests.support.archive import tar_bytes
from tests.support.images import sha256_digest


def layer(store: BlobStore, files: dict[str, bytes], whiteouts: tuple[str, ...] = ()) -> tuple[str, object]:
    entries = []
    for name, data in [*files.items(), *((w, b"") for w in whiteouts)]:
        ti = tarfile.TarInfo(name)
        ti.size = len(data)
        entries.append((ti, data))
    blob = gzip.compress(tar_bytes(entries), mtime=0)
    digest = sha256_digest(blob)
    return digest, store.put_bytes(digest, blob)


def record_of(store: BlobStore, digest: str):
    index = store.index(INDEX)
    return index, f"{SCANNER}/{digest.removeprefix('sha256:')}"


def test_a_recorded_scan_is_used_only_for_its_own_layer(tmp_path):
    store = BlobStore(tmp_path / "cache")
    a, a_path = layer(store, {"etc/os-release": b"ID=debian\n", "var/lib/dpkg/status": b"Package: a\n"},
                      whiteouts=("usr/.wh.gone",))
    b, b_path = layer(store, {"etc/os-release": b"ID=alpine\n"})
    fresh = scan_layer(a_path, a)
    assert cached_scan(store, a, a_path) == fresh
    a_path.unlink()  # recorded: the layer is not read again
    assert cached_scan(store, a, a_path) == fresh
    assert fresh.removed == ["usr/gone"] and fresh.files["var/lib/dpkg/status"] == b"Package: a\n"

    # B's index entry pointing at A's record: the record names A, so B is read from its own layer.
    index, key_a = record_of(store, a)
    _, key_b = record_of(store, b)
    index.put(key_b, index.get(key_a))
    assert cached_scan(store, b, b_path).files == {"etc/os-release": b"ID=alpine\n"}
    assert index.get(key_b) != index.get(key_a)  # and its own record replaced the wrong one


def test_a_damaged_record_is_scanned_again(tmp_path):
    store = BlobStore(tmp_path / "cache")
    digest, path = layer(store, {"var/lib/dpkg/status": b"Package: a\n"})
    fresh = cached_scan(store, digest, path)
    index, key = record_of(store, digest)
    not_a_record = b'{"layer": 1}'
    store.put_bytes(sha256_digest(not_a_record), not_a_record)

    def kept(record):
        return store.path(next(iter(json.loads(record.read_bytes())["files"].values())))

    for damage in (lambda record: kept(record).write_bytes(b"Package: forged\n"),  # a kept file's bytes changed
                   lambda record: record.write_bytes(record.read_bytes()[:-9]),  # the record cut short
                   lambda record: index.put(key, "sha256:" + "0" * 64),  # a record that is not there
                   lambda record: index.put(key, "not a digest"),
                   lambda record: index.put(key, sha256_digest(not_a_record))):  # sound bytes, not a record
        damage(store.path(index.get(key)))
        assert load(store, key, digest) is None
        assert cached_scan(store, digest, path) == fresh  # read from the layer again, recorded again
        assert load(store, key, digest) == fresh  # the record sound again (a damaged blob was thrown away)
