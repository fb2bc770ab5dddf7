"""The image path end to end, against a real registry (Debian's docker-registry) and the real CLI."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from tests.bundle.conftest import write_spec
from tests.support.archive import bundle_json, extract, flip_largest_blob, read_tar, unzstd, write_tar, zst
from tests.support.cli import run_cli


def _seed(registry, image_factory, prefix: str):
    """Three images sharing a base layer, a multi-arch index, and one to be pinned by digest."""
    shared = [image_factory.push(registry, f"{prefix}/{n}", image_factory.simple(n, base_size=200_000), tag="1.0")
              for n in ("brig", "galley", "cannon")]
    multi = image_factory.push(registry, f"{prefix}/sftd", image_factory.multiarch("sftd"), tag="2.0")
    pinned = image_factory.push(registry, f"{prefix}/nginz", image_factory.simple("nginz"), tag="ignored")
    return shared, multi, pinned


def test_build_verify_inspect_with_mirror_and_dedup(tmp_path, registry, image_factory, cache):
    shared, multi, pinned = _seed(registry, image_factory, "e2e")
    refs = [f"quay.io/e2e/{n}:1.0" for n in ("brig", "galley", "cannon")]
    refs += [{"ref": "quay.io/e2e/sftd:2.0", "platforms": ["linux/amd64", "linux/arm64"]},
             f"quay.io/e2e/nginz@{pinned.digest}"]
    spec = write_spec(tmp_path / "wire.yaml", refs,
                      {"quay.io": {"mirror": registry.host}, registry.host: {"insecure": True}})
    out = tmp_path / "out" / "b.tar.zst"

    r = run_cli("build", spec, "-o", out, "--cache-dir", cache)
    assert r.rc == 0, r.err
    assert out.exists() and not out.with_name("b.tar.zst.partial").exists()
    lock = json.loads((tmp_path / "wire.lock.json").read_text())
    by_ref = {i["ref"]: i for i in lock["images"]}
    assert by_ref["quay.io/e2e/brig:1.0"]["digest"] == shared[0].digest
    assert by_ref[f"quay.io/e2e/nginz@{pinned.digest}"]["digest"] == pinned.digest
    assert [p["platform"] for p in by_ref["quay.io/e2e/sftd:2.0"]["platforms"]] == ["linux/amd64", "linux/arm64/v8"]

    v = run_cli("verify", out)
    assert v.rc == 0, v.err
    assert "OK" in v.out

    members = read_tar(out)
    names = [m.name for m, _ in members]
    assert names[:3] == ["bundle.json", "checksums.sha256", "sbom.cdx.json"]  # the SBOM readable from the head
    assert names[-1] == "checksums.sha256.asc"  # made while the artifacts were written
    assert names[3:-1] == sorted(names[3:-1])
    assert {(m.mtime, m.uid, m.gid) for m, _ in members} == {(lock["locked_at"], 0, 0)}
    # The shared base layer is stored once although three images use it.
    blob_names = [n for n in names if n.startswith("images/blobs/")]
    assert len(blob_names) == len(set(blob_names))
    index = json.loads(dict((m.name, d) for m, d in members)["images/index.json"])
    ref_names = sorted(m["annotations"]["org.opencontainers.image.ref.name"] for m in index["manifests"])
    assert ref_names == sorted(["quay.io/e2e/brig:1.0", "quay.io/e2e/galley:1.0", "quay.io/e2e/cannon:1.0",
                                "quay.io/e2e/sftd:2.0", f"quay.io/e2e/nginz@{pinned.digest}"])

    i = run_cli("inspect", out, "--json")
    assert i.rc == 0, i.err
    facts = json.loads(i.out)
    assert facts["totals"]["dedup_saved_bytes"] >= 2 * 200_000  # two extra copies of the base avoided
    assert len(facts["kinds"]["images"]["images"]) == 5
    table = run_cli("inspect", out)
    assert "quay.io/e2e/brig:1.0" in table.out and "deduplication saved" in table.out


def test_two_builds_from_one_lock_are_identical(tmp_path, registry, image_factory):
    image_factory.push(registry, "repro/a", image_factory.simple("a"), tag="1")
    image_factory.push(registry, "repro/b", image_factory.multiarch("b"), tag="1")
    spec = write_spec(tmp_path / "s.yaml", [f"{registry.host}/repro/a:1", f"{registry.host}/repro/b:1"],
                      {registry.host: {"insecure": True}})
    assert run_cli("lock", spec, "--cache-dir", tmp_path / "c0").rc == 0
    a = run_cli("build", spec, "-o", tmp_path / "a.tar.zst", "--locked", "--cache-dir", tmp_path / "c1", "-j", "1")
    b = run_cli("build", spec, "-o", tmp_path / "b.tar.zst", "--locked", "--cache-dir", tmp_path / "c2", "-j", "8")
    assert a.rc == 0 and b.rc == 0, a.err + b.err
    assert (tmp_path / "a.tar.zst").read_bytes() == (tmp_path / "b.tar.zst").read_bytes()
    digest = [line for line in a.out.splitlines() if "content digest" in line]
    assert digest and digest == [line for line in b.out.splitlines() if "content digest" in line]


def test_locked_build_refuses_a_changed_spec(tmp_path, registry, image_factory):
    image_factory.push(registry, "lockd/a", image_factory.simple("a"), tag="1")
    regs = {registry.host: {"insecure": True}}
    spec = write_spec(tmp_path / "s.yaml", [f"{registry.host}/lockd/a:1"], regs)
    assert run_cli("lock", spec, "--cache-dir", tmp_path / "c").rc == 0
    write_spec(spec, [f"{registry.host}/lockd/a:1"], regs, platforms=["linux/arm64"])
    r = run_cli("build", spec, "--locked", "-o", tmp_path / "x.tar.zst", "--cache-dir", tmp_path / "c")
    assert r.rc == 1
    assert "changed since it was locked" in r.err and "Traceback" not in r.err
    assert not (tmp_path / "x.tar.zst").exists()


def _built(tmp_path, registry, image_factory, name="tamper") -> Path:
    image_factory.push(registry, f"{name}/a", image_factory.simple("a", size=50_000), tag="1")
    spec = write_spec(tmp_path / "s.yaml", [f"{registry.host}/{name}/a:1"], {registry.host: {"insecure": True}})
    out = tmp_path / "t.tar.zst"
    assert run_cli("build", spec, "-o", out, "--cache-dir", tmp_path / "c").rc == 0
    out.with_name(out.name + ".sha256").unlink()  # the tampering below would trip the sidecar first
    return out


def test_verify_names_a_changed_byte_inside_a_blob(tmp_path, registry, image_factory):
    out = _built(tmp_path, registry, image_factory)
    victim = flip_largest_blob(out)
    r = run_cli("verify", out)
    assert r.rc == 1
    assert f"BROKEN {victim}" in r.err


def test_verify_names_a_removed_member(tmp_path, registry, image_factory):
    out = _built(tmp_path, registry, image_factory)
    members = read_tar(out)
    removed = members.pop(3)[0].name
    write_tar(out, members)
    r = run_cli("verify", out)
    assert r.rc == 1
    assert f"BROKEN {removed}: listed in checksums.sha256 but missing" in r.err


def test_verify_reports_a_truncated_file(tmp_path, registry, image_factory):
    out = _built(tmp_path, registry, image_factory)
    data = out.read_bytes()
    out.write_bytes(data[: len(data) * 2 // 3])
    r = run_cli("verify", out)
    assert r.rc == 1
    assert "archive is truncated" in r.err and "Traceback" not in r.err


def test_sidecar_catches_a_changed_file(tmp_path, registry, image_factory):
    image_factory.push(registry, "side/a", image_factory.simple("a"), tag="1")
    spec = write_spec(tmp_path / "s.yaml", [f"{registry.host}/side/a:1"], {registry.host: {"insecure": True}})
    out = tmp_path / "t.tar.zst"
    assert run_cli("build", spec, "-o", out, "--cache-dir", tmp_path / "c").rc == 0
    subprocess.run(["sha256sum", "-c", out.name + ".sha256"], cwd=tmp_path, check=True, capture_output=True)
    # Re-encode the same tar at another level: content intact, file different from what was shipped.
    raw = unzstd(out)
    out.write_bytes(zst(raw, level=1, checksum=False))
    r = run_cli("verify", out)
    assert r.rc == 1 and "sidecar" in r.err


def test_skopeo_copies_from_the_unpacked_layout_keeping_the_digest(tmp_path, registry, image_factory):
    pushed = image_factory.push(registry, "interop/brig", image_factory.simple("brig"), tag="5.0")
    spec = write_spec(tmp_path / "s.yaml", ["quay.io/interop/brig:5.0"],
                      {"quay.io": {"mirror": registry.host}, registry.host: {"insecure": True}})
    out = tmp_path / "i.tar.zst"
    assert run_cli("build", spec, "-o", out, "--cache-dir", tmp_path / "c").rc == 0
    unpacked = tmp_path / "unpacked"
    extract(out, unpacked)
    subprocess.run(["sha256sum", "-c", "--quiet", "checksums.sha256"], cwd=unpacked, check=True)
    dest = f"{registry.host}/copied/brig:5.0"
    subprocess.run(["skopeo", "copy", "--dest-tls-verify=false", "--preserve-digests",
                    f"oci:{unpacked}/images:quay.io/interop/brig:5.0", f"docker://{dest}"],
                   check=True, capture_output=True, timeout=120)
    got = subprocess.run(["skopeo", "inspect", "--tls-verify=false", "--format", "{{.Digest}}", f"docker://{dest}"],
                         check=True, capture_output=True, text=True).stdout.strip()
    assert got == pushed.digest


def test_bundle_json_records_sources_and_every_artifact(tmp_path, registry, image_factory):
    out = _built(tmp_path, registry, image_factory, name="meta")
    meta = bundle_json(out)
    assert meta["format"] == "wire-bundle/1"
    assert meta["lock"]["images"][0]["source"] == f"{registry.host}/meta/a"
    paths = {a["path"] for a in meta["artifacts"]}
    assert "images/index.json" in paths and all(a["digest"].startswith("sha256:") for a in meta["artifacts"])
