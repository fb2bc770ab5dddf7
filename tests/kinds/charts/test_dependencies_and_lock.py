"""Dependencies from other repositories (an OCI registry), dependency errors, and what a lock pins."""

from __future__ import annotations

import json
import shutil

import pytest

from bundler.errors import BundleError
from bundler.island.charts import installable_chart
from bundler.kinds.charts.kind import KIND
from bundler.kinds.charts.render import template
from tests.kinds.charts import chartsrc
from tests.kinds.charts.specs import write_spec
from tests.support.cli import run_cli


def test_dependency_from_an_oci_registry_is_fetched_and_rendered(tmp_path, small_repo, oci_repo, registry, ctx):
    chart = chartsrc.with_dependency(small_repo.src, "umbrella", "3.0.0", "ocichart", "~0.1.0", oci_repo)
    small_repo.publish(chart, strip="umbrella/charts/ocichart/")
    spec = write_spec(tmp_path, [{"name": "umbrella", "repo": small_repo.url, "version": "3.0.0"}],
                      registries={registry.host: {"insecure": True}})
    (locked,) = KIND.lock(spec, ctx)
    (dep,) = locked.dependencies
    assert (dep.name, dep.version, dep.repo) == ("ocichart", "0.1.0", oci_repo)
    assert dep.manifest.startswith("sha256:")
    (why,) = ctx.discovered_images[f"{registry.host}/wire/oci-pod:1.0"]
    assert (why["chart"], why["template"]) == ("umbrella", "umbrella/charts/ocichart/templates/pod.yaml")
    paths = sorted(a.path for a in KIND.fetch(spec, [locked], ctx).artifacts)
    assert paths == ["charts/ocichart-0.1.0.tgz", "charts/umbrella-3.0.0.tgz"]


def test_missing_dependency_version_names_the_parent(tmp_path, small_repo, chart_repo, ctx):
    chart = chartsrc.with_dependency(small_repo.src, "umbrella", "3.0.0", "lib", "^7", chart_repo.url)
    small_repo.publish(chart, strip="umbrella/charts/lib/")
    spec = write_spec(tmp_path, [{"name": "umbrella", "repo": small_repo.url, "version": "3.0.0"}])
    with pytest.raises(BundleError) as err:
        KIND.lock(spec, ctx)
    assert str(err.value) == (f"chart umbrella 3.0.0: dependency lib ^7 of umbrella is missing from the package "
                              f"and could not be fetched: chart lib has no version matching '^7' in "
                              f"{chart_repo.url} (nearest available: 0.2.0, 0.1.5, 0.1.0)")


def test_a_vendored_subcharts_missing_dependency_is_fetched_and_placed_inside_it(tmp_path, small_repo, chart_repo,
                                                                                 ctx, helm_bin):
    chart = chartsrc.with_nested_dependency(small_repo.src, "umbrella", "3.0.0", "lib", "^0.1.0", chart_repo.url)
    small_repo.publish(chart, strip="umbrella/charts/mid/charts/lib/")
    spec = write_spec(tmp_path, [{"name": "umbrella", "repo": small_repo.url, "version": "3.0.0"}])
    (locked,) = KIND.lock(spec, ctx)
    (dep,) = locked.dependencies
    assert (dep.name, dep.version, dep.within) == ("lib", "0.1.5", ["mid"])
    (why,) = ctx.discovered_images[f"{chart_repo.reg}/wire/lib-migrate:0.1.5"]
    assert why["template"] == "umbrella/charts/mid/charts/lib/templates/job.yaml"
    # The bundle says where it goes, and the island puts it there: rendered from the bundle's files alone.
    result = KIND.fetch(spec, [locked], ctx)
    (summary_dep,) = result.summary[0].dependencies
    assert summary_dep.parent == "charts/umbrella-3.0.0.tgz" and summary_dep.within == ["mid"]
    bundle = tmp_path / "bundle"
    for a in result.artifacts:
        (bundle / a.path).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(a.source, bundle / a.path)
    chart_dir = installable_chart(bundle, result.summary[0], tmp_path / "island")
    assert (chart_dir / "charts" / "mid" / "charts" / "lib" / "Chart.yaml").is_file()
    text = template(helm_bin, chart_dir, [], what="umbrella", home=tmp_path / "island-helm")
    assert f"image: {chart_repo.reg}/wire/lib-migrate:0.1.5" in text


