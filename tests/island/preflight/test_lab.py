"""Pre-flight on island-lab VMs (systemd-nspawn hosts over SSH): real facts, a real connectivity matrix, and
failing hosts made for real where the lab allows it.

One lab of four hosts serves every test. What is real and what is arranged:
- db2 runs under a 512 MiB cgroup memory limit: the module reads it and the lab profile's 1 GiB fails.
- a listener started on db1 takes tcp/9042; the matrix still reaches db1 through it.
- db2's pre-flight address is moved to an unused address of the lab's own subnet: probes towards it fail.
- the inventory asks for 3 Cassandra VMs where the lab has 2: a missing group member.
- swap: `swapon` of a file fails inside a lab host (its root is overlayfs: EINVAL), and swap is kernel-wide,
  so it would be on for the whole machine (and other work on it) anyway. kube1's module reads a procfs view
  whose `swaps` lists a swap file instead; everything else in that view is the host's real /proc.
"""

from __future__ import annotations

import ipaddress
import json
from pathlib import Path

import pytest
import yaml

from tests.fixtures.lab import HostSpec
from tests.support.cli import run_cli

pytestmark = [pytest.mark.lab, pytest.mark.slow]

REPO = Path(__file__).resolve().parents[3]
SCHEMA = json.loads((REPO / "docs" / "preflight.schema.json").read_text())
HOLDER = ("import socket,time; s=socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1); "
          "s.bind((\"0.0.0.0\", 9042)); s.listen(16); time.sleep(600)")
FAKE_PROC = ("rm -rf /run/fakeproc && mkdir /run/fakeproc && for e in /proc/*; do n=${e#/proc/}; "
             "[ \"$n\" = swaps ] || ln -s \"$e\" /run/fakeproc/$n; done && "
             "printf 'Filename Type Size Used Priority\\n/swapfile file 1048572 0 -2\\n' > /run/fakeproc/swaps")


@pytest.fixture(scope="module")
def lab(make_lab):
    return make_lab("pf", [
        # Roles sharing a host add up (kube1: 1 + 0.25 vCPUs of the lab profile; the machine has 2).
        HostSpec("kube1", groups=["kube_control_plane", "kube_node", "sft", "minio"]),
        HostSpec("db1", groups=["cassandra", "elasticsearch"]),
        HostSpec("db2", groups=["cassandra"], memory="512M"),
        HostSpec("turn1", groups=["restund", "assethost"]),
    ])


def preflight(inventory: Path, *args: str) -> tuple[int, dict]:
    proc = run_cli("preflight", "-i", inventory, "--profile", "lab", "--format", "json", *args, cwd=REPO)
    assert proc.stdout.startswith("{"), proc.stdout + proc.stderr
    report = json.loads(proc.stdout)
    import jsonschema

    jsonschema.validate(report, SCHEMA)
    assert proc.returncode == report["exit_code"]
    return proc.returncode, report


def failures(report: dict) -> set[tuple[str | None, str]]:
    return {(c["host"], c["id"]) for c in report["fail"]}


def listeners_left(lab) -> list[str]:
    out = []
    for h in lab.hosts:
        ps = lab.run(h.name, "grep -lx wire-preflight /proc/[0-9]*/comm || true", timeout=30).stdout.split()
        out += [f"{h.name}:{p}" for p in ps]
    return out


def test_real_facts_and_a_real_matrix_between_vms(lab):
    rc, report = preflight(lab.inventory_path)
    assert rc == 3
    # The only failure: db2's cgroup limit of 512 MiB against the profile's 1 GiB for Cassandra.
    assert failures(report) == {("db2", "memory.total")}
    db2 = report["hosts"]["db2"]["facts"]
    assert db2["memory"]["cgroup_limit_mib"] == 512 and db2["memory"]["usable_mib"] == 512
    assert report["hosts"]["db1"]["facts"]["memory"]["cgroup_limit_mib"] is None
    for name, info in report["hosts"].items():
        facts = info["facts"]
        assert (facts["os"]["id"], facts["os"]["version"]) == ("debian", "12"), name
        assert info["address"] == lab.host(name).address
    disks = {d["path"]: d for d in report["hosts"]["db1"]["facts"]["disks"]}
    assert disks["/var/lib/cassandra/data"]["roles"] == ["cassandra", "elasticsearch"]
    assert disks["/var/lib/cassandra/data"]["measured_at"] == "/var/lib"  # not installed yet: its parent
    passed = {(c["host"], c["id"]): c for c in report["pass"]}
    for host, check_id, peers in [
        ("kube1", "net.kubernetes.cassandra.tcp9042", "db1, db2"),
        ("kube1", "net.kubernetes.elasticsearch.tcp9200", "db1"),
        ("db1", "net.kubernetes.minio.tcp9000", None),  # kube1 is its only minio: no probe to itself
        ("kube1", "net.sft.restund.udp3478", "turn1"),  # UDP: datagram echoed by the temporary listener
        ("db1", "net.cassandra.cassandra.tcp7000", "db2"),
        ("db2", "net.cassandra.cassandra.tcp7000", "db1"),
        ("db2", "net.all.assethost.tcp80", "turn1"),
        ("db2", "net.all.assethost.udp123", "turn1"),  # an NTP request, echoed
    ]:
        if peers is None:
            assert (host, check_id) not in passed
            continue
        assert passed[(host, check_id)]["required"].endswith(f"on {peers}"), (host, check_id)
    assert listeners_left(lab) == []


