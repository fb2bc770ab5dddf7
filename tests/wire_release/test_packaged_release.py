"""The packaged real release is what Wire's CI would publish: every chart of build.json accounted for, versions and
image tags set from build.json, unobtainable dependencies named (never dropped silently)."""

from __future__ import annotations

import tarfile

import yaml

from tests.support.archive import tgz_member


def test_every_chart_of_build_json_is_packaged_or_named_unavailable(wire_release):
    assert set(wire_release.packages) | set(wire_release.unavailable) == set(wire_release.charts)
    assert not set(wire_release.packages) & set(wire_release.unavailable)
    for name in ("wire-server", "sftd", "webapp", "team-settings", "account-pages", "rabbitmq-external",
                 "nginx-ingress-services", "ingress-nginx-controller", "redis-ephemeral", "coturn", "fake-aws"):
        assert name in wire_release.packages, name
    index = yaml.safe_load((wire_release.repo_dir / "index.yaml").read_text())
    assert {n: [e["version"] for e in es] for n, es in index["entries"].items()} == {
        n: [wire_release.version(n)] for n in wire_release.packages}


def test_versions_and_image_tags_are_the_releases(wire_release):
    tgz = wire_release.packages["wire-server"]
    assert yaml.safe_load(tgz_member(tgz, "wire-server/Chart.yaml").decode())["version"] == "5.29.0"
    values = tgz_member(tgz, "wire-server/values.yaml").decode()
    assert "do-not-use" not in values and "tag: 5.29.0" in values
    # Subcharts carry the parent's version, and so does the requirement naming them (as upstream's script sets).
    assert yaml.safe_load(tgz_member(tgz, "wire-server/charts/nginz/Chart.yaml").decode())["version"] == "5.29.0"
    assert "do-not-use" not in tgz_member(tgz, "wire-server/charts/nginz/values.yaml").decode()
    reqs = yaml.safe_load(tgz_member(tgz, "wire-server/requirements.yaml").decode())["dependencies"]
    assert {d["version"] for d in reqs} == {"5.29.0"}
    # build.json's appVersion, where it names one, is the chart's and its image's.
    sftd = wire_release.packages["sftd"]
    assert yaml.safe_load(tgz_member(sftd, "sftd/Chart.yaml").decode())["appVersion"] == "5.0.65"
    webapp = yaml.safe_load(tgz_member(wire_release.packages["webapp"], "webapp/values.yaml").decode())
    assert webapp["image"]["tag"] == wire_release.charts["webapp"].app_version == \
        "2026-03-25-production.0-v0.34.9-0-8d7c1b7"


def test_unobtainable_dependencies_are_named(wire_release, wire_release_incomplete):
    assert any("legalhold -> postgresql 9.8.12" in m for m in wire_release.standins["wire-server"])
    assert wire_release_incomplete.missing == wire_release.standins
    assert not wire_release_incomplete.standins
    with tarfile.open(wire_release_incomplete.packages["rabbitmq"]) as tar:
        assert not [n for n in tar.getnames() if n.startswith("rabbitmq/charts/")]
