"""`wire-bundle images` over Wire's real release 5.29.0, served from a loopback chart repository, with the value
sets of examples/wire-values.

What the images are checked against:
- `helm template | grep image:` over the same packages and value sets (distinct normalised references): the
  same set, so the same count;
- Wire's own list, derived as Wire's offline build derives it (wire-server-deploy `offline/default-build/build.sh`
  -> `proc_pull_charts.sh`, `pre_chart_process_0.sh`, `process_charts.sh` -> `list-helm-containers`): every chart
  of build.json but the build's HELM_CHART_EXCLUDE_LIST, each rendered with Wire's `prod-values.example.yaml`
  and `prod-secrets.example.yaml`, federation switched on, the federator on the shared secret, every `image`
  key of the output, `-integration:` images dropped. Not applied: Wire's rename of `bitnami/` images to
  `bitnamilegacy/` (a registry move, not a difference in what the charts name);
- every wire-server service image at the release's version.
Charts that cannot be had here (not in shared/, or rendering only with an unobtainable dependency) are listed
in a warning with the reason; every other chart must pass.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import warnings
from pathlib import Path

import pytest
import yaml

from bundler.kinds.charts.render import find_helm, helm_env
from bundler.kinds.images.reference import parse_reference
from tests.support.cli import run_cli
from tests.support.wire_release import ROOT, release_dir

VALUE_SETS = {  # chart -> value sets (files under examples/wire-values); charts not named render with defaults
    "wire-server": [["wire-server/base.yaml"], ["wire-server/base.yaml", "wire-server/all-features.yaml"]],
    "webapp": [["webapp/base.yaml"]],
    "team-settings": [["team-settings/base.yaml"]],
    "account-pages": [["account-pages/base.yaml"]],
    "sftd": [["sftd/base.yaml"]],
    "coturn": [["coturn/base.yaml"], ["coturn/base.yaml", "coturn/tls.yaml"]],
    "restund": [["restund/base.yaml"]],
    "nginx-ingress-services": [["nginx-ingress-services/base.yaml"]],
    "ingress-nginx-controller": [["ingress-nginx-controller/base.yaml"]],
    "databases-ephemeral": [["databases-ephemeral/base.yaml"]],
    "fake-aws": [["fake-aws/base.yaml"]],
}
# Charts whose templates read the values of a dependency that is only an empty stand-in here.
NEEDS_STANDIN_VALUES = {"fake-aws-s3"}
SERVICES = ["brig", "galley", "cannon", "cargohold", "gundeck", "spar", "background-worker", "nginz", "federator",
            "proxy", "stern", "brig-index", "brig-schema", "galley-schema", "gundeck-schema", "spar-schema",
            "galley-migrate-data", "gundeck-migrate-data", "spar-migrate-data"]
_GREP = re.compile(r"^\s*(?:-\s+)?image:\s*[\"']?([^\"'\s]+)", re.MULTILINE)


def _norm(ref: str) -> str:
    return str(parse_reference(ref))


def _wire_build_charts(wire_release) -> set[str]:
    """The charts Wire's default offline build pulls: build.json but its HELM_CHART_EXCLUDE_LIST."""
    build_sh = (release_dir() / "wire-server-deploy/offline/default-build/build.sh").read_text()
    excluded = re.search(r'proc_pull_charts.sh .*HELM_CHART_EXCLUDE_LIST="([^"]*)"', build_sh).group(1)
    return set(wire_release.charts) - set(excluded.split(","))


def _helm(args: list, home: Path) -> str:
    proc = subprocess.run([find_helm(), *map(str, args)], capture_output=True, text=True, timeout=120,
                          env=helm_env(home), stdin=subprocess.DEVNULL)
    assert proc.returncode == 0, f"helm {args}: {proc.stderr}"
    return proc.stdout


def _error(stderr: str) -> list[str]:
    """The error and its lines, after the progress lines `chart X from URL`."""
    lines = stderr.splitlines()
    return lines[next(i for i, ln in enumerate(lines) if ln.startswith("error: ")):]


