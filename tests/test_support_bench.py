"""The benchmark fixture and peer measurements, run at a tiny scale: shapes and sizes add up."""

from __future__ import annotations

import gzip
import json
import sys
import tarfile

import pytest

from bench import peers
from bench.fixture_images import load_shape, seed, unique_bytes
from tests.support.httpserver import DirectoryServer
from tests.support.images import RegistryClient

SCALE = 0.002  # ~1 MiB in all: proves the plumbing, measures nothing


@pytest.fixture
def seeded(fresh_registry):
    return fresh_registry, seed(fresh_registry, scale=SCALE)


def test_fixture_has_wire_shape(seeded):
    registry, images = seeded
    shape = load_shape()
    assert len(images) == len(shape["images"]) >= 20
    assert {i.name for i in images} == {f"quay.io/wire/{n}:bench" for n in shape["images"]}
    # One base layer under every image; the Haskell runtime only under those that declare it.
    first_layers = {i.blobs[1] for i in images}
    assert len(first_layers) == 1
    haskell = [i for i in images if "haskell-runtime" in shape["images"][i.repo.split("/")[1]]["shared"]]
    assert len({i.blobs[2] for i in haskell}) == 1
    # Sharing makes the unique content much smaller than the sum of the images.
    assert unique_bytes(images) < 0.6 * sum(i.size for i in images)
    client = RegistryClient.for_registry(registry)
    brig = next(i for i in images if i.repo == "wire/brig")
    assert client.get_manifest("wire/brig", "bench")[2] == brig.digest


def test_fixture_is_reproducible(fresh_registry, tmp_path):
    from tests.support.registry import Registry

    first = seed(fresh_registry, scale=SCALE)
    with Registry(tmp_path, name="second") as other:
        second = seed(other, scale=SCALE)
    assert [i.digest for i in first] == [i.digest for i in second]


def test_peers_measure_and_sizes_relate(seeded, tmp_path):
    registry, images = seeded
    images = images[:4]  # brig, galley, gundeck, cannon: share base and runtime
    oci, archives, raw = peers.run_all(registry, images, tmp_path)
    unique = unique_bytes(images)
    assert raw["size_bytes"] == unique
    assert raw["blobs"] == len({d for i in images for d in i.blobs})
    # The shared layout stores each blob once (plus manifests and index.json).
    assert unique <= oci["size_bytes"] < unique + 64 * 1024
    index = json.loads((tmp_path / "skopeo-oci-layout" / "index.json").read_text())
    names = {m["annotations"]["org.opencontainers.image.ref.name"] for m in index["manifests"]}
    assert names == {i.name for i in images}
    # Wire's way stores the shared base once per image.
    assert archives["files"] == 4
    assert archives["size_bytes"] > oci["size_bytes"]
    with gzip.open(tmp_path / "docker-archives" / "wire_brig.tar.gz") as f, tarfile.open(fileobj=f) as tar:
        manifest = json.load(tar.extractfile("manifest.json"))
    assert manifest[0]["RepoTags"] == ["quay.io/wire/brig:bench"]
    for result in (oci, archives, raw):
        assert result["wall_s"] > 0
        # Real processes: at least a megabyte, far below the machine's memory.
        assert 1 << 20 < result["peak_rss_bytes"] < 4 << 30


def test_peak_rss_is_the_child_s_own(tmp_path):
    """The figure must not include this (large) test process, only what the measured command used."""
    ballast = bytearray(300 << 20)  # make the parent big: a naive ru_maxrss would report >= 300 MiB
    ballast[::4096] = b"\x01" * len(ballast[::4096])
    out = tmp_path / "out.bin"
    code = f"b = bytearray(80 << 20); b[::4096] = b'\\x01' * len(b[::4096]); open({str(out)!r}, 'wb').write(b'x' * 10)"
    result = peers.measure_command("alloc 80 MiB", [sys.executable, "-c", code], out)
    assert 80 << 20 < result["peak_rss_bytes"] < 200 << 20
    assert result["size_bytes"] == 10
    with pytest.raises(peers.PeerError, match="exited 3"):
        peers.run_child([sys.executable, "-c", "raise SystemExit(3)"])
    del ballast


def test_wan_proxy_adds_the_round_trip_and_holds_the_rate(tmp_path):
    """bench/wan_proxy.py: 2 MiB through a 16 Mbit/s link (2 MB/s) with a 100 ms round trip, against a real
    loopback HTTP server: the first byte waits for the connection's and the request's round trips, the whole
    body for the rate."""
    import time
    import urllib.request

    from bench.wan_proxy import WanProxy, parse_delay, parse_rate

    (tmp_path / "blob").write_bytes(b"z" * (2 << 20))
    server = DirectoryServer(tmp_path)
    proxy = WanProxy(server.host, parse_rate("16mbit"), parse_delay("100ms"))
    try:
        t0 = time.monotonic()
        with urllib.request.urlopen(f"http://{proxy.host}/blob", timeout=30) as resp:
            first = resp.read(1)
            first_at = time.monotonic() - t0
            body = first + resp.read()
        total = time.monotonic() - t0
    finally:
        proxy.close()
        server.close()
    assert len(body) == 2 << 20
    assert first_at >= 0.2  # handshake + request/response, 100 ms each
    assert 1.0 <= total < 4.0  # 2 MiB at 2 MB/s is ~1.05 s; an unshaped loopback would take milliseconds
