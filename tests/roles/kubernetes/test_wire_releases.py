"""The wire_releases role on the admin host (localhost), with real helm and real `wire-bundle values` output
rendered from Wire's real 5.29.0 packages (the `wire_release` fixture: NAME-VERSION.tgz as a bundle's charts/
holds them) and, for the install path, the Wire-shaped stand-in charts (tests/island/values/charts). No cluster can
run here: the install
path runs against a stand-in helm that records each `upgrade --install` and answers `history` (so order, command
lines and the skip of unchanged releases are real role behaviour), and the report of unready pods reads a pod
list from a stand-in kubectl."""

from __future__ import annotations

import importlib.util
import json
import os
import re
import shutil
from pathlib import Path

import pytest
import yaml

from tests.island.values.conftest import CHARTS, DOMAIN, Site
from tests.roles.kubernetes.playbook import REPO, ansible_playbook

HELM = REPO / "tools" / "bin" / "helm"
STANDINS = Path(__file__).resolve().parent / "standins"
PLAN_MODULE = REPO / "roles" / "wire_releases" / "library" / "wire_release_plan.py"
pytestmark = pytest.mark.skipif(not HELM.exists() and shutil.which("helm") is None,
                                reason="helm not installed: run make deps")


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    s = Site(tmp_path_factory.mktemp("wire-releases"))
    s.write(wire_sft_enabled=True, wire_s3_backend="minio")
    s.run()
    return s


def helm_bin() -> str:
    return str(HELM if HELM.exists() else shutil.which("helm"))


def play(site: Site, mode: str, extra: dict | None = None, env: dict | None = None):
    ev = {"wire_releases_values_dir": str(site.out), "wire_releases_charts_dir": str(CHARTS),
          "wire_releases_mode": mode, "wire_releases_kubeconfig": str(site.root / "admin.conf"),
          "wire_releases_rendered_dir": str(site.root / "rendered"), **(extra or {})}
    return ansible_playbook("wire.yml", site.inventory, ev,
                            env={"ANSIBLE_VAULT_PASSWORD_FILE": str(site.password_file), **(env or {})})


def order(site: Site) -> list[str]:
    return [r["name"] for r in yaml.safe_load((site.out / "releases.yaml").read_text())["releases"]]


def test_template_mode_renders_every_release_in_dependency_order(site):
    r = play(site, "template", {"wire_releases_helm": helm_bin()})
    assert r.rc == 0, r.out[-3000:]
    names = order(site)
    assert names[0] == "cassandra-external" and names[-1] == "sftd" and "wire-server" in names
    rendered = sorted(p.name for p in (site.root / "rendered").glob("*.yaml"))
    assert rendered == [f"{i + 1:02d}-{n}.yaml" for i, n in enumerate(names)]
    sftd = list(yaml.safe_load_all((site.root / "rendered" / f"{names.index('sftd') + 1:02d}-sftd.yaml").read_text()))
    pod = next(o for o in sftd if o and o["kind"] in ("StatefulSet", "DaemonSet")
               and any(c["name"] == "sftd" for c in o["spec"]["template"]["spec"]["containers"]))["spec"]["template"]
    assert pod["spec"]["hostNetwork"] is True and pod["spec"]["nodeSelector"] == {"wire.com/role": "sftd"}
    cmds = json.loads((site.root / "rendered" / "install-commands.json").read_text())
    assert [c[3] for c in cmds] == names
    ws = cmds[names.index("wire-server")]
    assert ws[1:3] == ["upgrade", "--install"] and "--wait" in ws and ws[ws.index("--timeout") + 1] == "10m"
    files = [ws[i + 1] for i, a in enumerate(ws) if a == "-f"]
    assert files[0] == str(site.out / "wire-server.yaml") and files[1] == "<scratch>/wire-server-secrets.yaml"
    assert ws[ws.index("--description") + 1].startswith("wire-bundle:")
    # The secret values lived in a scratch directory that is gone, and no rendered file is readable by others.
    assert not list(Path("/tmp").glob("wire-releases-*/wire-server-secrets.yaml"))
    assert not (site.out / ".scratch").exists()
    assert all(p.stat().st_mode & 0o077 == 0 for p in (site.root / "rendered").iterdir())
    assert "smtp-sekrit-pw" not in r.out
    again = play(site, "template", {"wire_releases_helm": helm_bin()})
    assert again.rc == 0 and again.changed() == 0, again.out[-3000:]


