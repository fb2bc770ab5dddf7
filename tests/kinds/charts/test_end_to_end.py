"""Charts through the real CLI: `wire-bundle images --why/--json`, then `build`, `verify` and `inspect`, with the
images the charts use pulled from the test registry (stand-in images pushed under the names they render)."""

from __future__ import annotations

import hashlib
import json

import yaml

from bundler.island.charts import installable_chart
from bundler.kinds.charts.discover import images_in_manifests
from bundler.kinds.charts.render import template
from bundler.kinds.charts.summary import ChartSummary
from bundler.kinds.images.reference import parse_reference
from tests.support import specs
from tests.support.archive import read_tar
from tests.support.cli import run_cli

CHART_IMAGES = ["brig:5.0", "init:1.0", "backup:2.1", "sub-worker:0.3", "lib-migrate:0.1.5", "federator:5.0",
                "oci-pod:1.0", "sub-helper:0.3"]


def write_spec(tmp_path, chart_repo, oci_repo, registry) -> tuple:
    (tmp_path / "values").mkdir()
    (tmp_path / "values" / "federation.yaml").write_text("federation:\n  enabled: true\n")
    return specs.write_spec(
        tmp_path / "wire.yaml", name="charts-e2e",
        registries={registry.host: {"insecure": True}},
        images={"refs": [f"{registry.host}/wire/extra:1.0"], "exclude": ["*/wire/brig-tools:*"]},
        charts=[
            {"name": "parent", "repo": chart_repo.url, "version": "^1", "values": [[], "values/federation.yaml"]},
            {"name": "ocichart", "repo": oci_repo, "version": "0.1.0"},
        ],
    )


