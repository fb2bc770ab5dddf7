"""A release-like bump across kinds: diff and a delta bundle when an image, a chart, a file and a Debian package
change together.

OLD and NEW differ in: the chart `lib` (0.1.0 -> 0.1.5, packaged by the real helm and served from a loopback
HTTP chart repository) and, under the unchanged chart `app` 1.0.0, the same lib fetched as its `^0.1.0`
dependency (0.1.5 is published between the two builds); the image lib's Job runs (its top layer rebuilt, the
base layer shared; pushed to the session registry); pinned files (one changed, one moved to another path); and
the real Debian package tzdata (the oldest and newest version Debian's bookworm suites offer today, found by
asking the lock for a version that does not exist: its error lists the available ones). An image and a file
stay the same. One module-scoped set of builds (OLD, NEW, and NEW as a delta on OLD) serves every test here.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from bundler.kinds.charts.render import find_helm, helm_env
from tests.kinds.charts import chartsrc
from tests.support import specs
from tests.support.archive import members, unpacked_tree
from tests.support.charts import SmallRepo
from tests.support.cli import cli_ok, run_cli
from tests.support.fileserver import FileServer
from tests.support.images import ImageFactory

pytestmark = pytest.mark.slow  # three builds and a lock against Debian's archive: about 15 s

CHART = "lib"
DEB = "tzdata"  # small, and needs nothing a minimal Debian system lacks (debconf)


def _deb_versions(work: Path, cache: Path) -> tuple[str, str]:
    """The oldest and newest version of DEB in bookworm and its updates and security suites, from the one-line
    error a pin to a missing version gives (`... (available: v1, v2, ...)`, in Debian order)."""
    spec = specs.write_spec(work / "probe.yaml", debs=specs.bookworm_debs([f"{DEB}=0~none"]))
    r = run_cli("lock", spec, "--cache-dir", cache, timeout=600)
    found = re.search(r"\(available: ([^)]*)\)", r.err)
    assert r.rc == 1 and found, r.err
    versions = found.group(1).split(", ")
    assert len(versions) >= 2, f"Debian's bookworm suites offer only {DEB} {versions[0]}: pick another package"
    return versions[0], versions[-1]


@pytest.fixture(scope="module")
def bump(tmp_path_factory, registry):
    work = tmp_path_factory.mktemp("delta-kinds")
    cache = specs.CACHE / "debs-cache"  # apt's lists and the .debs, kept across runs as the debs tests keep them
    cache.mkdir(parents=True, exist_ok=True)
    old_deb, new_deb = _deb_versions(work, cache)

    # The chart's Job runs {reg}/wire/lib-migrate:<chart version>: the chart bump is also the image bump.
    reg = f"{registry.host}/deltakinds"
    f = ImageFactory("deltakinds")
    base = f.layer("base", 200_000)
    images = {"0.1.0": f.image([base, f.layer("top-1", 100_000)]), "0.1.5": f.image([base, f.layer("top-2", 120_000)])}
    for version, image in images.items():
        f.push(registry, "deltakinds/wire/lib-migrate", image, tag=version)
    other = f.image([base, f.layer("other", 50_000)])
    f.push(registry, "deltakinds/other", other, tag="1")
    # `app` 1.0.0 needs lib ^0.1.0 without vendoring it: OLD fetches 0.1.0, NEW 0.1.5, published in between.
    charts = SmallRepo(work / "charts", find_helm(), helm_env(work / "helm"))
    charts.publish(chartsrc.lib_chart(charts.src, "0.1.0", reg))
    charts.publish(chartsrc.with_dependency(charts.src, "app", "1.0.0", "lib", "^0.1.0", charts.url), "app/charts/")

    # notes changes; keep.bin stays; the same bytes move from tools/agent-1.tgz to tools/agent.tgz.
    keep, moved = b"unchanged\n" * 1000, b"moved\n" * 1000
    content = {"old": {"docs/notes.txt": b"release notes 1\n", "keep.bin": keep, "tools/agent-1.tgz": moved},
               "new": {"docs/notes.txt": b"release notes 2\n", "keep.bin": keep, "tools/agent.tgz": moved}}
    file_server = FileServer({f"/{v}/{p}": data for v, files in content.items() for p, data in files.items()})

    out: dict = {"work": work, "images": images, "other": other, "debs": (old_deb, new_deb), "files": content}
    try:
        for name, chart, deb in [("old", "0.1.0", old_deb), ("new", "0.1.5", new_deb)]:
            out[name + ".spec"] = specs.write_spec(
                work / f"{name}.yaml", name="delta-kinds",
                registries={registry.host: {"insecure": True}},
                images={"refs": [f"{registry.host}/deltakinds/other:1"]},
                charts=[{"name": CHART, "repo": charts.url, "version": chart},
                        {"name": "app", "repo": charts.url, "version": "1.0.0"}],
                debs=specs.bookworm_debs([f"{DEB}={deb}"]),
                files=specs.pinned_files(f"{file_server.url}/{name}", content[name]),
            )
        for name, spec, extra in [("old", out["old.spec"], []), ("new", out["new.spec"], []),
                                  ("delta", out["new.spec"], ["--base", work / "old.tar.zst"])]:
            if name == "new":
                charts.publish(chartsrc.lib_chart(charts.src, "0.1.5", reg))
            out[name] = work / f"{name}.tar.zst"
            cli_ok("build", spec, "-o", out[name], "--cache-dir", cache, "-q", *extra, timeout=600)
    finally:
        charts.server.close()
        file_server.close()
    return out


def test_diff_names_each_kinds_change_with_versions_and_new_bytes(bump):
    out = json.loads(cli_ok("diff", bump["old"], bump["new"], "--json"))
    kinds = out["kinds"]
    old_image, new_image = bump["images"]["0.1.0"], bump["images"]["0.1.5"]
    (image,) = kinds["images"]["changed"]
    assert image["name"].endswith("/deltakinds/wire/lib-migrate")
    assert (image["old_digest"], image["new_digest"]) == (old_image.digest, new_image.digest)
    # Only the new top layer, config and manifest: the shared base layer is in OLD already.
    assert image["new_bytes"] == new_image.layers[-1].size + new_image.config.size + len(new_image.manifest)
    # The dependency fetched beside the unchanged `app` moved on too: the delta carries it, diff names it.
    assert kinds["charts"]["changed"] == [{"name": "app/lib", "old_version": "0.1.0", "new_version": "0.1.5"},
                                          {"name": CHART, "old_version": "0.1.0", "new_version": "0.1.5"}]
    files = bump["files"]
    notes = [specs.sha256(files[v]["docs/notes.txt"]) for v in ("old", "new")]
    moved = specs.sha256(files["new"]["tools/agent.tgz"])
    assert kinds["files"] == {"changed": [{"name": "docs/notes.txt", "old_sha256": notes[0], "new_sha256": notes[1]}],
                              "added": [{"name": "tools/agent.tgz", "sha256": moved}],
                              "removed": [{"name": "tools/agent-1.tgz", "sha256": moved}]}
    old_deb, new_deb = bump["debs"]
    assert kinds["debs"]["changed"] == [{"name": f"bookworm/{DEB}:all", "old_version": old_deb,
                                         "new_version": new_deb}]
    for name, kind in kinds.items():
        assert name == "files" or not (kind["added"] or kind["removed"])
    # What diff says a delta carries is what build --base writes (compressed: the keys and JSON shrink).
    assert 0.9 * out["delta"]["bytes"] <= bump["delta"].stat().st_size <= out["delta"]["bytes"] + 64_000


def _artifacts(archive: Path) -> dict[str, dict]:
    head = json.loads(members(archive)["bundle.json"])
    return {a["path"]: a for a in head["artifacts"]}


def test_the_delta_carries_only_the_new_members(bump):
    new, old = _artifacts(bump["new"]), _artifacts(bump["old"])
    carried = {path for path in members(bump["delta"]) if path in new}
    new_image = bump["images"]["0.1.5"]
    (deb,) = [path for path, a in new.items() if a["kind"] == "deb"]
    assert deb.endswith(f"/{DEB}_{bump['debs'][1].split(':')[-1]}_all.deb") and deb not in old
    assert carried == {
        # The image: its new top layer, config and manifest; and the image layout's index naming it.
        *(f"images/blobs/sha256/{d.split(':')[1]}"
          for d in (new_image.digest, new_image.config.digest, new_image.layers[-1].digest)),
        "images/index.json",
        "charts/lib-0.1.5.tgz",
        "files/docs/notes.txt",  # not the moved file: its bytes are in OLD, at another path
        # The new package, and the bundle's apt repository index and signatures that list it.
        deb, *(f"debs/dists/bookworm/{m}" for m in ("InRelease", "Release", "Release.gpg",
                                                    "main/binary-amd64/Packages", "main/binary-amd64/Packages.gz")),
        "sbom.cdx.json",
        "signing-key.asc",  # the bundle's public key travels with every archive, delta or not
    }
    # Nothing else OLD already holds: not the shared base layer, the unchanged image, the unchanged file.
    assert [p for p in carried if p in old and old[p]["digest"] == new[p]["digest"]] == ["signing-key.asc"]
    from_base = set(json.loads(members(bump["delta"])["delta.json"])["from_base"])
    other = {f"images/blobs/sha256/{b.digest.split(':')[1]}" for b in bump["other"].blobs}
    assert {"files/keep.bin", "files/tools/agent.tgz", *other} <= from_base


def test_the_delta_onto_the_unpacked_old_gives_exactly_the_new(bump, tmp_path):
    island, full = tmp_path / "bundle", tmp_path / "full"
    cli_ok("unpack", bump["old"], "--to", island)
    cli_ok("unpack", bump["new"], "--to", full)
    before = unpacked_tree(island)
    cli_ok("unpack", bump["delta"], "--to", island)
    after = unpacked_tree(island)
    assert after == unpacked_tree(full)
    changed = {p for p in after if before.get(p) != after[p]}
    assert {"files/docs/notes.txt", "charts/lib-0.1.5.tgz", "files/tools/agent.tgz"} <= changed
    assert "files/keep.bin" not in changed and "files/tools/agent-1.tgz" not in after
    assert any(p.endswith(".deb") for p in changed) and "charts/lib-0.1.0.tgz" not in after