def test_a_killed_runs_scratch_directory_is_removed_by_the_next_run(site, tmp_path):
    # What a run killed mid-way leaves (no always block ran): its scratch directory, decrypted secrets inside.
    stale = site.out / ".scratch"
    (stale / "charts" / "old").mkdir(parents=True)
    (stale / "wire-server-secrets.yaml").write_text("smtp: {password: stale-sekrit}\n")
    stale.chmod(0o755)
    r = play(site, "template", {"wire_releases_helm": helm_bin(), "wire_releases_only": ["cassandra-external"],
                                "wire_releases_rendered_dir": str(tmp_path / "rendered")})
    assert r.rc == 0, r.out[-3000:]
    assert re.search(r"a killed run left behind\] \**\n(\S+ )?changed: \[localhost\]", r.out), r.out[-3000:]
    assert not stale.exists()
    assert [p.name for p in (tmp_path / "rendered").glob("*.yaml")] == ["01-cassandra-external.yaml"]


def test_template_mode_renders_every_release_from_the_real_packages_in_order(site, wire_release, tmp_path):
    # Releases whose chart is not among the release's here (postgresql-external) are left out by name.
    chart = {e["name"]: e["chart"] for e in yaml.safe_load((site.out / "releases.yaml").read_text())["releases"]}
    names = [n for n in order(site) if chart[n] not in wire_release.unavailable]
    assert "wire-server" in names and "postgresql-external" not in names
    rendered = tmp_path / "rendered"
    r = play(site, "template", {"wire_releases_helm": helm_bin(), "wire_releases_only": names,
                                "wire_releases_charts_dir": str(wire_release.repo_dir),
                                "wire_releases_rendered_dir": str(rendered)})
    assert r.rc == 0, r.out[-3000:]
    # The install order, each chart at the version of the release (build.json), as the role says it.
    assert " -> ".join(f"{n} {wire_release.version(chart[n])}" for n in names) in r.out
    files = sorted(p.name for p in rendered.glob("*.yaml"))
    assert files == [f"{i + 1:02d}-{n}.yaml" for i, n in enumerate(names)]
    docs = {n: [d for d in yaml.safe_load_all((rendered / f"{i + 1:02d}-{n}.yaml").read_text()) if d]
            for i, n in enumerate(names)}
    assert all(docs.values()), [n for n, d in docs.items() if not d]
    web = next(o for o in docs["webapp"] if o["kind"] == "Deployment")
    assert web["metadata"]["labels"]["chart"] == f"webapp-{wire_release.version('webapp')}"
    env = {e["name"]: e.get("value") for e in web["spec"]["template"]["spec"]["containers"][0]["env"]}
    assert env["BACKEND_REST"] == f"https://nginz-https.{DOMAIN}"
    sftd = next(o for o in docs["sftd"] if o["kind"] == "StatefulSet")["spec"]["template"]["spec"]
    assert sftd["hostNetwork"] is True and sftd["nodeSelector"] == {"wire.com/role": "sftd"}
    cmds = json.loads((rendered / "install-commands.json").read_text())
    assert [c[3] for c in cmds] == names
    # Each package unpacked into the scratch directory: the chart helm gets is the package's own.
    assert [c[4] for c in cmds] == [f"<scratch>/charts/{chart[n]}/{chart[n]}" for n in names]


def test_two_versions_of_one_chart_are_refused(wire_release, tmp_path):
    # The role's module itself (no playbook run needed to see its refusal).
    spec = importlib.util.spec_from_file_location("wire_release_plan", PLAN_MODULE)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    charts = tmp_path / "charts"
    charts.mkdir()
    shutil.copy(wire_release.packages["sftd"], charts)
    shutil.copy(wire_release.packages["sftd"], charts / "sftd-0.0.1.tgz")
    with pytest.raises(ValueError, match=f"charts_dir {charts}: chart sftd is there 2 times"):
        module.dir_charts(charts, tmp_path / "work")


