"""SBOM documents kept in the content store (bundler/sbom/doccache.py): found again only for the same inputs, and
never when the kept blob was cut short or altered."""

from __future__ import annotations

from bundler.bundle.store import BlobStore
from bundler.sbom.contents import ImageContents, OsInfo
from bundler.sbom.doccache import INDEX, document_key, keep_document, kept_document
from bundler.sbom.ospkgs import Package

LOCK = {"version": 1, "locked_at": 1700000000, "images": []}
ARTIFACTS = [{"path": "images/index.json", "digest": "sha256:" + "0" * 64, "size": 2, "kind": "meta", "origin": None}]


def key(images=None, lock=LOCK) -> str:
    return document_key("wire", "wire-bundle 0.1.0", lock, {"images": {"images": []}}, ARTIFACTS, images or {})


def test_the_key_follows_every_input_down_to_a_package():
    debian = OsInfo("debian", "12", None)
    one = {"sha256:aa": ImageContents(os=debian, packages=[(Package("dpkg", "libc6", "2.36-9"), "sha256:bb")])}
    other = {"sha256:aa": ImageContents(os=debian, packages=[(Package("dpkg", "libc6", "2.36-10"), "sha256:bb")])}
    assert key(one) == key(one)
    assert len({key(), key(one), key(other), key(one, lock={**LOCK, "locked_at": 1700000001})}) == 4


def test_a_document_is_found_again_and_a_damaged_one_is_not(tmp_path):
    store = BlobStore(tmp_path)
    assert kept_document(store, key()) is None
    keep_document(store, key(), b'{"bomFormat": "CycloneDX"}')
    assert kept_document(store, key()) == b'{"bomFormat": "CycloneDX"}'
    blob = store.path(store.index(INDEX).get(key()))
    whole = blob.read_bytes()
    for damaged in (whole[:-3], whole.replace(b"CycloneDX", b"CycloneDY"), b""):
        blob.write_bytes(damaged)
        assert kept_document(store, key()) is None
        keep_document(store, key(), whole)  # a damaged blob is dropped: keeping the document again restores it
        assert kept_document(store, key()) == whole
