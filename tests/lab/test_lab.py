"""The island lab for real: systemd-nspawn hosts booted, reached over SSH and Ansible, offline, torn down."""

from __future__ import annotations

import contextlib
import ipaddress
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from bundler.lab import HostSpec, Lab, LabError
from bundler.lab.network import choose_subnet
from bundler.lab.state import all_states, read_state
from tests.support.cli import cli_command, run_cli

pytestmark = pytest.mark.lab
HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]


@pytest.fixture(scope="module")
def lab(make_lab) -> Lab:
    return make_lab("lt", [HostSpec("alpha", groups=["web", "all_vms"]),
                           HostSpec("beta", groups=["all_vms"], memory="256M", cpus=0.5)])


@contextlib.contextmanager
def listener(address: str):
    """A TCP server on the machine that answers 'hello' once per connection, for reachability probes."""
    srv = socket.socket()
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind((address, 0))
    srv.listen(8)
    srv.settimeout(0.5)
    stop = threading.Event()

    def serve():
        while not stop.is_set():
            try:
                conn, _ = srv.accept()
            except OSError:
                continue
            with conn:
                conn.sendall(b"hello\n")

    t = threading.Thread(target=serve, daemon=True)
    t.start()
    try:
        yield srv.getsockname()[1]
    finally:
        stop.set()
        t.join(2)
        srv.close()


def probe(lab: Lab, host: str, address: str, port: int) -> subprocess.CompletedProcess:
    """One bounded TCP connect from inside a host (3 s timeout)."""
    code = ("import socket,sys\ns=socket.create_connection((sys.argv[1],int(sys.argv[2])),timeout=3)\n"
            "print(s.recv(16).decode().strip())")
    return lab.run(host, f"python3 -c '{code}' {address} {port}", timeout=30)


def test_hosts_boot_with_their_own_identity(lab):
    assert [h.name for h in lab.hosts] == ["alpha", "beta"]
    net = ipaddress.ip_network(lab.subnet)
    for h in lab.hosts:
        assert ipaddress.ip_address(h.address) in net
        assert (h.root / "etc/os-release").exists()
        out = lab.run(h.name, "hostname; systemctl is-system-running; cat /etc/machine-id", check=True).stdout
        hostname, state, machine_id = out.split()
        assert (hostname, state) == (h.name, "running")
        assert len(machine_id) == 32
    # systemd in a host sees its own cgroup subtree at the root; a "/.." here makes it refuse the PID files
    # of forking services (nginx, chrony) as "outside of service control group".
    cg = lab.run("alpha", "cat /proc/self/cgroup", check=True).stdout
    assert "/.." not in cg, cg
    a = lab.run("alpha", "cat /etc/ssh/ssh_host_ed25519_key.pub", check=True).stdout
    b = lab.run("beta", "cat /etc/ssh/ssh_host_ed25519_key.pub", check=True).stdout
    assert a.split()[1] != b.split()[1], "hosts must not share SSH host keys"
    # Names resolve through /etc/hosts: peers and the machine-side gateway.
    out = lab.run("alpha", "getent hosts beta lab-gateway", check=True).stdout.split()
    assert out == [lab.host("beta").address, "beta", lab.host_address_on_bridge, "lab-gateway"]


def test_ansible_reaches_every_host_with_strict_host_keys(lab, run_playbook):
    result = run_playbook(HERE / "ping.yml", lab.inventory_path)
    assert result.rc == 0, result.stdout[-2000:]
    assert set(result.stats["ok"]) == {"alpha", "beta"}
    assert not result.failed_hosts()
    limited = run_playbook(HERE / "ping.yml", lab.inventory_path, limit="web")
    assert set(limited.stats["ok"]) == {"alpha"}


def test_inventory_lists_groups_and_connection(lab):
    proc = subprocess.run([str(Path(sys.executable).parent / "ansible-inventory"), "-i", str(lab.inventory_path),
                           "--list"], capture_output=True, text=True, check=True)
    import json

    inv = json.loads(proc.stdout)
    assert sorted(inv["web"]["hosts"]) == ["alpha"]
    assert sorted(inv["all_vms"]["hosts"]) == ["alpha", "beta"]
    hv = inv["_meta"]["hostvars"]["beta"]
    assert hv["ansible_host"] == lab.host("beta").address
    assert hv["ansible_user"] == "root"
    assert Path(hv["ansible_ssh_private_key_file"]) == lab.key_path