def _image_keys(obj, out: set[str]) -> None:
    """Every string under a key `image`, at any depth (yq '..|.image?', as list-helm-containers reads it)."""
    if isinstance(obj, dict):
        for k, v in obj.items():
            if k == "image" and isinstance(v, str):
                out.add(v)
            else:
                _image_keys(v, out)
    elif isinstance(obj, list):
        for v in obj:
            _image_keys(v, out)


@pytest.fixture(scope="module")
def covered(wire_release) -> dict[str, str]:
    """Charts of Wire's build that must pass here -> build.json version; the others are named with the reason."""
    wanted = _wire_build_charts(wire_release)
    left_out = {n: r for n, r in wire_release.unavailable.items() if n in wanted}
    for name in sorted(NEEDS_STANDIN_VALUES & wanted):
        left_out[name] = "its templates read values of " + "; ".join(wire_release.standins[name]) + \
                         ", an empty stand-in here"
    stood_in = [x for n, s in sorted(wire_release.standins.items()) if n in wanted and n not in left_out for x in s]
    absent = sorted(n for n in left_out if n in wire_release.unavailable)
    warnings.warn(
        f"not checked: {', '.join(absent)} (not in shared/wire-release, their repository unreachable here); "
        + "; ".join(f"{n}: {r}" for n, r in sorted(left_out.items()) if n not in absent)
        + f". Checked without the images of these stand-in dependencies: {'; '.join(stood_in)}", stacklevel=1)
    return {n: wire_release.version(n) for n in sorted(wanted - set(left_out))}


@pytest.fixture(scope="module")
def spec(tmp_path_factory, wire_release_repo, covered) -> Path:
    root = tmp_path_factory.mktemp("wire-discovery")
    shutil.copytree(ROOT / "examples" / "wire-values", root / "wire-values")
    charts = []
    for name, version in covered.items():
        entry = {"name": name, "repo": wire_release_repo, "version": version}
        if name in VALUE_SETS:
            entry["values"] = [[f"wire-values/{f}" for f in vs] for vs in VALUE_SETS[name]]
        charts.append(entry)
    path = root / "wire.yaml"
    path.write_text(yaml.safe_dump({"version": 1, "name": "wire-5.29.0", "charts": charts}, sort_keys=False))
    return path


@pytest.fixture(scope="module")
def discovered(spec, tmp_path_factory) -> dict[str, list]:
    run = run_cli("images", spec, "--json", "-j", "2", "--cache-dir", tmp_path_factory.mktemp("cache"))
    assert run.rc == 0, run.err
    assert "Traceback" not in run.err
    return json.loads(run.out)["images"]


def test_every_image_helm_template_names_and_no_other(discovered, spec, wire_release, covered, tmp_path):
    grep: set[str] = set()
    for name in covered:
        for vs in VALUE_SETS.get(name, [[]]):
            args = ["template", "wire-bundle", wire_release.packages[name]]
            for f in vs:
                args += ["--values", spec.parent / "wire-values" / f]
            grep |= {_norm(m) for m in _GREP.findall(_helm(args, tmp_path / "helm"))}
    assert set(discovered) == grep
    assert len(discovered) == len(grep) > 40


def test_every_image_of_wires_own_list_is_found(discovered, wire_release, covered, tmp_path):
    values = release_dir() / "wire-server-deploy" / "values"
    wire_list: dict[str, set[str]] = {}
    for name in covered:
        args = ["template", wire_release.packages[name], "--set", "federate.dtls.tls.key=emptyString",
                "--set", "federate.dtls.tls.crt=emptyString"]
        for kind in ("values", "secrets"):
            f = values / name / f"prod-{kind}.example.yaml"
            if f.is_file() and name == "wire-server" and kind == "values":
                flipped = tmp_path / "wire-server-values.yaml"  # pre_chart_process_0.sh: federation on
                flipped.write_text(f.read_text().replace("federation: false", "federation: true"))
                f = flipped
            if f.is_file():
                args += ["-f", f]
        if name == "wire-server":
            args += ["--set", "federator.tls.useSharedFederatorSecret=true"]
        found: set[str] = set()
        for doc in yaml.safe_load_all(_helm(args, tmp_path / "helm")):
            _image_keys(doc, found)
        wire_list[name] = {_norm(i) for i in found if "-integration:" not in i}
    missing = {n: sorted(i - set(discovered)) for n, i in wire_list.items() if i - set(discovered)}
    assert not missing
    assert sum(map(len, wire_list.values())) > 30