@pytest.fixture
def broken_inventory(lab, tmp_path):
    """The lab's inventory with a missing Cassandra member, an unreachable db2 and kube1 seeing a swap file."""
    doc = yaml.safe_load(lab.inventory_path.read_text())
    used = {h.address for h in lab.hosts} | {lab.host_address_on_bridge}
    free = next(str(a) for a in reversed(list(ipaddress.ip_network(lab.subnet).hosts())) if str(a) not in used)
    doc["all"]["vars"]["preflight_sizing_cassandra"] = {"count": 3}
    doc["all"]["hosts"]["db2"]["preflight_address"] = free
    doc["all"]["hosts"]["kube1"]["preflight_proc_root"] = "/run/fakeproc"
    path = tmp_path / "inventory.yml"
    path.write_text(yaml.safe_dump(doc))
    lab.run("kube1", FAKE_PROC, check=True, timeout=30)
    lab.run("db1", f"setsid python3 -c '{HOLDER}' </dev/null >/dev/null 2>&1 & echo started", check=True, timeout=30)
    yield path
    lab.run("db1", "pkill -f 'time.sleep\\(600\\)' || true", timeout=30)
    lab.run("kube1", "rm -rf /run/fakeproc", timeout=30)


def test_failing_hosts_give_their_check_ids_and_ignore_waives_them(lab, broken_inventory):
    rc, report = preflight(broken_inventory)
    assert rc == 3
    found = failures(report)
    expected = {
        ("db2", "memory.total"),                              # cgroup limit below the profile
        ("db1", "port.tcp9042"),                              # the listener we started
        ("kube1", "swap.off"),                                # a swap file on a Kubernetes node
        ("kube1", "net.kubernetes.cassandra.tcp9042"),        # db2 unreachable
        ("db1", "net.cassandra.cassandra.tcp7000"),           # db2 unreachable
        (None, "group.count.cassandra"),                      # 2 of 3
    }
    assert expected <= found, found - expected
    by_key = {(c["host"], c["id"]): c for c in report["fail"]}
    assert "python3" in by_key[("db1", "port.tcp9042")]["found"]
    assert "/swapfile" in by_key[("kube1", "swap.off")]["found"]
    matrix = by_key[("kube1", "net.kubernetes.cassandra.tcp9042")]["found"]
    assert "db2" in matrix and "db1" not in matrix  # db1 answered through the listener that holds 9042
    assert by_key[(None, "group.count.cassandra")]["found"] == 2

    ignores = sorted({i for _, i in found})
    rc, waived = preflight(broken_inventory, *[a for i in ignores for a in ("--ignore", i)])
    assert waived["fail"] == [] and {c["id"] for c in waived["ignored"]} >= set(ignores)
    assert rc == (4 if waived["warn"] else 0)
    assert listeners_left(lab) == []


def test_the_playbook_alone_stops_on_failure_and_honours_waivers(lab, run_playbook):
    playbook = REPO / "playbooks" / "preflight.yml"
    failed = run_playbook(playbook, lab.inventory_path, extravars={"preflight_profile": "lab"})
    assert failed.rc != 0
    assert "pre-flight failed: memory.total" in failed.stdout
    waived = run_playbook(playbook, lab.inventory_path,
                          extravars={"preflight_profile": "lab", "preflight_ignore_extra": ["db2:memory.total"]})
    assert waived.rc == 0, waived.stdout[-3000:]
    assert waived.stats.get("changed", {}) == {}  # a pre-flight changes nothing


def test_a_stopped_vm_fails_its_reachability_and_the_others_are_still_judged(lab):
    """Last in this module: it stops kube1 (the first host, the one run_once tasks pick) for good. One dead VM
    is a finding about that VM, not the end of the pre-flight of all the others ("ended ... without a report")."""
    from bundler.lab import machine, network
    from bundler.lab.config import defaults

    stopped = next(h for h in lab.state["hosts"] if h["name"] == "kube1")
    survivors = machine.kill_host(stopped.get("pid"), Path(stopped["root"]), network.netns_pids(stopped["netns"]),
                                  stopped["cgroup"], defaults().kill_timeout)
    assert survivors == []
    rc, report = preflight(lab.inventory_path, "--ignore", "db2:memory.total")
    assert rc == 3
    failed = failures(report)
    assert ("kube1", "host.reachable") in failed
    others = ["db1", "db2", "turn1"]
    judged = {c["host"] for c in report["pass"] + report["warn"] + report["fail"] if c["host"]}
    assert set(others) <= judged
    # The others fail only their connections towards the stopped VM.
    assert not {(h, i) for h, i in failed if h in others and not i.startswith("net.")}
    assert listeners_left_on(lab, others) == []  # kube1 cannot be asked


def listeners_left_on(lab, names: list[str]) -> list[str]:
    out = []
    for name in names:
        ps = lab.run(name, "grep -lx wire-preflight /proc/[0-9]*/comm || true", timeout=30).stdout.split()
        out += [f"{name}:{p}" for p in ps]
    return out