def test_hosts_reach_each_other_and_the_bridge_address(lab):
    assert lab.run("alpha", "python3 -c 'import socket; socket.create_connection((\"beta\", 22), 3)'").returncode == 0
    with listener(lab.host_address_on_bridge) as port:
        proc = probe(lab, "beta", lab.host_address_on_bridge, port)
    assert proc.stdout.strip() == "hello", proc.stderr


def test_nothing_beyond_the_bridge_is_reachable(lab):
    # No route: the kernel refuses before sending anything.
    proc = lab.run("alpha", "ip route get 198.51.100.7")
    assert proc.returncode != 0 and "unreachable" in proc.stderr.lower()
    # Even with a default route via the bridge (as a careless role might add), an address of the machine
    # that is not the bridge address stays unreachable: a veth pair of our own with a free /24.
    decoy_net = choose_subnet("10.213.0.0/16", {s["subnet"] for s in all_states()})
    decoy_ip, dummy = str(decoy_net.network_address + 1), f"wbltd{os.getpid() % 10000}"
    subprocess.run(["ip", "link", "add", dummy, "type", "veth", "peer", "name", dummy + "p"], check=True)
    try:
        subprocess.run(["ip", "addr", "add", f"{decoy_ip}/24", "dev", dummy], check=True)
        subprocess.run(["ip", "link", "set", dummy, "up"], check=True)
        lab.run("alpha", f"ip route add default via {lab.host_address_on_bridge}", check=True)
        with listener("0.0.0.0") as port:
            assert probe(lab, "alpha", lab.host_address_on_bridge, port).stdout.strip() == "hello"
            blocked = probe(lab, "alpha", decoy_ip, port)
        assert blocked.returncode != 0
        assert "timed out" in blocked.stderr or "refused" in blocked.stderr.lower() or "unreachable" in blocked.stderr
    finally:
        lab.run("alpha", "ip route del default")
        subprocess.run(["ip", "link", "del", dummy], check=False)


def test_memory_and_cpu_limits_apply_to_the_host(lab):
    limit = lab.run("beta", "cat /sys/fs/cgroup/memory/memory.limit_in_bytes 2>/dev/null "
                            "|| cat /sys/fs/cgroup/memory.max", check=True).stdout.strip()
    assert int(limit) == 256 << 20
    quota = lab.run("beta", "cat /sys/fs/cgroup/cpu/cpu.cfs_quota_us /sys/fs/cgroup/cpu/cpu.cfs_period_us 2>/dev/null "
                            "|| cat /sys/fs/cgroup/cpu.max", check=True).stdout.split()
    assert int(quota[0]) / int(quota[1]) == 0.5
    # Allocating more than the limit gets the process killed instead of succeeding.
    hog = lab.run("beta", "python3 -c 'b = bytearray(400 * 2**20); b[::4096] = b\"x\" * len(b[::4096])'",
                  timeout=60)
    assert hog.returncode != 0
    assert lab.run("beta", "systemctl is-system-running").stdout.strip() in ("running", "degraded")


def test_second_up_reuses_same_lab_and_refuses_other_hosts(lab):
    again = Lab(lab.name, [HostSpec("alpha", groups=["web", "all_vms"]),
                           HostSpec("beta", groups=["all_vms"], memory="256M", cpus=0.5)])
    t = time.monotonic()
    again.up()
    assert time.monotonic() - t < 5
    assert [h.address for h in again.hosts] == [h.address for h in lab.hosts]
    other = Lab(lab.name, [HostSpec("gamma")])
    with pytest.raises(LabError, match=f"lab name '{lab.name}' is taken by a running lab with different hosts"):
        other.up()


def test_down_leaves_nothing(make_lab):
    lab = make_lab("ld", [HostSpec("one"), HostSpec("two")])
    st = read_state(lab.name)
    lab.down()
    assert lab.leftovers() == []
    assert not Path(st["workdir"]).exists()
    assert not any(Path("/run/netns").glob(f"wbl-{lab.name}-*"))
    assert not Path("/sys/class/net", st["bridge"]).exists()
    assert str(st["workdir"]) not in Path("/proc/self/mountinfo").read_text()
    assert f"wire-bundle-lab:{lab.name}" not in subprocess.run(["iptables", "-S"], capture_output=True,
                                                               text=True).stdout
    assert read_state(lab.name) is None
    lab.down()  # a second down is harmless


