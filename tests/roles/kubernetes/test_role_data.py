"""The roles' data against the project's other sources of truth (no lab): the pre-flight's kernel rules,
sftd's node selector, the NodePort range (ports, files, checksums and images: tests/roles/test_shared_facts.py);
plus the unready-pod report filter and the refusals that happen before a role touches any host (run against
localhost in check mode)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest
import yaml

from tests.roles.kubernetes.playbook import REPO, ansible_playbook

K8S = yaml.safe_load((REPO / "roles/kubernetes/defaults/main.yml").read_text())
SFT = yaml.safe_load((REPO / "roles/sft/defaults/main.yml").read_text())


def test_kernel_settings_cover_the_preflight_rules():
    rules = yaml.safe_load((REPO / "bundler/data/preflight.yaml").read_text())["host_rules"]["kubernetes"]
    modules = {m["name"]: m for m in K8S["kubernetes_kernel_modules"]}
    for feature, rule in rules["kernel_features"].items():
        assert feature in modules
        for key in ("present_path", "filesystem"):
            if key in rule:
                assert modules[feature][key] == rule[key]
    for key, rule in rules["sysctls"].items():
        assert str(K8S["kubernetes_sysctls"][key]) == rule["value"]
    assert rules["swap_off"] == "fail" and K8S["kubernetes_swap_off"] is True


def test_sft_label_is_sftds_node_selector_and_the_media_range_is_clear_of_nodeports():
    defaults = yaml.safe_load((REPO / "bundler/data/wire-values-defaults.yaml").read_text())
    assert SFT["sft_node_labels"] == defaults["sft"]["node_label"]
    low, high = map(int, SFT["sft_port_range"].split())
    np_low, np_high = map(int, K8S["kubernetes_nodeport_range"].split("-"))
    assert high < np_low or low > np_high


def _filter():
    spec = importlib.util.spec_from_file_location("pods", REPO / "roles/wire_releases/filter_plugins/pods.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod.wire_unready_pods


def test_unready_pod_report():
    report = _filter()({"items": [
        {"metadata": {"name": "cannon-0"}, "status": {"phase": "Running", "conditions": [
            {"type": "Ready", "status": "False"}], "containerStatuses": [
            {"name": "cannon", "ready": False, "restartCount": 4, "state": {"running": {}}}]}},
        {"metadata": {"name": "brig-1"}, "status": {"phase": "Running", "initContainerStatuses": [
            {"name": "migrate", "state": {"terminated": {"reason": "Error", "message": "cassandra: timeout\nmore"}}}],
            "conditions": [{"type": "Ready", "status": "False"}]}},
        {"metadata": {"name": "ok"},
         "status": {"phase": "Running", "conditions": [{"type": "Ready", "status": "True"}]}},
        {"metadata": {"name": "job"}, "status": {"phase": "Succeeded"}},
        {"metadata": {"name": "new"}, "status": {}},
    ]})
    assert report == ["cannon-0 (Running): cannon not ready (restarts 4)",
                      "brig-1 (Running): migrate terminated Error: cassandra: timeout",
                      "new (Unknown): no status yet"]


def _inventory(tmp_path: Path, groups: dict[str, list[str]]) -> Path:
    local = {"ansible_connection": "local", "ansible_python_interpreter": "{{ ansible_playbook_python }}"}
    inv = {"all": {"hosts": {h: local for hs in groups.values() for h in hs},
                   "children": {g: {"hosts": {h: {} for h in hs}} for g, hs in groups.items()}}}
    path = tmp_path / "inventory.yml"
    path.write_text(yaml.safe_dump(inv))
    return path


# Every case fails on an assert before the role changes anything; --check keeps it that way regardless.
@pytest.mark.parametrize(("playbook", "groups", "extra", "message"), [
    ("kubernetes.yml", {"kube_control_plane": ["cp1", "cp2"], "kube_node": ["cp1", "cp2"]}, {},
     "group kube_control_plane: 2 host(s); etcd runs on every control-plane host and needs an odd member count"),
    ("sft.yml", {"kube_node": ["s1"], "sft": ["s1"], "restund": ["s1"]}, {},
     "s1: in groups sft and restund; an SFT must not share a VM with a TURN server"),
    ("sft.yml", {"kube_node": [], "sft": ["s1"]}, {},
     "s1: in group sft but not in kube_node; sftd is a pod and needs a Kubernetes node"),
    ("sft.yml", {"kube_node": ["s1"], "sft": ["s1"]}, {"sft_port_range": "30000 40000"},
     'sft_port_range "30000 40000": must be "low high" with 1024 <= low < high <= 65535 and clear of the NodePort'),
    ("sft.yml", {"kube_node": ["s1"], "sft": ["s1"]}, {"sft_planned_participants": 1000, "sft_planned_conferences": 3},
     "group sft: 1 node(s)"),
])
def test_refusals(tmp_path, playbook, groups, extra, message):
    r = ansible_playbook(playbook, _inventory(tmp_path, groups), extra, args=["--check"])
    assert r.rc != 0 and message in " ".join(r.out.split()), r.out[-3000:]


def test_release_plan_rebuilds_charts_from_an_unpacked_bundle(tmp_path):
    """The module's bundle path: charts packaged by real helm, laid out as an unpacked bundle's charts/ with the
    bundle.json summary (hand-written here as bundler/kinds/charts/summary.py types it), rebuilt per release."""
    import hashlib
    import json
    import shutil
    import subprocess

    from tests.island.values.conftest import CHARTS, Site

    helm = str(REPO / "tools" / "bin" / "helm") if (REPO / "tools/bin/helm").exists() else shutil.which("helm")
    if helm is None:
        pytest.skip("helm not installed: run make deps")
    (tmp_path / "site").mkdir()
    site = Site(tmp_path / "site")
    site.run()
    manifest = yaml.safe_load((site.out / "releases.yaml").read_text())
    bundle = tmp_path / "bundle"
    (bundle / "charts").mkdir(parents=True)
    entries = []
    for chart in sorted({r["chart"] for r in manifest["releases"]}):
        subprocess.run([helm, "package", str(CHARTS / chart), "-d", str(bundle / "charts")], check=True,
                       capture_output=True)
        tgz = next((bundle / "charts").glob(f"{chart}-[0-9]*.tgz"))
        version = tgz.name.removeprefix(f"{chart}-").removesuffix(".tgz")
        entries.append({"name": chart, "version": version, "repo": "https://charts.invalid", "size": tgz.stat().st_size,
                        "digest": "sha256:" + hashlib.sha256(tgz.read_bytes()).hexdigest(),
                        "path": f"charts/{tgz.name}", "dependencies": [], "images": [], "excluded": []})
    (bundle / "bundle.json").write_text(json.dumps({"kinds": {"charts": entries}}))

    spec = importlib.util.spec_from_file_location("plan", REPO / "roles/wire_releases/library/wire_release_plan.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    params = {"values_dir": str(site.out), "bundle_dir": str(bundle), "charts_dir": None,
              "work_dir": str(tmp_path / "work"), "secrets": site.secrets()["releases"], "helm": helm,
              "kubeconfig": "/k", "timeout": "5m"}
    first = mod.plan(params)
    assert [r["name"] for r in first["releases"]] == [r["name"] for r in manifest["releases"]]
    for rel in first["releases"]:
        assert (Path(rel["chart_dir"]) / "Chart.yaml").is_file() and rel["chart_dir"].startswith(str(tmp_path / "work"))
        r = subprocess.run(rel["template_argv"], capture_output=True, text=True)
        assert r.returncode == 0, r.stderr
    secret = tmp_path / "work" / "wire-server-secrets.yaml"
    assert secret.stat().st_mode & 0o777 == 0o600
    # Same inputs, same fingerprints; a different values file changes only its release's.
    again = mod.plan(params)
    assert [r["fingerprint"] for r in again["releases"]] == [r["fingerprint"] for r in first["releases"]]
    (site.out / "fake-aws.yaml").write_text((site.out / "fake-aws.yaml").read_text() + "# note\n")
    third = {r["name"]: r["fingerprint"] for r in mod.plan(params)["releases"]}
    assert [n for n, fp in third.items() if fp != next(r["fingerprint"] for r in first["releases"]
                                                       if r["name"] == n)] == ["fake-aws"]
    with pytest.raises(ValueError, match="no bundle.json"):
        mod.plan({**params, "bundle_dir": str(tmp_path)})
    # A summary that does not fit its record is one line naming the field, not a KeyError.
    (bundle / "bundle.json").write_text(json.dumps({"kinds": {"charts": [{**entries[0], "path": 7}]}}))
    with pytest.raises(ValueError, match=r"bundle.json: a kind's summary is malformed \(kinds.charts.0.path: "):
        mod.plan(params)
