"""Mechanism tests for the spec's release section: charts taken from a Wire release manifest (wire-builds'
build.json shape), by path and by URL, against a loopback HTTP chart repository holding small charts packaged by
real helm. Wire's real manifest is checked against examples/wire.yaml in tests/kinds/files/test_wire_release_example.py.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from bundler.bundle import transport as fetch
from bundler.bundle.lock import Lock, write_lock
from bundler.bundle.spec import load_spec
from bundler.errors import BundleError, SpecError
from bundler.kinds.charts import release_manifest
from bundler.kinds.charts.kind import KIND
from bundler.kinds.charts.render import helm_env
from tests.kinds.charts import chartsrc
from tests.support.charts import ChartServer, SmallRepo
from tests.support.cli import run_cli
from tests.support.httpserver import HTTPServer, QuietHandler

REG = "registry.test"  # only rendered, never pulled


def valued_chart(src: Path) -> Path:
    """A chart whose one image comes from its values, so a value set shows in what discovery finds."""
    root = src / "valued"
    (root / "templates").mkdir(parents=True)
    (root / "Chart.yaml").write_text("apiVersion: v2\nname: valued\nversion: 1.0.0\n")
    (root / "values.yaml").write_text(f"image: {REG}/wire/valued:default\n")
    (root / "templates" / "pod.yaml").write_text(
        "apiVersion: v1\nkind: Pod\nmetadata: {name: valued}\n"
        "spec:\n  containers:\n    - {name: valued, image: '{{ .Values.image }}'}\n")
    return root


@pytest.fixture(scope="module")
def repo(tmp_path_factory, helm_bin) -> Iterator[SmallRepo]:
    root = tmp_path_factory.mktemp("release-repo") / "repo"
    root.mkdir()
    r = SmallRepo(root, helm_bin, helm_env(root.parent / "helmhome"))
    for v in ("1.2.0", "1.3.4"):
        r.publish(chartsrc.tiny_chart(r.src, v, REG))
    r.publish(chartsrc.lib_chart(r.src, "0.1.0", REG))
    r.publish(valued_chart(r.src))
    yield r
    r.server.close()


def manifest(repo_url: str, version: str = "1.0.0-1", tiny: str = "1.2.0") -> dict:
    """A release manifest in wire-builds' shape; `demo` is in no repository (it is always excluded here)."""
    meta = {"commit": "0" * 40}
    return {"version": version, "helmCharts": {
        "tiny": {"repo": repo_url, "version": tiny, "meta": meta},
        "lib": {"repo": repo_url, "version": "0.1.0", "meta": meta},
        "valued": {"repo": repo_url, "version": "1.0.0"},
        "demo": {"repo": repo_url, "version": "9.9.9"},
    }}


def write(tmp_path: Path, release: dict, charts: list | None = None, build: dict | str | None = None,
          name: str = "build.json") -> Path:
    if build is not None:
        (tmp_path / name).write_text(build if isinstance(build, str) else json.dumps(build, indent=2))
    (tmp_path / "values").mkdir(exist_ok=True)
    (tmp_path / "values" / "v2.yaml").write_text(f"image: {REG}/wire/valued:2\n")
    doc = {"version": 1, "name": "release-test", "release": release, "charts": charts or []}
    path = tmp_path / "spec.yaml"
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    return path


RELEASE = {"manifest": "build.json", "exclude": {"demo": "a demo chart, not for an island"},
           "charts": {"tiny": {"version": "1.3.4"}, "valued": {"values": ["values/v2.yaml"]}}}


def test_path_manifest_expands_with_exclusions_and_overrides(tmp_path, repo, ctx):
    spec = load_spec(write(tmp_path, RELEASE, build=manifest(repo.url)))
    entries = {c.name: c for c in spec.spec.charts}
    assert sorted(entries) == ["lib", "tiny", "valued"]
    assert entries["tiny"].version == "1.3.4" and entries["lib"].version == "0.1.0"
    assert spec.manifest is not None and spec.manifest.version == "1.0.0-1"

    locked = KIND.lock(spec, ctx)
    by_name = {c.name: c for c in locked}
    assert by_name["tiny"].version == "1.3.4"
    digest = hashlib.sha256((tmp_path / "build.json").read_bytes()).hexdigest()
    for c in locked:
        assert c.release.to_json() == {"manifest": "build.json", "sha256": digest, "version": "1.0.0-1"}
    # The override's value set is the one discovery rendered: the values file's image, not the chart default.
    assert [r.image for r in by_name["valued"].images] == [f"{REG}/wire/valued:2"]
    assert f"{REG}/wire/tiny:1.3.4" in ctx.discovered_images
    assert not any("demo" in m for m in ctx.messages if m.startswith("chart "))
    assert any("release manifest build.json: version 1.0.0-1" in m and "3 of its 4 charts" in m
               for m in ctx.messages)
    KIND.fetch(spec, locked, ctx)  # the same manifest: accepted


