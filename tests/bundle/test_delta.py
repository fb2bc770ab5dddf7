"""Delta bundles and diff: a base and a bump built from the local registry, the delta unpacked onto the base.

One module-scoped set of builds (base, full new, delta twice, a delta on the delta) serves every test here.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from bundler.bundle.unpack import MARKER
from tests.bundle.conftest import write_spec
from tests.support.archive import unpacked_tree
from tests.support.cli import cli_ok, run_cli


@pytest.fixture(scope="module")
def builds(tmp_path_factory, registry):
    from tests.support.images import ImageFactory

    f = ImageFactory("delta")
    work = tmp_path_factory.mktemp("delta")
    cache = work / "cache"
    base = f.layer("base", 300_000)
    f.push(registry, "delta/svc", f.image([base, f.layer("svc-1", 200_000)]), tag="1")
    f.push(registry, "delta/svc", f.image([base, f.layer("svc-2", 150_000)]), tag="2")
    f.push(registry, "delta/svc", f.image([base, f.layer("svc-3", 100_000)]), tag="3")
    f.push(registry, "delta/other", f.image([base, f.layer("other", 200_000)]), tag="1")
    regs = {registry.host: {"insecure": True}}
    specs = {}
    for v in ("1", "2", "3"):
        specs[v] = write_spec(work / f"v{v}.yaml", [f"{registry.host}/delta/svc:{v}",
                                                    f"{registry.host}/delta/other:1"], regs)
    out = {"work": work, "cache": cache}
    for name, spec, extra in [("old", specs["1"], []), ("new", specs["2"], []),
                              ("delta", specs["2"], ["--base", work / "old.tar.zst"]),
                              ("delta-again", specs["2"], ["--base", work / "old.tar.zst"]),
                              # on a delta: its head is the full new bundle's
                              ("delta3", specs["3"], ["--base", work / "delta.tar.zst"])]:
        out[name] = work / f"{name}.tar.zst"
        out[name + ".out"] = cli_ok("build", spec, "-o", out[name], "--cache-dir", cache, *extra)
    return out


def test_delta_holds_only_what_the_base_lacks_and_is_reproducible(builds):
    assert builds["delta"].read_bytes() == builds["delta-again"].read_bytes()
    assert builds["delta"].stat().st_size < builds["new"].stat().st_size / 2
    assert "delta on:" in builds["delta.out"] and "carries" in builds["delta.out"]
    r = run_cli("verify", builds["delta"])
    assert r.rc == 0, r.err
    old_digest = run_cli("verify", builds["old"]).out.split("content digest: ")[1].split()[0]
    new_digest = run_cli("verify", builds["new"]).out.split("content digest: ")[1].split()[0]
    # The delta carries NEW's checksums.sha256: its content digest is the full bundle's; it names its base.
    assert f"content digest: {new_digest}" in r.out and f"({old_digest})" in r.out and "needs the bundle" in r.out


def test_diff_names_the_bumped_image_and_the_bytes_a_delta_carries(builds):
    out = json.loads(cli_ok("diff", builds["old"], builds["new"], "--json"))
    changed = out["kinds"]["images"]["changed"]
    assert [c["name"].rsplit("/", 1)[-1] for c in changed] == ["svc"]
    assert changed[0]["old_digest"] != changed[0]["new_digest"] and changed[0]["new_bytes"] >= 150_000
    assert changed[0]["new_bytes"] < 160_000  # the new top layer and its manifest and config, not the base
    delta_size = builds["delta"].stat().st_size
    # What diff says a delta carries is what build --base writes (compressed: the key and JSON shrink).
    assert 0.95 * out["delta"]["bytes"] <= delta_size <= out["delta"]["bytes"] + 64_000
    text = cli_ok("diff", builds["old"], builds["new"])
    assert "svc" in text and "delta" in text


def test_delta_onto_the_unpacked_base_gives_exactly_the_new_bundle(builds, tmp_path):
    from tests.island.seeding import seed_module

    island = tmp_path / "bundle"
    full = tmp_path / "full"
    storage = tmp_path / "registry-storage"  # the asset host's registry, seeded by hard links (no registry run)
    seed = seed_module().seed_registry
    cli_ok("unpack", builds["old"], "--to", island)
    blobs = island / "images/blobs/sha256"
    assert seed(str(island / "images"), str(storage))["linked"] == len(list(blobs.iterdir()))
    cli_ok("unpack", builds["new"], "--to", full)
    out = cli_ok("unpack", builds["delta"], "--to", island)
    assert "taken from the base" in out
    assert unpacked_tree(island) == unpacked_tree(full)
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]
    # Re-seeding after the delta links only the new blobs: the unchanged ones are the same files (hard links).
    from_base = set(json.loads(_delta_json(builds["delta"]))["from_base"])
    carried = [p for p in blobs.iterdir() if f"images/blobs/sha256/{p.name}" not in from_base]
    assert 3 <= len(carried) < len(list(blobs.iterdir()))  # svc:2's manifest, config and new layer
    assert seed(str(island / "images"), str(storage))["linked"] == len(carried)
    # Delta on delta: onto the tree the first delta made.
    cli_ok("unpack", builds["delta3"], "--to", island)
    marker = json.loads((island / MARKER).read_text())
    assert marker["content_digest"] == json.loads(_delta_json(builds["delta3"]))["content_digest"]
    assert "already holds" in cli_ok("unpack", builds["delta3"], "--to", island)


def _delta_json(archive: Path) -> bytes:
    from tests.support.archive import read_tar

    return next(data for info, data in read_tar(archive) if info.name == "delta.json")


def test_bad_bases_are_refused_and_the_tree_stays(builds, tmp_path):
    island = tmp_path / "bundle"
    cli_ok("unpack", builds["old"], "--to", island)
    before = unpacked_tree(island)
    # The wrong base: a delta on the new bundle onto the old one; both digests named.
    r = run_cli("unpack", builds["delta3"], "--to", island)
    decl = json.loads(_delta_json(builds["delta3"]))
    old_digest = json.loads((island / MARKER).read_text())["content_digest"]
    assert r.rc == 1 and "wrong base" in r.err and decl["base"] in r.err and old_digest in r.err
    assert len(r.err.strip().splitlines()) == 1 and "Traceback" not in r.err
    # No base at all.
    r = run_cli("unpack", builds["delta"], "--to", tmp_path / "empty")
    assert r.rc == 1 and "holds no unpacked bundle" in r.err
    # A base changed after unpacking: one of its layers rewritten in place.
    blob = max((island / "images/blobs/sha256").iterdir(), key=lambda p: p.stat().st_size)
    data = bytearray(blob.read_bytes())
    data[10] ^= 1
    blob.write_bytes(bytes(data))
    changed = unpacked_tree(island)
    r = run_cli("unpack", builds["delta"], "--to", island)
    assert r.rc == 1 and "changed since the base was unpacked" in r.err and blob.name in r.err
    assert unpacked_tree(island) == changed and not [p for p in tmp_path.iterdir() if p.name.startswith(".")]
    blob.write_bytes(bytes(data[:10]) + bytes([data[10] ^ 1]) + bytes(data[11:]))
    # A truncated delta: the old tree stays as it was.
    cut = tmp_path / "cut.tar.zst"
    cut.write_bytes(builds["delta"].read_bytes()[:-5000])
    shutil.rmtree(island)
    cli_ok("unpack", builds["old"], "--to", island)
    r = run_cli("unpack", cut, "--to", island)
    assert r.rc == 1 and "truncated" in r.err and "Traceback" not in r.err
    assert unpacked_tree(island) == before and not [p for p in tmp_path.iterdir() if p.name.startswith(".")]


def test_a_tampered_declaration_is_refused(builds, tmp_path):
    from tests.support.archive import read_tar, write_tar

    members = read_tar(builds["delta"])
    i = next(i for i, (m, _) in enumerate(members) if m.name == "delta.json")
    decl = json.loads(members[i][1])
    decl["base"] = "sha256:" + "0" * 64  # claims another base: the signature no longer covers it
    members[i] = (members[i][0], json.dumps(decl).encode())
    forged = tmp_path / "forged.tar.zst"
    write_tar(forged, members)
    r = run_cli("verify", forged)
    assert r.rc == 1 and "BROKEN delta.json.asc" in r.err and "Traceback" not in r.err
