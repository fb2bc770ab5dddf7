"""The target-side module's measuring functions against this machine's real /proc and sockets."""

from __future__ import annotations

import importlib.util
import os
import socket
from pathlib import Path

import pytest

MODULE = Path(__file__).resolve().parents[3] / "roles" / "preflight" / "library" / "wire_preflight.py"


@pytest.fixture(scope="module")
def mod():
    spec = importlib.util.spec_from_file_location("wire_preflight_module", MODULE)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def fake_proc(tmp_path: Path, swaps: str) -> Path:
    """A procfs view that is the real one except for /proc/swaps (swapon is not ours to run on a shared kernel)."""
    root = tmp_path / "proc"
    root.mkdir()
    for entry in os.listdir("/proc"):
        if entry != "swaps":
            (root / entry).symlink_to(f"/proc/{entry}")
    (root / "swaps").write_text(swaps)
    return root


def test_ports_in_use_names_the_listener_and_its_process(mod):
    with socket.socket() as tcp, socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
        tcp.bind(("127.0.0.1", 0))
        tcp.listen()
        udp.bind(("127.0.0.1", 0))
        tcp_port = tcp.getsockname()[1]
        used = mod.ports_in_use("/proc")
        assert f"(pid {os.getpid()})" in used[f"tcp/{tcp_port}"]
        assert f"udp/{udp.getsockname()[1]}" in used
    assert f"tcp/{tcp_port}" not in mod.ports_in_use("/proc")


def test_swap_read_from_procfs(mod, tmp_path):
    header = "Filename\t\t\t\tType\t\tSize\t\tUsed\t\tPriority\n"
    on = fake_proc(tmp_path, header + "/swapfile                               file\t\t1048572\t\t0\t\t-2\n")
    assert mod.swap_facts(str(on))["active"] == [{"name": "/swapfile", "type": "file", "size_kib": 1048572}]
    req = {"swap_off": "fail"}
    facts = {"swap": mod.swap_facts(str(on))}
    [verdict] = mod.judge_facts(req, facts)
    assert (verdict["id"], verdict["status"], verdict["found"]) == ("swap.off", "fail", "/swapfile (file, 1023 MiB)")


def test_disk_of_a_missing_data_dir_is_measured_at_its_nearest_parent(mod, tmp_path):
    facts = mod.disk_facts(str(tmp_path / "not" / "yet" / "there"), "/proc")
    assert facts["measured_at"] == str(tmp_path)
    st = os.statvfs(tmp_path)
    assert facts["total_gib"] == round(st.f_blocks * st.f_frsize / 1024**3, 2)
    assert facts["mount"] is not None and str(tmp_path).startswith(facts["mount"])


def test_memory_slack_boundary(mod):
    req = {"memory_mib": 4096, "slack_pct": 10, "roles": ["cassandra"]}
    at_slack = {"memory": {"usable_mib": 3687}}  # 90.0% of 4096 is 3686.4
    below = {"memory": {"usable_mib": 3686}}
    assert mod.judge_facts(req, at_slack)[0]["status"] == "pass"
    assert mod.judge_facts(req, below)[0]["status"] == "fail"


def test_roles_on_one_filesystem_add_up(mod, tmp_path):
    req = {"disks": [{"role": "cassandra", "path": str(tmp_path / "a"), "required_gib": 80},
                     {"role": "elasticsearch", "path": str(tmp_path / "b"), "required_gib": 60}]}
    facts = mod.gather(req, "/proc", "/etc/os-release")
    [disk] = facts["disks"]
    assert (disk["roles"], disk["required_gib"]) == (["cassandra", "elasticsearch"], 140.0)
    verdicts = {c["id"]: c["required"] for c in mod.judge_facts(req, facts)}
    assert verdicts == {f"disk.{k}.{r}": "140 GiB" for k in ("total", "free") for r in ("cassandra", "elasticsearch")}


def test_sysctl_and_kernel_feature_states(mod, tmp_path):
    proc = fake_proc(tmp_path, "Filename Type Size Used Priority\n")
    assert mod.sysctl_value("kernel.ostype", str(proc)) == "Linux"
    assert mod.sysctl_value("net.no.such.key", str(proc)) is None
    assert mod.kernel_feature("nosuchfeature", {"present_path": "/proc/nope"}, str(proc)) == "missing"
    req = {"sysctls": {"net.no.such.key": {"value": "1", "severity": "warn"}}}
    [verdict] = mod.judge_facts(req, {"sysctls": {"net.no.such.key": None}})
    assert (verdict["status"], verdict["found"]) == ("fail", "absent")