def test_every_wire_server_service_at_the_release_version(discovered, wire_release):
    version = wire_release.version("wire-server")
    assert version == "5.29.0"
    for svc in SERVICES:
        ref = f"quay.io/wire/{svc}:{version}"
        assert ref in discovered, svc
        assert "wire-server" in {r["chart"] for r in discovered[ref]}, svc


def test_a_chart_that_fails_to_render_names_every_failure_with_helms_message(tmp_path, wire_release_repo,
                                                                              wire_release):
    charts = [{"name": n, "repo": wire_release_repo, "version": wire_release.version(n)}
              for n in ("webapp", "account-pages", "redis-ephemeral", "wire-server")]
    path = tmp_path / "spec.yaml"
    path.write_text(yaml.safe_dump({"version": 1, "name": "no-values", "charts": charts}))
    run = run_cli("images", path, "-j", "2", "--cache-dir", tmp_path / "cache")
    assert run.rc != 0 and "Traceback" not in run.err
    lines = _error(run.err)
    assert lines[0] == "error: 3 of 4 renderings failed:"
    webapp, account, server = lines[1:]
    assert webapp.startswith(f"  chart webapp {wire_release.version('webapp')} with values defaults: "
                             "webapp/templates/deployment.yaml:")
    assert webapp.endswith("nil pointer evaluating interface {}.externalUrls")
    assert account.startswith("  chart account-pages ") and "externalUrls" in account
    assert server.startswith("  chart wire-server 5.29.0 with values defaults: execution error at "
                             "(wire-server/charts/nginz/templates/secret.yaml")


def test_a_missing_dependency_names_chart_subchart_and_dependency(tmp_path, wire_release_incomplete_repo,
                                                                  wire_release_incomplete, unreachable_env):
    charts = [{"name": n, "repo": wire_release_incomplete_repo, "version": wire_release_incomplete.version(n)}
              for n in ("wire-server", "rabbitmq", "redis-ephemeral")]
    path = tmp_path / "spec.yaml"
    path.write_text(yaml.safe_dump({"version": 1, "name": "incomplete", "charts": charts}))
    run = run_cli("images", path, "--cache-dir", tmp_path / "cache", env=unreachable_env)
    assert run.rc != 0 and "Traceback" not in run.err
    lines = _error(run.err)
    assert lines[0] == "error: 2 of 3 renderings failed (2 of 3 charts could not be had, so none of their " \
                       "value sets was rendered):"
    assert lines[1].startswith("  chart wire-server 5.29.0: dependency postgresql 9.8.12 of wire-server/legalhold "
                               "is missing from the package and could not be fetched: ")
    assert lines[2].startswith("  chart rabbitmq 5.29.0: dependency rabbitmq 14.6.9 of rabbitmq is missing from "
                               "the package and could not be fetched: ")
    assert len(lines) == 3


@pytest.fixture
def unreachable_env() -> dict[str, str]:
    """Everything but loopback goes to a proxy that is not there: the island's view, on any machine."""
    from tests.support.netutil import free_port

    proxy = f"http://127.0.0.1:{free_port()}"
    return {"HTTP_PROXY": proxy, "HTTPS_PROXY": proxy, "http_proxy": proxy, "https_proxy": proxy,
            "NO_PROXY": "127.0.0.1,localhost", "no_proxy": "127.0.0.1,localhost"}


def test_a_chart_left_out_fails_only_for_want_of_its_stand_in(wire_release, tmp_path):
    for name in NEEDS_STANDIN_VALUES:
        proc = subprocess.run([find_helm(), "template", str(wire_release.packages[name])], capture_output=True,
                              text=True, timeout=120, env=helm_env(tmp_path / "helm"), stdin=subprocess.DEVNULL)
        assert proc.returncode != 0 and "<.Values.minio." in proc.stderr, proc.stderr
