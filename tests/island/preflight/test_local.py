"""The real playbook and module run by `wire-bundle preflight` against this machine (Ansible local connection).

Each run happens in a private network namespace (`unshare -n`), so the ports it sees, takes and probes are its
own and not those of other work on this machine.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.island.preflight.test_module_units import fake_proc

REPO = Path(__file__).resolve().parents[3]
SCHEMA = json.loads((REPO / "docs" / "preflight.schema.json").read_text())

pytestmark = pytest.mark.skipif(os.geteuid() != 0 or not shutil.which("unshare"),
                                reason="needs root and unshare for a private network namespace")

HOLD_PORT = (
    "import socket, time; s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1); "
    "s.bind(('0.0.0.0', 9042)); s.listen(); open('{ready}', 'w').close(); time.sleep(120)"
)


def write_inventory(tmp_path: Path, host_vars: dict | None = None, two_hosts: bool = False,
                    db1_groups: tuple[str, ...] = ("cassandra",)) -> Path:
    common = {"ansible_connection": "local", "ansible_python_interpreter": "/usr/bin/python3",
              "ansible_host": "127.0.0.1"}
    hosts = {"db1": dict(common, **(host_vars or {}))}
    children = {g: {"hosts": {"db1": None}} for g in db1_groups}
    if two_hosts:
        hosts["kube1"] = dict(common)
        children["kube_node"] = {"hosts": {"kube1": None}}
    # One machine cannot hold the lab's whole layout: the roles not tested here need no VM.
    absent = {f"preflight_sizing_{r}": {"count": 0} for r in ("minio", "elasticsearch", "restund", "assethost")}
    if not two_hosts and "kube_node" not in db1_groups:
        absent["preflight_sizing_kubernetes"] = {"count": 0}
    doc = {"all": {"hosts": hosts, "children": children, "vars": {"preflight_profile": "lab", **absent}}}
    path = tmp_path / "inventory.yml"
    path.write_text(json.dumps(doc))
    return path


def preflight(tmp_path: Path, inventory: Path, *args: str, hold_port: bool = False):
    """Run the CLI in a fresh network namespace; optionally with a listener already on tcp/9042."""
    ready = tmp_path / "ready"
    holder = ""
    if hold_port:
        holder = (f"{sys.executable} -c \"{HOLD_PORT.format(ready=ready)}\" & holder=$!; "
                  f"while [ ! -e {ready} ]; do sleep 0.1; done; ")
    script = (f"ip link set lo up; {holder}"
              f"{sys.executable} -m bundler.cli preflight -i {inventory} --format json {' '.join(args)}; rc=$?; "
              f"{'kill $holder; ' if hold_port else ''}exit $rc")
    proc = subprocess.run(["unshare", "-n", "--", "sh", "-c", script], capture_output=True, text=True,
                          timeout=240, cwd=REPO)
    assert proc.stdout.startswith("{"), proc.stdout + proc.stderr
    report = json.loads(proc.stdout)
    import jsonschema

    jsonschema.validate(report, SCHEMA)
    return proc.returncode, report


def ids(report, key, host=None):
    return {c["id"] for c in report[key] if host is None or c["host"] == host}


def test_real_facts_of_this_machine(tmp_path):
    rc, report = preflight(tmp_path, write_inventory(tmp_path, {"cassandra_data_dirs": [str(tmp_path / "d/cass")]}))
    facts = report["hosts"]["db1"]["facts"]
    assert facts["cpu"]["usable"] == len(os.sched_getaffinity(0))
    meminfo = dict(line.split(":", 1) for line in Path("/proc/meminfo").read_text().splitlines())
    assert facts["memory"]["total_mib"] == int(meminfo["MemTotal"].split()[0]) // 1024
    [disk] = facts["disks"]
    assert (disk["path"], disk["measured_at"]) == (str(tmp_path / "d/cass"), str(tmp_path))
    assert facts["os"]["kernel"] == os.uname().release
    assert rc == report["exit_code"] and report["exit_code"] in (0, 3, 4)
    assert "memory.total" in ids(report, "pass", "db1")


def test_taken_port_too_little_memory_and_swap_fail_with_their_ids(tmp_path):
    swaps = "Filename Type Size Used Priority\n/swapfile file 1048572 0 -2\n"
    inventory = write_inventory(tmp_path, {
        "preflight_sizing_cassandra": {"memory_gb": 100000},  # more than any machine here has
        "preflight_proc_root": str(fake_proc(tmp_path, swaps)),
    }, db1_groups=("cassandra", "kube_node"))  # swap is a failure on Kubernetes nodes, a warning elsewhere
    rc, report = preflight(tmp_path, inventory, hold_port=True)
    assert rc == 3
    failed = {c["id"]: c for c in report["fail"]}
    assert {"memory.total", "port.tcp9042", "swap.off"} <= set(failed)
    # (the owner's name is not asserted here: the fake procfs lists only processes older than itself)
    assert failed["port.tcp9042"]["found"].startswith("in use by")
    assert failed["swap.off"]["found"].startswith("/swapfile (file")
    # Waive the three failures one ID at a time: only warnings (or nothing) remain.
    rc, report = preflight(tmp_path, inventory, "--ignore", "memory.total", "--ignore", "port.tcp9042",
                           "--ignore", "db1:swap.off", hold_port=True)
    assert {c["id"] for c in report["ignored"]} == {"memory.total", "port.tcp9042", "swap.off"}
    assert report["fail"] == []
    assert rc == (4 if report["warn"] else 0)


def test_inventory_waiver_and_warnings_only_exit_code(tmp_path):
    inventory = write_inventory(tmp_path, {"preflight_sizing_cassandra": {"memory_gb": 100000},
                                           "preflight_ignore": ["memory.total"]})
    rc, report = preflight(tmp_path, inventory)
    assert "memory.total" in ids(report, "ignored")
    warned = sorted(ids(report, "warn"))
    if report["fail"]:
        pytest.fail(f"unexpected failures on this machine: {report['fail']}")
    assert rc == (4 if warned else 0)
    rc, report = preflight(tmp_path, inventory, *[a for w in warned for a in ("--ignore", w)])
    assert (rc, report["status"]) == (0, "pass")


def test_connectivity_between_two_hosts_through_a_temporary_listener(tmp_path):
    rc, report = preflight(tmp_path, write_inventory(tmp_path, two_hosts=True))
    probe = [c for c in report["pass"] + report["fail"] if c["id"] == "net.kubernetes.cassandra.tcp9042"]
    assert [(c["host"], c["status"]) for c in probe] == [("kube1", "pass")]
    assert "db1" in probe[0]["required"]
    assert _listeners_in_this_pid_namespace() == []


def _listeners_in_this_pid_namespace() -> list[str]:
    """Live listeners this test's hosts left behind (a zombie awaiting init's reaping holds no socket). Lab VMs
    of other tests run their own pre-flights in their own PID namespaces, visible in this /proc too: those are
    theirs to check (tests/island/preflight/test_lab.py does)."""
    ours = os.readlink("/proc/self/ns/pid")
    found = []
    for p in os.listdir("/proc"):
        if not p.isdigit():
            continue
        try:
            state = Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[-1].split()[0]
            if (Path(f"/proc/{p}/comm").read_text().strip() == "wire-preflight" and state != "Z"
                    and os.readlink(f"/proc/{p}/ns/pid") == ours):
                found.append(p)
        except OSError:  # the process ended while we looked
            continue
    return found


def test_an_unreachable_host_is_a_failed_check_and_the_others_are_still_judged(tmp_path):
    inventory = write_inventory(tmp_path)
    doc = json.loads(inventory.read_text())
    # SSH to a closed loopback port: refused at once.
    doc["all"]["hosts"]["gone"] = {"ansible_host": "127.0.0.1", "ansible_port": 1}
    doc["all"]["children"]["restund"] = {"hosts": {"gone": None}}
    inventory.write_text(json.dumps(doc))
    rc, report = preflight(tmp_path, inventory)
    assert rc == 3
    [gone] = [c for c in report["fail"] if c["host"] == "gone"]
    assert gone["id"] == "host.reachable" and "Connection refused" in gone["message"]
    assert report["hosts"]["db1"]["facts"]["cpu"]["usable"] >= 1
    assert "group.count.cassandra" in ids(report, "pass")


def test_table_output_shows_required_and_found_per_host(tmp_path):
    inventory = write_inventory(tmp_path, {"preflight_sizing_cassandra": {"memory_gb": 100000}})
    proc = subprocess.run(["unshare", "-n", "--", "sh", "-c", f"ip link set lo up; {sys.executable} -m bundler.cli "
                           f"preflight -i {inventory} --failures-only"], capture_output=True, text=True,
                          timeout=240, cwd=REPO)
    assert proc.returncode == 3, proc.stdout + proc.stderr
    out = proc.stdout
    assert "db1 (127.0.0.1) groups: cassandra" in out
    [row] = [line for line in out.splitlines() if "memory.total" in line]
    assert "fail" in row and f"{100000 * 1024} MiB" in row
    assert "cpu.cores" not in out  # passed checks hidden by --failures-only
    assert "pre-flight FAIL (profile lab): 1 failed" in out
