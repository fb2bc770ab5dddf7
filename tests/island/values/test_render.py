"""Mechanisms of `--check-charts` that Wire's real charts cannot show, proven on the Wire-shaped stand-in charts:
a check catching a chart that breaks (the real ones do not), a digest-pinned image, and postgresql-external (not
obtainable here). That every option renders Wire's real charts is tests/wire_release/test_values_real_charts.py."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml

from bundler.island.values.check import check_dir, find_kubectl, objects
from bundler.island.values.errors import ValuesError
from tests.island.values import make_standin_charts
from tests.island.values.conftest import CHARTS, PASSWORD

pytestmark = [pytest.mark.slow,
              pytest.mark.skipif(not (Path(__file__).resolve().parents[3] / "tools/bin/helm").exists()
                                 and shutil.which("helm") is None, reason="helm not installed: run make deps")]

# What a bundle built from these charts would hold: every image their templates can produce.
IMAGES = [f"quay.io/wire/{n}:4.40.0" for n in ("brig", "galley", "gundeck", "cannon", "cargohold", "spar", "nginz",
                                               "federator", "proxy", "webapp", "team-settings", "account-pages")]
# The join-call proxy and the controller tag are the generated values' (data file chart_images), not the charts'.
IMAGES += ["quay.io/wire/sftd:4.1.4", "docker.io/bitnami/kubectl:1.29.2",
           "docker.io/bitnamilegacy/nginx:1.27.3-debian-12-r5",
           "localstack/localstack:0.8.0", "airdock/fake-sqs:0.3.1", "registry.k8s.io/ingress-nginx/controller:v1.10.6",
           "redis:7.4.6"]

FULL = dict(
    wire_http_proxy="http://proxy.corp.example:3128", wire_https_proxy="http://proxy.corp.example:3128",
    wire_proxy_services=["brig", "cargohold", "galley", "gundeck", "spar", "proxy"],
    wire_cannon_drain={"grace_period_seconds": 40, "milliseconds_between_batches": 20, "min_batch_size": 5},
    wire_nginz_extra_upstreams=["proxy", "calling-test"], wire_nginz_ignored_upstreams=["spar"],
    wire_websocket_lb={"enabled": True},
)


def image_file(tmp_path: Path, images: list[str]) -> Path:
    f = tmp_path / "images.txt"
    f.write_text("# the bundle's images\n" + "\n".join(images) + "\n")
    return f


def render(site, release: str, charts: Path = CHARTS) -> list[dict]:
    """Render one release as check_dir does, for assertions on the objects themselves."""
    from bundler.kinds.charts.render import find_helm, template

    sec = site.secrets()["releases"].get(release)
    files = [site.out / f"{release}.yaml"]
    if sec:
        sf = site.root / f"{release}-secrets.yaml"
        sf.write_text(yaml.safe_dump(sec))
        files.append(sf)
    manifest = yaml.safe_load((site.out / "releases.yaml").read_text())
    chart = next(r["chart"] for r in manifest["releases"] if r["name"] == release)
    return objects(template(find_helm(), charts / chart, files, what=release, home=site.root / "helm-home",
                            namespace="wire"))


def releases(site) -> list[str]:
    return [r["name"] for r in yaml.safe_load((site.out / "releases.yaml").read_text())["releases"]]


def find(objs, kind, name):
    return next(o for o in objs if o["kind"] == kind and o["metadata"]["name"] == name)


def containers(obj):
    return obj["spec"]["template"]["spec"]["containers"]


def test_committed_standin_charts_are_what_the_generator_writes(tmp_path):
    make_standin_charts.write(tmp_path)
    committed = {p.relative_to(CHARTS): p.read_text() for p in CHARTS.rglob("*") if p.is_file()}
    fresh = {p.relative_to(tmp_path): p.read_text() for p in tmp_path.rglob("*") if p.is_file()}
    assert committed == fresh


def test_postgresql_external_primary_and_standbys(site):
    """postgresql-external is not in shared/wire-release: its stand-in (upstream's keys) proves the generated
    values make postgresql-external-rw the primary and -ro the standbys."""
    site.generate()
    objs = render(site, "postgresql-external")
    ips = {o["metadata"]["name"]: [a["ip"] for a in o["subsets"][0]["addresses"]]
           for o in objs if o["kind"] == "Endpoints"}
    assert ips == {"postgresql-external-rw": ["192.0.2.91"], "postgresql-external-ro": ["192.0.2.92", "192.0.2.93"]}
    assert find(objs, "Service", "postgresql-external-rw")["spec"]["ports"][0]["port"] == 5432


def test_image_pinned_by_digest_resolves_by_digest(site, tmp_path):
    digest = "sha256:" + "ab" * 32
    charts = tmp_path / "charts"
    shutil.copytree(CHARTS, charts)
    vals = charts / "redis-ephemeral" / "values.yaml"
    vals.write_text(vals.read_text().replace('tag: "7.4.6"', f'tag: "7.4.6@{digest}"'))
    site.generate()
    imgs = [i for i in IMAGES if "redis" not in i] + [f"docker.io/library/redis@{digest}"]
    lines = list(check_dir(site.out, charts, PASSWORD.encode(), image_file(tmp_path, imgs)))
    assert all(ln.endswith(", ok") for ln in lines)


# Each variant breaks one stand-in chart the way a wrong chart or a wrong values key would; the check must see it.
BROKEN = {
    "sftd-without-host-network": ("sftd/templates/statefulset.yaml", "hostNetwork: true", "hostNetwork: false",
                                  "sftd: StatefulSet/sftd: hostNetwork is not true"),
    "sftd-ignoring-node-selector": ("sftd/templates/statefulset.yaml", "with .Values.nodeSelector",
                                    "with .Values.nodeSelectorX", "nodeSelector lacks wire.com/role=sftd"),
    "brig-without-proxy-env": ("wire-server/charts/brig/templates/deployment.yaml", ".Values.config.proxy",
                               ".Values.config.proxyX", "wire-server: brig: env HTTP_PROXY is None"),
    "cannon-reading-another-key": ("wire-server/charts/cannon/templates/configmap.yaml",
                                   ".Values.config.drainOpts.minBatchSize", "20",
                                   "cannon ConfigMap drainOpts"),
    "field-of-wrong-type": ("sftd/templates/join-call.yaml", "replicas: {{ .Values.joinCall.replicaCount }}",
                            "replicas: \"{{ .Values.joinCall.replicaCount }}\"", "kubectl: unable to decode"),
}


@pytest.mark.parametrize("variant", list(BROKEN))
def test_check_catches_a_broken_chart(site, tmp_path, variant):
    rel, old, new, message = BROKEN[variant]
    if variant == "field-of-wrong-type" and not find_kubectl():
        pytest.skip("kubectl not installed: run make deps")
    charts = tmp_path / "charts"
    shutil.copytree(CHARTS, charts)
    f = charts / rel
    assert old in f.read_text()
    f.write_text(f.read_text().replace(old, new))
    site.generate(wire_http_proxy="http://proxy:8080", wire_cannon_drain={"min_batch_size": 7})
    with pytest.raises(ValuesError, match="rendered charts fail") as err:
        list(check_dir(site.out, charts, PASSWORD.encode(), None))
    assert message in str(err.value)


def test_cli_check_charts(site, tmp_path):
    site.write(**FULL)
    proc = site.run("--check-charts", str(CHARTS), "--images", str(image_file(tmp_path, IMAGES)))
    checked = [ln for ln in proc.stdout.splitlines() if ln.startswith("checked ")]
    assert len(checked) == len(releases(site)) and all(ln.endswith("ok") for ln in checked)
    # The secrets were handed to helm through a private temporary file, removed afterwards.
    assert not list(Path(tmp_path).glob("wire-values-check-*"))
    bad = site.run("--check-charts", str(CHARTS), "--images", str(image_file(tmp_path, IMAGES[:3])), check=False)
    assert bad.returncode == 1 and "error: rendered charts fail" in bad.stderr


def test_images_from_a_bundle_json(site, tmp_path):
    import json

    from bundler.island.values.check import image_list

    digest = "sha256:" + "cd" * 32
    meta = {"kinds": {"images": {"images": [{"ref": i, "digest": digest} for i in IMAGES]}}}
    f = tmp_path / "bundle.json"
    f.write_text(json.dumps(meta))
    refs = image_list(f)
    assert "docker.io/bitnami/kubectl:1.29.2" in refs and f"quay.io/wire/brig:4.40.0@{digest}" in refs
    site.generate()
    assert all(ln.endswith(", ok") for ln in check_dir(site.out, CHARTS, PASSWORD.encode(), f))
    f.write_text(json.dumps({"kinds": {}}))
    with pytest.raises(ValuesError, match="not a bundle.json with kinds.images.images"):
        image_list(f)


def test_proxy_from_the_secrets_file_reaches_the_pods(site, tmp_path):
    site.generate(wire_http_proxy="http://wire:pr0xy-pw@proxy.corp.example:3128")
    assert all(ln.endswith(", ok") for ln in check_dir(site.out, CHARTS, PASSWORD.encode(), None))
    env = {e["name"]: e.get("value") for e in containers(find(render(site, "wire-server"), "Deployment", "brig"))[0]
           ["env"]}
    assert env["HTTP_PROXY"] == "http://wire:pr0xy-pw@proxy.corp.example:3128"


def test_disabled_frontends_and_federator_are_not_rendered(site):
    site.generate(wire_team_settings_enabled=False, wire_account_pages_enabled=False)
    names = {o["metadata"]["name"] for o in render(site, "wire-server") if o["kind"] == "Deployment"}
    assert {"brig", "galley", "spar", "proxy"} <= names  # proxy: always, as in wire-server 5.x
    assert "federator" not in names
    assert "webapp" in releases(site) and not {"team-settings", "account-pages"} & set(releases(site))


def test_a_bundles_root_checks_its_charts_and_its_images(site, tmp_path):
    """Given the bundle's root (bundle.json beside charts/), the charts come from charts/ and the images are
    checked against bundle.json without --images."""
    import json

    bundle = tmp_path / "bundle"
    shutil.copytree(CHARTS, bundle / "charts")
    images = [i for i in IMAGES if "sftd" not in i]
    (bundle / "bundle.json").write_text(json.dumps({"kinds": {"images": {"images": [{"ref": i} for i in images]}}}))
    site.generate()
    lines = []
    with pytest.raises(ValuesError, match=r"sftd: image not in bundle.json: quay.io/wire/sftd:4.1.4"):
        for ln in check_dir(site.out, bundle, PASSWORD.encode(), None):
            lines.append(ln)
    assert lines[0] == f"images checked against {bundle / 'bundle.json'}"
    assert [ln for ln in lines if ln.startswith("checked wire-server")][0].endswith(", ok")


@pytest.mark.parametrize("where,message", [
    ("http://127.0.0.1:9/charts", r"^--check-charts http://127.0.0.1:9/charts: chart repository "),
    ("/nonexistent/charts", r"^--check-charts /nonexistent/charts: not a directory or an http\(s\):// chart "),
])
def test_unusable_chart_source_is_one_error(site, where, message):
    site.generate()
    with pytest.raises(ValuesError, match=message):
        list(check_dir(site.out, where, PASSWORD.encode(), None))


def test_two_packages_of_one_chart_are_an_error(site, tmp_path):
    charts = tmp_path / "charts"
    charts.mkdir()
    for v in ("1.0.0", "1.1.0"):
        (charts / f"cassandra-external-{v}.tgz").write_bytes(b"")
    site.generate()
    with pytest.raises(ValuesError, match=r"2 packages of chart cassandra-external \(cassandra-external-1.0.0.tgz, "
                                          r"cassandra-external-1.1.0.tgz\); keep the one to check"):
        list(check_dir(site.out, charts, PASSWORD.encode(), None))