def test_url_manifest_with_a_pin(tmp_path, repo, ctx):
    body = json.dumps(manifest(repo.url)).encode()
    (repo.root / "build.json").write_bytes(body)
    url = repo.url + "/build.json"
    release = {**RELEASE, "manifest": url, "sha256": hashlib.sha256(body).hexdigest()}
    spec = load_spec(write(tmp_path, release))
    assert sorted(c.name for c in spec.spec.charts) == ["lib", "tiny", "valued"]
    locked = KIND.lock(spec, ctx)
    assert {c.release.manifest for c in locked} == {url}


def test_explicit_charts_sit_beside_the_manifest_and_the_digest_ignores_the_manifests_content(tmp_path, repo):
    spec = load_spec(write(tmp_path, {"manifest": "build.json", "exclude": {"demo": "demo", "lib": "not used"}},
                           charts=[{"name": "extra", "repo": repo.url, "version": "^1"}], build=manifest(repo.url)))
    assert [c.name for c in spec.spec.charts] == ["extra", "tiny", "valued"]
    assert spec.spec.release_charts == {"tiny", "valued"}
    before = spec.spec.digest()
    (tmp_path / "build.json").write_text(json.dumps(manifest(repo.url, tiny="1.3.4")))
    assert load_spec(tmp_path / "spec.yaml").spec.digest() == before


def test_changed_manifest_is_refused_by_fetch_and_noticed_by_a_later_lock(tmp_path, repo, ctx):
    spec = load_spec(write(tmp_path, RELEASE, build=manifest(repo.url)))
    locked = KIND.lock(spec, ctx)
    write_lock(spec.lock_path, Lock(version=1, spec_digest=spec.spec.digest(), locked_at=0, tool="wire-bundle test",
                                    charts=locked))
    (tmp_path / "build.json").write_text(json.dumps(manifest(repo.url, version="1.0.0-2")))
    again = load_spec(tmp_path / "spec.yaml")
    with pytest.raises(BundleError, match=r"^release manifest build.json changed since spec.lock.json was written "
                                          r"\(version 1.0.0-1, sha256 [0-9a-f]{12}\.\.\. -> version 1.0.0-2, "
                                          r"sha256 [0-9a-f]{12}\.\.\.\), so its charts may differ: run `wire-bundle "
                                          r"lock .*spec.yaml`$"):
        KIND.fetch(again, locked, ctx)
    relocked = KIND.lock(again, ctx)
    assert any("release manifest build.json changed since spec.lock.json was written (version 1.0.0-1 -> "
               "1.0.0-2)" in m for m in ctx.messages)
    assert {c.release.version for c in relocked} == {"1.0.0-2"}
    KIND.fetch(again, relocked, ctx)


@pytest.mark.parametrize(("release", "build", "charts", "message"), [
    ({"manifest": "build.json"}, "{not json", None,
     r"spec.yaml:4: release.manifest: build.json: not JSON \(Expecting property name"),
    ({"manifest": "build.json"}, {"version": "1", "helmCharts": ["tiny"]}, None,
     r"spec.yaml:4: release.manifest: build.json: not a release manifest: `helmCharts` is missing, empty or not"),
    ({"manifest": "build.json"}, {"version": "1", "helmCharts": {"tiny": {"version": "1.2.0"}}}, None,
     r"spec.yaml:4: release.manifest: build.json: helmCharts.tiny.repo: missing or not a string"),
    ({"manifest": "build.json"}, {"version": "1", "helmCharts": {"tiny": {"repo": "ftp://x", "version": "1"}}},
     None, r"spec.yaml:4: release.manifest: build.json: helmCharts.tiny: repo must start with https://"),
    ({"manifest": "missing.json"}, None, None, r"spec.yaml:4: release.manifest: missing.json: no such file"),
    ({"manifest": "build.json", "exclude": {"tiyn": "typo"}}, "MANIFEST", None,
     r"spec.yaml:6: release.exclude.tiyn: chart tiyn is not in the release manifest build.json \(version "
     r"1.0.0-1\) \(did you mean tiny\?\)"),
    ({"manifest": "build.json", "charts": {"valud": {"version": "1"}}}, "MANIFEST", None,
     r"spec.yaml:6: release.charts.valud: chart valud is not in the release manifest"),
    ({"manifest": "build.json", "exclude": {"demo": " "}}, "MANIFEST", None,
     r"spec.yaml:6: release.exclude.demo: chart demo: say why it is left out"),
    ({"manifest": "build.json", "exclude": {"demo": None}}, "MANIFEST", None,
     r"spec.yaml:6: release.exclude.demo: Input should be a valid string"),
    ({"manifest": "build.json", "exclude": {"tiny": "x"}, "charts": {"tiny": {"version": "1"}}}, "MANIFEST", None,
     r"spec.yaml:8: release.charts.tiny: chart tiny is excluded under release.exclude"),
    ({"manifest": "build.json", "charts": {"tiny": {"versoin": "1"}}}, "MANIFEST", None,
     r"spec.yaml:7: release.charts.tiny.versoin: unknown key"),
    ({"manifest": "build.json", "sha256": "ABC"}, "MANIFEST", None,
     r"spec.yaml:5: release.sha256: sha256 must be 64 lowercase hex digits"),
    ({"manifest": "build.json", "sha256": "0" * 64}, "MANIFEST", None,
     r"spec.yaml:5: release.sha256: release manifest build.json has sha256 [0-9a-f]{64}, not the pinned 0{64}"),
    ({"manifest": "file:///etc/build.json"}, None, None, r"spec.yaml:4: release.manifest: manifest URL must be"),
    ({"manifest": "build.json", "exclude": {"demo": "d"}}, "MANIFEST", [{"name": "tiny", "repo": "https://x",
                                                                          "version": "1"}],
     r"spec.yaml:\d+: charts\[0\].name: chart tiny comes from the release manifest build.json \(version 1.0.0-1\): "
     r"change it under release.charts.tiny"),
])
def test_bad_release_sections(tmp_path, release, build, charts, message):
    if build == "MANIFEST":
        build = manifest("https://charts.example")
    path = write(tmp_path, release, charts=charts, build=build)
    with pytest.raises(SpecError, match=message):
        load_spec(path)


