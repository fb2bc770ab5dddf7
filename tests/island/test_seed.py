"""The asset host's registry seeding (roles/asset_host/library/wire_registry_seed.py) against the real
docker-registry: a bundle built by the real CLI from stand-in images with quay.io/... and docker.io/... names,
unpacked, seeded by hard links, then served read-only and pulled by digest."""

from __future__ import annotations

import json
import os
import subprocess

import pytest
import requests

from tests.bundle.conftest import write_spec
from tests.island.seeding import seed_module
from tests.support import skopeo
from tests.support.cli import run_cli
from tests.support.registry import ReadOnlyRegistry

BRIG = "quay.io/wire/island-brig:5.0.0"
MULTI = "quay.io/wire/island-sftd:1.0"
REDIS = "docker.io/library/island-redis:7"


@pytest.fixture(scope="module")
def unpacked(tmp_path_factory, registry):
    from tests.support.images import ImageFactory

    factory = ImageFactory(seed="island-seed")
    factory.push(registry, "wire/island-brig", factory.simple("brig", size=300_000), tag="5.0.0")
    factory.push(registry, "wire/island-sftd", factory.multiarch("sftd", size=200_000), tag="1.0")
    factory.push(registry, "library/island-redis", factory.simple("redis", size=100_000), tag="7")
    tmp = tmp_path_factory.mktemp("seed")
    spec = write_spec(tmp / "s.yaml", [BRIG, {"ref": MULTI, "platforms": ["linux/amd64"]}, REDIS],
                      {"quay.io": {"mirror": registry.host}, "docker.io": {"mirror": registry.host},
                       registry.host: {"insecure": True}})
    r = run_cli("build", spec, "-o", tmp / "b.tar.zst", "--cache-dir", tmp / "cache", "-q")
    assert r.rc == 0, r.err
    r = run_cli("unpack", tmp / "b.tar.zst", "--to", tmp / "srv" / "bundle")
    assert r.rc == 0, r.err
    return tmp / "srv"


def _digests(layout):
    index = json.loads((layout / "index.json").read_text())
    return {m["annotations"]["org.opencontainers.image.ref.name"]: m["digest"] for m in index["manifests"]}


def test_split_reference_keeps_the_upstream_registry():
    split = seed_module().split_reference
    assert split("quay.io/wire/brig:5.0.0") == ("quay.io/wire/brig", "5.0.0", None)
    assert split("redis") == ("docker.io/library/redis", None, None)
    assert split("bitnami/redis:7") == ("docker.io/bitnami/redis", "7", None)
    assert split("registry.k8s.io:443/pause@sha256:ab") == ("registry.k8s.io:443/pause", None, "sha256:ab")


def test_seeding_links_every_blob_once_and_a_second_run_changes_nothing(unpacked):
    layout = unpacked / "bundle" / "images"
    root = unpacked / "registry"
    first = seed_module().seed_registry(str(layout), str(root))
    blobs = sorted((layout / "blobs" / "sha256").iterdir())
    assert first["changed"] and first["linked"] == len(blobs)
    for blob in blobs:
        data = root / "docker/registry/v2/blobs/sha256" / blob.name[:2] / blob.name / "data"
        assert os.stat(data).st_ino == os.stat(blob).st_ino  # the same bytes on disk, not a copy
    repos = {i["repository"] for i in first["images"]}
    assert repos == {"quay.io/wire/island-brig", "quay.io/wire/island-sftd", "docker.io/library/island-redis"}
    again = seed_module().seed_registry(str(layout), str(root))
    assert not again["changed"] and again["linked"] == again["links_written"] == 0


def test_registry_serves_original_names_by_digest_and_tag_read_only(unpacked, tmp_path):
    layout = unpacked / "bundle" / "images"
    root = unpacked / "registry"
    seed_module().seed_registry(str(layout), str(root))
    reg = ReadOnlyRegistry(root, tmp_path)
    try:
        for ref, digest in _digests(layout).items():
            repo = ref.rsplit(":", 1)[0]
            assert skopeo.inspect_digest(f"{reg.host}/{repo}@{digest}") == digest
            tag = ref.rsplit(":", 1)[1]
            r = requests.head(f"{reg.url}/v2/{repo}/manifests/{tag}", timeout=10, headers={"Accept": ", ".join([
                "application/vnd.oci.image.index.v1+json", "application/vnd.oci.image.manifest.v1+json",
                "application/vnd.docker.distribution.manifest.v2+json",
                "application/vnd.docker.distribution.manifest.list.v2+json"])})
            assert r.status_code == 200 and r.headers["Docker-Content-Digest"] == digest
        # A full pull: skopeo checks every blob it receives against its digest.
        brig = _digests(layout)[BRIG]
        skopeo.copy(f"docker://{reg.host}/quay.io/wire/island-brig@{brig}", f"oci:{tmp_path / 'pulled'}:x")
        assert json.loads((tmp_path / "pulled" / "index.json").read_text())["manifests"][0]["digest"] == brig
        missing = requests.get(f"{reg.url}/v2/quay.io/wire/not-bundled/manifests/latest", timeout=10)
        assert missing.status_code == 404
        push = requests.post(f"{reg.url}/v2/quay.io/wire/island-brig/blobs/uploads/", timeout=10)
        assert push.status_code in (405, 503), push.status_code  # read-only maintenance mode refuses writes
    finally:
        reg.stop()


def _files(root):
    return sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file())


