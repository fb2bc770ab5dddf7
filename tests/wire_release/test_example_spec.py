"""examples/wire.yaml, as shipped, against Wire's real release 5.29.0: its release section, exclusions and value
sets discover every image of its charts, with the only changes the test needs to run offline.

The example's build.json copy names Wire's chart repositories; the test writes a copy of the manifest whose
`repo` is the loopback repository of the packaged release, and excludes (with the fixture's reason) the charts
the example includes that cannot be had here. Nothing else of the example is changed: its `exclude` list, its
`release.charts` value sets and `images` section are the shipped ones.
"""

from __future__ import annotations

import json
import warnings

import pytest
import yaml

from bundler.kinds.images.reference import parse_reference
from tests.support.cli import run_cli
from tests.support.release_values import OPTIONS, render_releases
from tests.support.wire_release import ROOT

EXAMPLE = ROOT / "examples" / "wire.yaml"


def _offline_example(tmp_path, wire_release, repo_url):
    spec = yaml.safe_load(EXAMPLE.read_text())
    manifest = json.loads((EXAMPLE.parent / spec["release"]["manifest"]).read_text())
    for entry in manifest["helmCharts"].values():
        entry["repo"] = repo_url
    (tmp_path / "build.json").write_text(json.dumps(manifest))
    release = spec["release"]
    release["manifest"] = "build.json"
    release.pop("sha256")
    included = set(manifest["helmCharts"]) - set(release["exclude"])
    unobtainable = {n: wire_release.unavailable[n] for n in sorted(included & set(wire_release.unavailable))}
    release["exclude"].update({n: f"test: {why}" for n, why in unobtainable.items()})
    for n in unobtainable:
        release.get("charts", {}).pop(n, None)
    (tmp_path / "wire-values").symlink_to(EXAMPLE.parent / "wire-values")
    # Debian packages, files and the toolchain play no part in discovery; they need the network to lock.
    for key in ("debs", "files", "toolchain"):
        spec.pop(key, None)
    path = tmp_path / "wire.yaml"
    path.write_text(yaml.safe_dump(spec, sort_keys=False))
    return path, included - set(unobtainable), unobtainable


@pytest.fixture(scope="module")
def discovered(tmp_path_factory, wire_release, wire_release_repo):
    tmp_path = tmp_path_factory.mktemp("example-spec")
    path, charts, unobtainable = _offline_example(tmp_path, wire_release, wire_release_repo)
    if unobtainable:
        warnings.warn("charts of examples/wire.yaml not obtainable here, left out: "
                      + "; ".join(f"{n}: {why}" for n, why in unobtainable.items()), stacklevel=1)
    run = run_cli("images", path, "--json", "-j", "2", "--cache-dir", tmp_path / "cache", timeout=600)
    assert run.rc == 0, run.err
    return charts, json.loads(run.out)


def _pod_images(objs: list[dict]) -> set[str]:
    found = set()
    for o in objs:
        if "test" in ((o.get("metadata") or {}).get("annotations") or {}).get("helm.sh/hook", ""):
            continue  # `helm test` pods: never started by an install (Wire's *-integration images)
        spec = (o.get("spec") or {})
        pod = spec.get("template", {}).get("spec") or spec.get("jobTemplate", {}).get("spec", {}).get(
            "template", {}).get("spec") or (spec if o.get("kind") == "Pod" else {})
        for key in ("initContainers", "containers"):
            found |= {str(parse_reference(c["image"])) for c in pod.get(key) or []}
    return found


def test_the_example_spec_discovers_every_image_of_its_charts(discovered):
    charts, out = discovered
    users = {r["chart"] for recs in out["images"].values() for r in recs if r.get("source") != "spec"}
    # Every included chart that names an image was rendered (the *-external charts name none).
    imageless = {"cassandra-external", "elasticsearch-external", "minio-external", "rabbitmq-external",
                 "nginx-ingress-services", "fake-aws"}
    assert charts - imageless <= users, charts - imageless - users
    images = set(out["images"])
    for svc in ("brig", "galley", "cannon", "cargohold", "gundeck", "spar", "background-worker", "nginz",
                "federator"):
        assert f"quay.io/wire/{svc}:5.29.0" in images, svc
    assert not [i for i in images if "integration" in i]
    assert "quay.io/wire/restund:v0.6.0-rc.2" in images
    assert set(out["excluded"]) and all("integration" in e or "nwtesttool" in e for e in out["excluded"])


@pytest.mark.parametrize("options", [{}, OPTIONS], ids=["as-shipped", "options"])
def test_the_bundle_holds_every_image_the_generated_values_pull(discovered, wire_release, tmp_path, options):
    """What `wire-bundle values` makes for the production example pulls only images the example's bundle holds:
    the value sets discovery renders and the values the island installs pin the same images."""
    _, out = discovered
    rendered = render_releases(tmp_path, wire_release, options)
    assert not rendered.failed, rendered.failed
    pulled = {name: _pod_images(objs) for name, objs in rendered.objs.items()}
    missing = {name: sorted(imgs - set(out["images"])) for name, imgs in pulled.items() if imgs - set(out["images"])}
    assert not missing
    assert any("bitnamilegacy/nginx" in i for i in pulled["sftd"])