def test_images_build_verify_inspect(tmp_path, chart_repo, oci_repo, registry, image_factory, helm_bin):
    reg = registry.host
    for name in [*CHART_IMAGES, "extra:1.0"]:
        repo, tag = name.split(":")
        image_factory.push(registry, f"wire/{repo}", image_factory.simple(repo), tag=tag)
    spec = write_spec(tmp_path, chart_repo, oci_repo, registry)
    cache = tmp_path / "cache"

    listed = run_cli("images", spec, "--json", "--cache-dir", cache)
    assert listed.rc == 0, listed.err
    report = json.loads(listed.out)
    expected = sorted([f"{reg}/wire/{n}" for n in CHART_IMAGES] + [f"{reg}/wire/extra:1.0"])
    assert sorted(report["images"]) == expected
    assert list(report["excluded"]) == [f"{reg}/wire/brig-tools:5.0"]
    assert report["images"][f"{reg}/wire/extra:1.0"] == [{"source": "spec", "image": f"{reg}/wire/extra:1.0"}]
    assert report["images"][f"{reg}/wire/oci-pod:1.0"][0]["chart"] == "ocichart"
    assert report["images"][f"{reg}/wire/brig:5.0"][0]["values"] == ["defaults", "values/federation.yaml"]
    assert report["images"][f"{reg}/wire/federator:5.0"][0]["values"] == ["values/federation.yaml"]

    why = run_cli("images", spec, "--why", "--cache-dir", cache, env={"COLUMNS": "300"})
    assert why.rc == 0, why.err
    line = next(ln for ln in why.out.splitlines() if f"{reg}/wire/init:1.0" in ln)
    assert "parent 1.0.0" in line and "parent/templates/deployment.yaml" in line
    assert "Deployment/brig" in line and "wait-for-db (initContainers)" in line
    assert "excluded by images.exclude" in why.out

    out = tmp_path / "out" / "bundle.tar.zst"
    built = run_cli("build", spec, "-o", out, "--cache-dir", cache)
    assert built.rc == 0, built.err
    lock = json.loads((tmp_path / "wire.lock.json").read_text())
    assert [(c["name"], c["version"]) for c in lock["charts"]] == [("ocichart", "0.1.0"), ("parent", "1.0.0")]
    assert sorted(i["ref"] for i in lock["images"]) == expected

    members = {m.name: data for m, data in read_tar(out)}
    for name, source in [("parent-1.0.0.tgz", chart_repo.root / "parent-1.0.0.tgz"),
                         ("lib-0.1.5.tgz", chart_repo.root / "lib-0.1.5.tgz")]:
        assert members[f"charts/{name}"] == source.read_bytes()
    oci_digest = "sha256:" + hashlib.sha256(members["charts/ocichart-0.1.0.tgz"]).hexdigest()
    assert oci_digest == next(c["digest"] for c in lock["charts"] if c["name"] == "ocichart")
    meta = json.loads(members["bundle.json"])
    charts = {c["name"]: c for c in meta["kinds"]["charts"]}
    assert charts["parent"]["digest"] == lock["charts"][1]["digest"]
    assert charts["parent"]["dependencies"][0]["path"] == "charts/lib-0.1.5.tgz"
    index = json.loads(members["images/index.json"])
    names = {m["annotations"]["org.opencontainers.image.ref.name"] for m in index["manifests"]}
    assert names == set(expected)

    # The SBOM: each chart a component with its digest and download URL; a chart as the spec names it depends on
    # its subcharts and on every image discovery found rendering it (its subcharts' templates included).
    sbom = json.loads(members["sbom.cdx.json"])
    components = {c["bom-ref"]: c for c in sbom["components"]}
    parent = components["chart:charts/parent-1.0.0.tgz"]
    assert parent["hashes"] == [{"alg": "SHA-256", "content": charts["parent"]["digest"].removeprefix("sha256:")}]
    assert parent["purl"].startswith("pkg:generic/parent@1.0.0?download_url=")
    depends = {d["ref"]: set(d.get("dependsOn", [])) for d in sbom["dependencies"]}
    assert depends["chart:charts/parent-1.0.0.tgz"] == {"chart:charts/lib-0.1.5.tgz", *(
        f"image:{i}" for i in charts["parent"]["images"])}
    assert {f"{reg}/wire/brig:5.0", f"{reg}/wire/lib-migrate:0.1.5"} <= set(charts["parent"]["images"])
    assert depends["chart:charts/lib-0.1.5.tgz"] == set()
    assert depends["chart:charts/ocichart-0.1.0.tgz"] == {f"image:{reg}/wire/oci-pod:1.0"}
    assert f"image:{reg}/wire/brig-tools:5.0" not in components  # excluded: not in the bundle, not in its SBOM

    # The island's view: every chart rebuilt from the bundle alone renders only images the bundle holds.
    bundle_dir = tmp_path / "island"
    for name, data in members.items():
        (bundle_dir / name).parent.mkdir(parents=True, exist_ok=True)
        (bundle_dir / name).write_bytes(data)
    rendered = set()
    for chart in meta["kinds"]["charts"]:
        chart_dir = installable_chart(bundle_dir, ChartSummary.model_validate(chart), tmp_path / "installable")
        for values in ([], [tmp_path / "values" / "federation.yaml"]):
            text = template(helm_bin, chart_dir, values, what=chart["name"], home=tmp_path / "island-helm")
            rendered |= {str(parse_reference(f.image)) for f in images_in_manifests(text, chart["name"])}
    assert f"{reg}/wire/lib-migrate:0.1.5" in rendered and f"{reg}/wire/federator:5.0" in rendered
    assert rendered <= names

    verified = run_cli("verify", out)
    assert verified.rc == 0, verified.err
    inspected = run_cli("inspect", out, env={"COLUMNS": "300"})
    assert inspected.rc == 0, inspected.err
    assert "Helm charts" in inspected.out and "ocichart" in inspected.out and "└ lib" in inspected.out


def test_build_without_helm_fails_with_one_line_and_writes_nothing(tmp_path, chart_repo, oci_repo, registry):
    spec = write_spec(tmp_path, chart_repo, oci_repo, registry)
    out = tmp_path / "out.tar.zst"
    r = run_cli("build", spec, "-o", out, "--cache-dir", tmp_path / "cache", "--helm", tmp_path / "nohelm")
    assert r.rc != 0
    errors = [ln for ln in r.err.splitlines() if ln.startswith("error:")]
    assert len(errors) == 1 and "Traceback" not in r.err, r.err
    assert errors[0].startswith(f"error: helm not found at {tmp_path / 'nohelm'}: run `make deps`")
    assert not out.exists() and not (tmp_path / "wire.lock.json").exists()


def test_images_cli_bad_version_is_one_line(tmp_path, chart_repo):
    spec = tmp_path / "s.yaml"
    spec.write_text(yaml.safe_dump({"version": 1, "charts": [
        {"name": "tiny", "repo": chart_repo.url, "version": "~1.4"}]}))
    r = run_cli("images", spec, "--cache-dir", tmp_path / "cache")
    assert r.rc == 1
    assert r.err.strip().splitlines()[-1] == (f"error: chart tiny has no version matching '~1.4' in {chart_repo.url} "
                             "(nearest available: 2.0.0, 1.10.0, 1.3.4, 1.2.0)")
