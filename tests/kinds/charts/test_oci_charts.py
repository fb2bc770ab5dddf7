"""A chart pushed with `helm push --plain-http` to the local registry, locked and fetched as oci://."""

from __future__ import annotations

import hashlib
import json

import pytest
import requests

from bundler.errors import BundleError
from bundler.kinds.charts.kind import KIND
from tests.kinds.charts.specs import write_spec


@pytest.fixture
def oci_spec(tmp_path, oci_repo, registry):
    def make(version: str = "^0.1"):
        return write_spec(tmp_path, [{"name": "ocichart", "repo": oci_repo, "version": version}],
                          registries={registry.host: {"insecure": True}})
    return make


def test_oci_chart_locks_to_manifest_and_content_layer(oci_spec, ctx, registry):
    (locked,) = KIND.lock(oci_spec(), ctx)
    assert locked["version"] == "0.1.0"
    # What the registry itself says the tag points to, and the layer helm pushed.
    resp = requests.get(f"{registry.url}/v2/charts/ocichart/manifests/0.1.0",
                        headers={"Accept": "application/vnd.oci.image.manifest.v1+json"}, timeout=10)
    manifest = json.loads(resp.content)
    assert locked["manifest"] == "sha256:" + hashlib.sha256(resp.content).hexdigest()
    assert manifest["config"]["mediaType"] == "application/vnd.cncf.helm.config.v1+json"
    (layer,) = [la for la in manifest["layers"]
                if la["mediaType"] == "application/vnd.cncf.helm.chart.content.v1.tar+gzip"]
    assert (locked["digest"], locked["size"]) == (layer["digest"], layer["size"])
    assert locked["url"] == f"oci://{registry.host}/charts/ocichart:0.1.0"
    assert set(ctx.discovered_images) == {f"{registry.host}/wire/oci-pod:1.0"}
    (why,) = ctx.discovered_images[f"{registry.host}/wire/oci-pod:1.0"]
    assert (why["kind"], why["object"], why["container"]) == ("Pod", "oci-pod", "main")


def test_oci_chart_fetch_is_the_pushed_tgz(oci_spec, ctx):
    spec = oci_spec()
    locked = KIND.lock(spec, ctx)
    result = KIND.fetch(spec, locked, ctx)
    (art,) = result.artifacts
    assert art.path == "charts/ocichart-0.1.0.tgz"
    assert art.digest == locked[0]["digest"] == "sha256:" + hashlib.sha256(art.source.read_bytes()).hexdigest()


def test_oci_version_that_does_not_exist(oci_spec, ctx, oci_repo):
    with pytest.raises(BundleError) as err:
        KIND.lock(oci_spec("^1"), ctx)
    assert str(err.value) == f"chart ocichart has no version matching '^1' in {oci_repo} (nearest available: 0.1.0)"


def test_oci_chart_not_in_registry(tmp_path, ctx, registry, oci_repo):
    spec = write_spec(tmp_path, [{"name": "nochart", "repo": oci_repo, "version": "1.0.0"}],
                      registries={registry.host: {"insecure": True}})
    with pytest.raises(BundleError, match=rf"^chart nochart not found at oci://{registry.host}/charts/nochart$"):
        KIND.lock(spec, ctx)