def test_down_cleans_up_after_a_killed_up(tmp_path):
    from tests.fixtures.lab import require_lab

    require_lab()
    name = f"crash-{os.getpid() % 10000}"
    spec = tmp_path / "lab.yaml"
    spec.write_text(f"name: {name}\nhosts: {{a: {{}}, b: {{}}, c: {{}}}}\n")
    proc = subprocess.Popen(cli_command("lab", "up", spec), cwd=REPO,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:  # kill it once it has started at least one host
            st = read_state(name)
            if st and any(h.get("pid") for h in st["hosts"]):
                break
            time.sleep(0.05)
        else:
            pytest.fail("lab up never started a host")
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        st = read_state(name)
        assert st["status"] == "starting"
        lab = Lab.attach(name)
        assert lab.leftovers(), "a killed up leaves things behind for down to find"
        down = run_cli("lab", "down", name, cwd=REPO, timeout=120)
        assert down.returncode == 0, down.stderr
        assert Lab(name, [HostSpec("a")]).leftovers() == []
        from bundler.lab import leftovers

        assert leftovers(st) == []
    finally:
        if proc.poll() is None:
            proc.kill()
        if read_state(name):
            Lab.attach(name).down()


def test_cli_up_status_ssh_down(tmp_path):
    from tests.fixtures.lab import require_lab

    require_lab()
    name = f"cli-{os.getpid() % 10000}"
    spec = tmp_path / "lab.yaml"
    spec.write_text(f"name: {name}\nhosts:\n  web: {{groups: [front]}}\n")
    inv_copy = tmp_path / "out" / "inventory.yml"

    def cli(*args: str) -> subprocess.CompletedProcess:
        return run_cli("lab", *args, cwd=REPO)

    try:
        up = cli("up", str(spec), "--inventory", str(inv_copy))
        assert up.returncode == 0, up.stderr
        assert f"lab {name}: subnet 10.213." in up.stdout and " running " in up.stdout
        assert inv_copy.read_text() == Lab.attach(name).inventory_path.read_text()
        status = cli("status", name)
        assert status.returncode == 0 and "web" in status.stdout and "groups=front" in status.stdout
        ssh = cli("ssh", name, "web", "--", "hostname", "-s")
        assert (ssh.returncode, ssh.stdout.strip()) == (0, "web")
        bad = cli("ssh", name, "nope")
        assert bad.returncode == 1 and bad.stderr.strip() == f"error: lab {name} has no host 'nope' (hosts: web)"
    finally:
        down = cli("down", name)
    assert down.returncode == 0, down.stderr
    gone = cli("status", name)
    assert gone.returncode == 1 and gone.stderr.strip() == f"error: no lab named '{name}' on this machine"
    assert cli("down", "--missing-ok", name).returncode == 0


def test_concurrent_ups_get_separate_subnets(make_lab):
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(2) as pool:
        labs = list(pool.map(lambda n: make_lab(n, [HostSpec("solo")]), ["cc1", "cc2"]))
    a, b = labs
    assert a.subnet != b.subnet
    assert not ipaddress.ip_network(a.subnet).overlaps(ipaddress.ip_network(b.subnet))
    # Labs are separate islands: a host of one cannot reach a host of the other.
    assert a.run("solo", f"ip route get {b.host('solo').address}").returncode != 0
    for lab in labs:
        assert lab.run("solo", "hostname", check=True).stdout.strip() == "solo"
        lab.down()
        assert lab.leftovers() == []


def test_net_sysctls_are_writable_in_a_host_and_stay_there(lab):
    before = Path("/proc/sys/net/ipv4/ip_forward").read_text()
    out = lab.run("alpha", "sysctl -w net.ipv4.ip_forward=1 && sysctl -n net.ipv4.ip_forward", check=True).stdout
    assert out.split()[-1] == "1"
    assert Path("/proc/sys/net/ipv4/ip_forward").read_text() == before, "a host's netns is its own"
    assert lab.run("beta", "sysctl -n net.ipv4.ip_forward").stdout.strip() == "0"
    # Kernel-wide settings are the machine's: they stay read-only in a host.
    assert lab.run("alpha", "sysctl -w vm.swappiness=10").returncode != 0
    lab.run("alpha", "sysctl -w net.ipv4.ip_forward=0", check=True)