def test_a_newer_bundle_adds_and_prune_removes_only_what_no_kept_bundle_holds(unpacked, tmp_path):
    """The upgrade on the asset host, on files: seeding a newer bundle keeps the older one's images; prune refuses
    while a deployed release uses one that would go, lists it on a dry run, then removes only what the newer
    bundle does not hold. The newer bundle is the unpacked one without the redis image (its marker says it is
    another bundle), as a release that drops an image would be."""
    import shutil

    mod = seed_module()
    old = unpacked / "bundle"
    new = tmp_path / "srv" / "bundle"
    shutil.copytree(old, new, copy_function=os.link)  # what a delta unpack gives: the unchanged files linked
    index = json.loads((new / "images/index.json").read_text())
    index["manifests"] = [m for m in index["manifests"]
                          if m["annotations"]["org.opencontainers.image.ref.name"] != REDIS]
    (new / "images/index.json").unlink()
    (new / "images/index.json").write_text(json.dumps(index))
    marker = json.loads((new / ".wire-bundle-unpacked.json").read_text())
    marker.update(name="smaller", content_digest="sha256:" + "5" * 64)
    (new / ".wire-bundle-unpacked.json").unlink()
    (new / ".wire-bundle-unpacked.json").write_text(json.dumps(marker))
    root, served = tmp_path / "registry", tmp_path / "served"

    mod.seed_registry(str(old / "images"), str(root))
    assert mod.keep_served(str(old), str(served))["changed"]
    assert mod.seed_registry(str(new / "images"), str(root))["linked"] == 0  # every blob: the same inode already
    record = mod.keep_served(str(new), str(served))["served"]
    assert [b["name"] for b in record] == [json.loads((old / ".wire-bundle-unpacked.json").read_text())["name"],
                                           "smaller"]
    assert not mod.keep_served(str(new), str(served))["changed"]
    redis = f"{REDIS}@{_digests(old / 'images')[REDIS]}"
    assert (served / marker["content_digest"][7:] / "images/index.json").read_text() == json.dumps(index)
    before = _files(tmp_path)

    with pytest.raises(mod.SeedError, match=r"release 'cache' still uses docker.io/library/island-redis:7@sha256:"
                                            r".*only bundle .* holds it"):
        mod.prune_served(str(new), str(root), str(served),
                         deployed=[{"name": "brig", "images": [BRIG]}, {"name": "cache", "images": [redis]}])
    with pytest.raises(mod.SeedError, match="keep 'nope': no served bundles"):
        mod.prune_served(str(new), str(root), str(served), keep=["nope"])
    dry = mod.prune_served(str(new), str(root), str(served), dry_run=True)
    assert _files(tmp_path) == before and not dry["changed"]
    redis_only = set(_blob_names(old / "images", _digests(old / "images")[REDIS])) - set().union(
        *(_blob_names(old / "images", d) for r, d in _digests(old / "images").items() if r != REDIS))
    assert redis_only and set(dry["blobs"]) == redis_only
    kept_too = mod.prune_served(str(new), str(root), str(served), keep=[record[0]["content_digest"][:19]],
                                dry_run=True)
    assert kept_too["blobs"] == [] and kept_too["dropped"] == []
    old_tree = served / record[0]["content_digest"][7:]
    old_tree.rename(tmp_path / "aside")  # a kept bundle whose tree is gone: its images would look unused
    with pytest.raises(mod.SeedError, match="is kept, but its tree .* is missing"):
        mod.prune_served(str(new), str(root), str(served), keep=[record[0]["name"]])
    (tmp_path / "aside").rename(old_tree)
    assert _files(tmp_path) == before

    done = mod.prune_served(str(new), str(root), str(served), deployed=[{"name": "brig", "images": [BRIG]}])
    assert done["changed"] and [b["name"] for b in done["kept"]] == ["smaller"]
    v2 = root / "docker/registry/v2"
    assert not (v2 / "repositories/docker.io").exists() and (v2 / "repositories/quay.io/wire/island-brig").is_dir()
    assert not redis_only & {p.name for p in (v2 / "blobs/sha256").glob("*/*")}
    assert sorted(p.name for p in served.iterdir()) == sorted([marker["content_digest"][7:], "served.json"])
    assert (old / "images/index.json").exists()  # the unpacked trees themselves are not the prune's
    again = mod.prune_served(str(new), str(root), str(served))
    assert not again["changed"] and again["blobs"] == []


def _blob_names(layout, digest):
    manifest = json.loads((layout / "blobs/sha256" / digest.split(":")[1]).read_bytes())
    names = [digest.split(":")[1]]
    for d in [manifest.get("config"), *manifest.get("layers", []), *manifest.get("manifests", [])]:
        if d and (layout / "blobs/sha256" / d["digest"].split(":")[1]).exists():
            names += _blob_names(layout, d["digest"]) if "manifests" in manifest else [d["digest"].split(":")[1]]
    return names


def test_cross_filesystem_storage_is_refused_with_a_hint(unpacked):
    if subprocess.run(["findmnt", "-n", "/dev/shm"], capture_output=True).returncode != 0:
        pytest.skip("no /dev/shm tmpfs to stand for another filesystem")
    import tempfile

    mod = seed_module()
    with tempfile.TemporaryDirectory(dir="/dev/shm") as other, pytest.raises(mod.SeedError, match="different"):
        mod.seed_registry(str(unpacked / "bundle" / "images"), other)