def test_a_missing_nested_dependency_that_cannot_be_fetched_names_chart_subchart_and_dependency(
        tmp_path, small_repo, ctx):
    from tests.support.netutil import free_port

    gone = f"http://127.0.0.1:{free_port()}"
    chart = chartsrc.with_nested_dependency(small_repo.src, "umbrella", "3.0.0", "lib", "^0.1.0", gone)
    small_repo.publish(chart, strip="umbrella/charts/mid/charts/lib/")
    spec = write_spec(tmp_path, [{"name": "umbrella", "repo": small_repo.url, "version": "3.0.0"}])
    with pytest.raises(BundleError) as err:
        KIND.lock(spec, ctx)
    assert str(err.value) == ("chart umbrella 3.0.0: dependency lib ^0.1.0 of umbrella/mid is missing from the "
                              f"package and could not be fetched: chart repository {gone}: connection refused")


def test_unvendored_dependency_without_repository(tmp_path, small_repo, ctx):
    chart = chartsrc.with_dependency(small_repo.src, "umbrella", "3.0.0", "gone", "1.0.0", "file://../gone")
    small_repo.publish(chart, strip="umbrella/charts/gone/")
    spec = write_spec(tmp_path, [{"name": "umbrella", "repo": small_repo.url, "version": "3.0.0"}])
    with pytest.raises(BundleError, match=r"^chart umbrella 3.0.0: dependency gone 1.0.0 of umbrella "
                                          r"\(file://../gone\) is missing from the package and has no "
                                          r"http\(s\):// or oci:// repository"):
        KIND.lock(spec, ctx)


def test_changed_values_file_after_lock_is_refused(tmp_path, chart_repo, ctx):
    spec = write_spec(tmp_path, [{"name": "parent", "repo": chart_repo.url, "version": "1.0.0",
                                  "values": ["values/defaults.yaml"]}])
    locked = KIND.lock(spec, ctx)
    (tmp_path / "values" / "defaults.yaml").write_text("federation: {enabled: true}\n")
    with pytest.raises(BundleError, match=r"^chart parent: values values/defaults.yaml changed since "
                                          r"spec.lock.json was written.*run `wire-bundle lock"):
        KIND.fetch(spec, locked, ctx)


def test_images_command_follows_the_lock_until_the_spec_changes(tmp_path, small_repo, registry, image_factory):
    small_repo.publish(chartsrc.tiny_chart(small_repo.src, "1.0.0", registry.host))
    image_factory.push(registry, "wire/tiny", image_factory.simple("tiny"), tag="1.0.0")
    spec_path = tmp_path / "s.yaml"
    insecure = {registry.host: {"insecure": True}}
    spec_path.write_text(json.dumps({"version": 1, "registries": insecure, "charts": [
        {"name": "tiny", "repo": small_repo.url, "version": "^1"}]}))
    cache = tmp_path / "cache"
    locked = run_cli("lock", spec_path, "--cache-dir", cache)
    assert locked.rc == 0, locked.err
    small_repo.publish(chartsrc.tiny_chart(small_repo.src, "1.1.0", registry.host))

    pinned = run_cli("images", spec_path, "--json", "--cache-dir", cache)
    assert pinned.rc == 0, pinned.err
    assert list(json.loads(pinned.out)["images"]) == [f"{registry.host}/wire/tiny:1.0.0"]

    spec_path.write_text(json.dumps({"version": 1, "name": "changed", "registries": insecure, "charts": [
        {"name": "tiny", "repo": small_repo.url, "version": "^1"}]}))
    fresh = run_cli("images", spec_path, "--json", "--cache-dir", cache)
    assert list(json.loads(fresh.out)["images"]) == [f"{registry.host}/wire/tiny:1.1.0"]