def test_install_runs_in_order_and_a_rerun_changes_nothing(site, tmp_path):
    state = tmp_path / "helm-state.json"
    env = {"HELM_STANDIN_STATE": str(state), "HELM_STANDIN_REAL": helm_bin()}
    extra = {"wire_releases_helm": str(STANDINS / "helm")}
    first = play(site, "install", extra, env)
    assert first.rc == 0, first.out[-3000:]
    calls = json.loads(state.read_text())["calls"]
    assert [c[2] for c in calls] == order(site)
    assert all("--wait" in c and c[c.index("--kubeconfig") + 1] == str(site.root / "admin.conf") for c in calls)
    # Each install, and each release's record for `wire-bundle prune` (with the directory for them), changed.
    assert first.recap()["localhost"]["changed"] == 2 * len(order(site)) + 1
    records = {p.stem: json.loads(p.read_text()) for p in (site.root / "artifacts" / "releases").glob("*.json")}
    assert sorted(records) == sorted(order(site))
    assert records["redis-ephemeral"]["images"] == ["redis:7.4.6"]  # what its rendered pods run
    assert records["cassandra-external"]["images"] == []  # an endpoint only, no pods
    assert records["fake-aws"]["fingerprint"] == calls[order(site).index("fake-aws")][-4].split(":", 1)[1]

    again = play(site, "install", extra, env)
    assert again.rc == 0 and again.changed() == 0, again.out[-3000:]
    assert len(json.loads(state.read_text())["calls"]) == len(calls)

    # A changed values file changes that release's fingerprint: only that release is installed again.
    vfile = site.out / "fake-aws.yaml"
    original = vfile.read_text()
    try:
        vfile.write_text(original + "# operator's note\n")
        third = play(site, "install", extra, env)
    finally:
        vfile.write_text(original)
    assert third.rc == 0 and third.changed() == 2, third.out[-3000:]  # the install and its record
    assert [c[2] for c in json.loads(state.read_text())["calls"]][len(calls):] == ["fake-aws"]


def test_a_release_that_does_not_become_ready_stops_the_run_with_the_unready_pods(site, tmp_path):
    pods = tmp_path / "pods.json"
    pods.write_text(json.dumps({"items": [
        {"metadata": {"name": "brig-6d9f-x2x"}, "status": {
            "phase": "Pending", "conditions": [{"type": "Ready", "status": "False"}],
            "containerStatuses": [{"name": "brig", "ready": False, "state": {"waiting": {
                "reason": "ImagePullBackOff", "message": "Back-off pulling image quay.io/wire/brig:4.40.0"}}}]}},
        {"metadata": {"name": "galley-1"}, "status": {
            "phase": "Running", "conditions": [{"type": "Ready", "status": "True"}],
            "containerStatuses": [{"name": "galley", "ready": True, "state": {"running": {}}}]}},
        {"metadata": {"name": "brig-index-migrate-data-1"}, "status": {"phase": "Succeeded"}},
        {"metadata": {"name": "sftd-0"}, "status": {"phase": "Pending", "conditions": [
            {"type": "PodScheduled", "status": "False",
             "message": "0/3 nodes are available: 3 node(s) didn't match Pod's node affinity/selector."}]}},
    ]}))
    state = tmp_path / "helm-state.json"
    env = {"HELM_STANDIN_STATE": str(state), "HELM_STANDIN_REAL": helm_bin(), "HELM_STANDIN_FAIL": "wire-server",
           "KUBECTL_STANDIN_PODS": str(pods)}
    r = play(site, "install", {"wire_releases_helm": str(STANDINS / "helm"),
                               "wire_releases_kubectl": str(STANDINS / "kubectl-pods")}, env)
    assert r.rc != 0
    names = order(site)
    assert [c[2] for c in json.loads(state.read_text())["calls"]] == names[:names.index("wire-server") + 1]
    assert "release wire-server failed: Error: UPGRADE FAILED: context deadline exceeded" in r.out
    assert "brig-6d9f-x2x (Pending): brig waiting ImagePullBackOff: Back-off pulling image quay.io/wire/brig" in r.out
    assert "sftd-0 (Pending): unscheduled: 0/3 nodes are available" in r.out
    assert "galley-1" not in r.out and "brig-index-migrate-data-1" not in r.out


def test_real_helm_against_an_absent_cluster_fails_on_the_first_release_and_says_kubectl_could_not_list(site):
    conf = site.root / "admin.conf"
    conf.write_text(yaml.safe_dump({
        "apiVersion": "v1", "kind": "Config", "current-context": "c",
        "clusters": [{"name": "c", "cluster": {"server": "https://127.0.0.1:1"}}],
        "contexts": [{"name": "c", "context": {"cluster": "c", "user": "u"}}], "users": [{"name": "u", "user": {}}]}))
    os.chmod(conf, 0o600)
    r = play(site, "install", {"wire_releases_helm": helm_bin(), "wire_releases_timeout": "10s",
                               "wire_releases_kubectl": "/nonexistent/kubectl"})
    assert r.rc != 0
    assert "release cassandra-external failed:" in r.out and "kubectl could not list them" in r.out


def test_missing_values_dir_is_one_clear_error(site, tmp_path):
    r = play(site, "template", {"wire_releases_helm": helm_bin(), "wire_releases_values_dir": str(tmp_path)})
    assert r.rc != 0 and f"wire_releases_values_dir {tmp_path}: no releases.yaml, secrets.vault.yaml;" in r.out