def test_bad_manifests_on_the_command_line_give_one_line(tmp_path):
    """Not JSON, a pin mismatch and a 404 from a loopback server: one line each, non-zero exit, no traceback."""
    served = tmp_path / "served"
    served.mkdir()
    (served / "build.json").write_text(json.dumps(manifest("https://charts.example")))
    server = ChartServer(served)
    try:
        cases = [
            ({"manifest": "build.json"}, "[1, 2]", "release.manifest: build.json: not a release manifest"),
            ({"manifest": server.url + "/build.json", "sha256": "1" * 64}, None, "not the pinned 1111"),
            ({"manifest": server.url + "/gone.json"}, None, f"release.manifest: {server.url}/gone.json: HTTP 404"),
        ]
        for i, (release, build, message) in enumerate(cases):
            case = tmp_path / f"case{i}"
            case.mkdir()
            r = run_cli("lock", write(case, release, build=build), "--cache-dir", tmp_path / "cache")
            lines = r.err.strip().splitlines()
            assert r.rc != 0 and len(lines) == 1 and message in lines[0], r.err
            assert "Traceback" not in r.err and not (case / "spec.lock.json").exists()
    finally:
        server.close()


class FlakyServer(HTTPServer):
    """Loopback HTTP: answers 503 to the first `failures` requests, then the manifest; counts requests."""

    def __init__(self, body: bytes, failures: int):
        self.hits = 0
        outer = self

        class Handler(QuietHandler):
            def do_GET(self) -> None:
                outer.hits += 1
                status, data = (503, b"busy") if outer.hits <= failures else (200, body)
                self.send_response(status)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        super().__init__(Handler)
        self.manifest_url = f"{self.url}/build.json"


@pytest.mark.parametrize(("failures", "ok"), [(2, True), (10, False)])
def test_url_manifest_retries_a_busy_server_a_bounded_number_of_times(tmp_path, monkeypatch, failures, ok):
    monkeypatch.setattr(fetch.time, "sleep", lambda _s: None)  # the backoff's waiting, not its count
    server = FlakyServer(json.dumps(manifest("https://charts.example")).encode(), failures)
    try:
        path = write(tmp_path, {"manifest": server.manifest_url, "exclude": {"demo": "demo"}})
        if ok:
            assert sorted(c.name for c in load_spec(path).spec.charts) == ["lib", "tiny", "valued"]
            assert server.hits == failures + 1
        else:
            with pytest.raises(SpecError, match=r"release.manifest: .*: gave up after 4 attempts: HTTP 503$"):
                load_spec(path)
            assert server.hits == release_manifest.ATTEMPTS
    finally:
        server.close()


def test_oversized_manifest_is_refused_unread(tmp_path):
    with open(tmp_path / "build.json", "wb") as f:
        f.truncate(release_manifest.MAX_BYTES + 1)  # sparse: nothing is written, nothing must be read
    with pytest.raises(SpecError, match=r"release.manifest: build.json: larger than 16 MiB: not a release manifest"):
        load_spec(write(tmp_path, {"manifest": "build.json"}))
