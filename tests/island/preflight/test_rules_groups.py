"""Profiles, inventory overrides, group checks and waivers, on real Ansible inventories parsed by Ansible."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bundler.island.preflight.groups import group_checks
from bundler.island.preflight.inventory import from_file
from bundler.island.preflight.matrix import listen_ports, probe_targets
from bundler.island.preflight.report import build_report
from bundler.island.preflight.requirements import host_requirements
from bundler.island.preflight.rules import PreflightError, load_profile
from tests.support.cli import run_cli


def inventory(tmp_path: Path, groups: dict[str, list[str]], all_vars: dict | None = None,
              host_vars: dict | None = None) -> Path:
    hosts = {h: (host_vars or {}).get(h) for members in groups.values() for h in members}
    doc = {"all": {"hosts": hosts, "vars": all_vars or {},
                   "children": {g: {"hosts": {h: None for h in members}} for g, members in groups.items()}}}
    path = tmp_path / "inventory.yml"
    path.write_text(json.dumps(doc))
    return path


def statuses(checks):
    return {c["id"]: c["status"] for c in checks}


PRODUCTION = {
    "cassandra": ["c1", "c2", "c3"], "minio": ["m1", "m2", "m3"], "elasticsearch": ["e1", "e2", "e3"],
    "kube_control_plane": ["k1"], "kube_node": ["k1", "k2", "k3"], "restund": ["t1", "t2"],
    "admin": ["a1"], "assethost": ["s1"], "sft": ["k2", "k3"],
    "postgresql": ["p1", "p2", "p3"], "postgresql_rw": ["p1"], "postgresql_ro": ["p2", "p3"],
    "rabbitmq": ["r1", "r2", "r3"],
}


def test_a_complete_production_layout_passes_every_group_check(tmp_path):
    inv = from_file(inventory(tmp_path, PRODUCTION))
    checks = group_checks(inv, load_profile("production"))
    assert [c for c in checks if c["status"] != "pass"] == []
    assert statuses(checks)["group.count.kubernetes"] == "pass"  # k1..k3 across both kube groups


def test_missing_member_and_even_cassandra_are_named(tmp_path):
    layout = dict(PRODUCTION, cassandra=["c1", "c2"])
    got = statuses(group_checks(from_file(inventory(tmp_path, layout)), load_profile("production")))
    assert got["group.count.cassandra"] == "fail"
    assert got["group.odd.cassandra"] == "fail"
    four = dict(PRODUCTION, cassandra=["c1", "c2", "c3", "c4"])
    got = statuses(group_checks(from_file(inventory(tmp_path, four)), load_profile("production")))
    assert (got["group.count.cassandra"], got["group.odd.cassandra"]) == ("pass", "fail")
    two_restund = dict(PRODUCTION, restund=["t1"])
    assert statuses(group_checks(from_file(inventory(tmp_path, two_restund)),
                                 load_profile("production")))["group.count.restund"] == "fail"


def test_lab_profile_accepts_single_vms_but_not_missing_roles(tmp_path):
    layout = {"cassandra": ["v1"], "elasticsearch": ["v1"], "minio": ["v1"], "kube_node": ["v1"],
              "restund": ["v2"], "assethost": ["v2"]}
    assert all(c["status"] == "pass" for c in group_checks(from_file(inventory(tmp_path, layout)),
                                                           load_profile("lab")))
    del layout["minio"]
    assert statuses(group_checks(from_file(inventory(tmp_path, layout)), load_profile("demo")))[
        "group.count.minio"] == "fail"


def test_combinations_that_conflict_or_lack_a_group(tmp_path):
    layout = dict(PRODUCTION, sft=["k2", "t1"], cassandra_seed=["c1", "x9"], kube_nodes=["k1"])
    checks = group_checks(from_file(inventory(tmp_path, layout)), load_profile("production"))
    got = {c["id"]: c for c in checks}
    assert got["group.conflict.sft.restund"]["status"] == "fail" and "t1" in got["group.conflict.sft.restund"]["found"]
    assert got["group.requires.sft.kube_node"]["status"] == "fail"
    assert got["group.requires.cassandra_seed.cassandra"]["found"] == "not in cassandra: x9"
    assert got["group.unknown.kube_nodes"]["status"] == "warn"  # a typo of kube_node


def test_production_warns_when_roles_share_a_vm(tmp_path):
    layout = dict(PRODUCTION, elasticsearch=["c1", "c2", "c3"])
    checks = group_checks(from_file(inventory(tmp_path, layout)), load_profile("production"))
    assert sorted(c["subjects"][0] for c in checks if c["id"] == "group.dedicated") == ["c1", "c2", "c3"]
    assert not [c for c in group_checks(from_file(inventory(tmp_path, layout)), load_profile("lab"))
                if c["id"] == "group.dedicated"]


def test_sft_replicas_need_one_node_each(tmp_path):
    inv = from_file(inventory(tmp_path, PRODUCTION, all_vars={"sft_replicas": 3}))
    assert statuses(group_checks(inv, load_profile("production")))["group.sft.per_node"] == "fail"


def test_inventory_overrides_change_figures_and_counts(tmp_path):
    inv = from_file(inventory(tmp_path, dict(PRODUCTION, cassandra=["c1"]), all_vars={
        "preflight_sizing_cassandra": {"count": 1, "memory_gb": 16},
        "cassandra_data_dirs": ["/data/cass", "/data/cass2"]}))
    profile = load_profile("production", inv.sizing_overrides())
    assert statuses(group_checks(inv, profile))["group.count.cassandra"] == "pass"
    req = host_requirements(inv.hosts["c1"], profile)
    assert req["memory_mib"] == 16 * 1024
    assert req["disks"] == [{"role": "cassandra", "path": "/data/cass", "required_gib": 80.0}]
    assert {(p["proto"], p["port"]) for p in req["ports"]} == {("tcp", 9042), ("tcp", 7000), ("tcp", 7199)}


def test_kubernetes_host_requirements_carry_kernel_and_swap_rules(tmp_path):
    inv = from_file(inventory(tmp_path, PRODUCTION))
    req = host_requirements(inv.hosts["k1"], load_profile("production"))
    assert (req["cpu"], req["memory_mib"], req["swap_off"]) == (6, 8192, "fail")
    assert set(req["kernel_features"]) == {"br_netfilter", "overlay"}
    assert "net.ipv4.ip_forward" in req["sysctls"]
    assert {p["port"] for p in req["ports"]} == {6443, 2379, 2380, 10250}


@pytest.mark.parametrize(("name", "overrides", "message"), [
    ("huge", None, "unknown sizing profile 'huge'"),
    ("production", {"cassandra": {"ram": 4}}, "preflight_sizing_cassandra: unknown key(s) ram"),
    ("production", {"cassandra": {"cpu": "many"}}, "needs numeric"),
])
def test_bad_profile_input_names_the_cause(name, overrides, message):
    with pytest.raises(PreflightError, match=message.replace("(", r"\(").replace(")", r"\)")):
        load_profile(name, overrides)


def test_matrix_probes_peers_not_self_and_listens_only_where_reached(tmp_path):
    inv = from_file(inventory(tmp_path, PRODUCTION, host_vars={"c2": {"ansible_host": "10.9.0.2"}}))
    targets = probe_targets(inv, "k2")
    ids = {t["id"] for t in targets}
    assert {"net.kubernetes.cassandra.tcp9042", "net.kube_node.kube_control_plane.tcp6443",
            "net.sft.restund.udp3478", "net.all.assethost.tcp80", "net.all.assethost.udp123"} <= ids
    assert {"host": "c2", "address": "10.9.0.2", "port": 9042} in [
        {k: t[k] for k in ("host", "address", "port")} for t in targets]
    assert all(t["host"] != "k2" for t in targets)
    assert listen_ports(inv, "t1") == [{"proto": "udp", "port": 3478}]
    assert listen_ports(inv, "a1") == []


def test_waivers_from_cli_host_scoped_and_inventory(tmp_path):
    layout = dict(PRODUCTION, cassandra=["c1", "c2"])
    host_vars = {"c1": {"preflight_ignore": ["group.count.cassandra"]}}
    inv = from_file(inventory(tmp_path, layout, host_vars=host_vars))
    for h in inv.hosts.values():  # the module results of a healthy host, as the playbook registers them
        h.vars["_preflight_facts"] = {"facts": {}, "checks": [
            {"id": "time.sync", "status": "warn", "required": "synchronised", "found": "no", "message": ""}]}
        ids = {t["id"] for t in probe_targets(inv, h.name)}
        h.vars["_preflight_probe"] = {"checks": [
            {"id": i, "status": "pass", "required": "", "found": "", "message": ""} for i in ids]}
    profile = load_profile("production")
    base = build_report(inv, profile)
    assert (base["status"], base["exit_code"]) == ("fail", 3)
    assert {c["id"] for c in base["fail"]} == {"group.count.cassandra", "group.odd.cassandra"}
    # c1 alone carries the waiver: not enough, the check is about c1 and c2.
    inv.hosts["c2"].vars["preflight_ignore"] = ["group.count.cassandra"]
    waived = build_report(inv, profile, ["group.odd.cassandra"])
    assert (waived["status"], waived["exit_code"]) == ("warn", 4)
    assert {c["id"] for c in waived["ignored"]} == {"group.count.cassandra", "group.odd.cassandra"}
    one_host = build_report(inv, profile, ["group.odd.cassandra", "c1:time.sync"])
    assert sorted(c["host"] for c in one_host["warn"]) == sorted(h for h in inv.hosts if h != "c1")
    clean = build_report(inv, profile, ["group.odd.cassandra", "time.sync"])
    assert (clean["status"], clean["exit_code"]) == ("pass", 0)


def test_a_host_without_results_is_a_failed_check(tmp_path):
    inv = from_file(inventory(tmp_path, {"cassandra": ["c1"]}))
    report = build_report(inv, load_profile("lab"))
    assert [c["id"] for c in report["fail"] if c["host"] == "c1"] == ["host.reachable"]


def test_every_id_the_checks_produce_is_in_the_catalogue(tmp_path):
    import fnmatch
    import importlib.util

    from bundler.island.preflight.catalogue import catalogue

    spec = importlib.util.spec_from_file_location(
        "wp", Path(__file__).resolve().parents[3] / "roles/preflight/library/wire_preflight.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    layout = dict(PRODUCTION, cassandra=["c1", "c2"], sft=["t1"], typo_group=["c1"])
    inv = from_file(inventory(tmp_path, layout, all_vars={"sft_replicas": 9}))
    profile = load_profile("production")
    produced = {c["id"] for c in group_checks(inv, profile)}
    for host in inv.hosts.values():
        req = host_requirements(host, profile)
        req["disks"] = [dict(d, path=str(tmp_path)) for d in req["disks"]]
        produced |= {c["id"] for c in module.judge_facts(req, module.gather(req, "/proc", "/etc/os-release"))}
        produced |= {t["id"] for t in probe_targets(inv, host.name)}
    patterns = [p for p, _ in catalogue()]
    assert [i for i in sorted(produced) if not any(fnmatch.fnmatchcase(i, p) for p in patterns)] == []
    assert {"group.unknown.typo_group", "group.sft.per_node", "swap.off", "kernel.overlay"} <= produced


def test_ignore_of_an_unknown_id_is_refused():
    from bundler.island.preflight.catalogue import check_ignores

    check_ignores(["time.sync", "db1:port.tcp9042", "group.unknown.foo"])
    with pytest.raises(PreflightError, match="--ignore memory.totl: no check has the ID 'memory.totl'"):
        check_ignores(["memory.totl"])


@pytest.mark.parametrize(("content", "args", "message"), [
    ("all: [1, 2\n", [], "inventory.yml:2: not valid YAML: did not find expected ',' or ']'"),
    ("", [], "not usable: no hosts in it"),
    ("all: {hosts: {h1: }}\n", ["--ignore", "memory.totl"], "--ignore memory.totl: no check has the ID"),
    ("all: {hosts: {h1: }, vars: {preflight_sft_participants: 5000}}\n", [],
     "preflight_sft_participants 5000: a call happens in a conversation, and conversations are capped at 2000"),
])
def test_cli_bad_input_is_one_line_and_runs_nothing(tmp_path, content, args, message):
    inv = tmp_path / "inventory.yml"
    inv.write_text(content)
    proc = run_cli("preflight", "-i", inv, *args, timeout=60)
    assert proc.returncode == 1
    [line] = proc.stderr.strip().splitlines()
    assert line.startswith("error: ") and message in line
    assert proc.stdout == ""


def test_planned_call_load_is_checked_against_measured_sft_cpus(tmp_path):
    # 4 conferences of 100 -> 400 participants -> 8 vCPUs; two SFT nodes measured with 6 and 2 usable CPUs.
    layout = dict(PRODUCTION)
    all_vars = {"preflight_sft_participants": 100, "preflight_sft_conferences": 4}
    inv = from_file(inventory(tmp_path, layout, all_vars=all_vars))
    for name, cpus in (("k2", 6), ("k3", 2)):
        inv.hosts[name].vars["_preflight_facts"] = {"facts": {"cpu": {"usable": cpus}}, "checks": []}
    [check] = [c for c in build_report(inv, load_profile("production"))["fail"] if c["id"] == "group.sft.capacity"]
    # Nodes are sized by the smallest SFT host (2 vCPUs): 4 nodes needed, 2 present; 8 vCPUs wanted, 8 measured.
    assert (check["required"], check["found"]) == ("4 SFT nodes, 8 vCPUs", "2 SFT nodes, 8 vCPUs measured")
    inv.hosts["k3"].vars["_preflight_facts"]["facts"]["cpu"]["usable"] = 6
    report = build_report(inv, load_profile("production"))
    assert [c["status"] for c in report["pass"] if c["id"] == "group.sft.capacity"] == ["pass"]
