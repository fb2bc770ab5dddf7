"""The island lab: N simulated Debian VMs (systemd-nspawn + overlay roots) on a private, offline network.

    lab = Lab(name="t1", hosts=[HostSpec(name="asset", groups=["assethost"], packages=["nginx"])])
    lab.up()            # builds/reuses the cached base, boots every host, waits for SSH, writes the inventory
    lab.run("asset", "systemctl is-system-running")
    lab.down()          # removes processes, mounts, netns, links, firewall rules, cgroups and files

A second `up` of a lab that is running with the same hosts reuses it; with different hosts it is refused;
a lab whose processes are all gone (crash, reboot, killed test run) is torn down and brought up afresh.
"""

from __future__ import annotations

import contextlib
import ipaddress
import os
import shutil
import subprocess
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from bundler.lab import access, base, cgroups, machine, network
from bundler.lab.config import defaults
from bundler.lab.errors import LabError
from bundler.lab.spec import HostSpec, check_hosts, check_lab_name
from bundler.lab.state import all_states, machine_lock, read_state, remove_state, write_state
from bundler.lab.sysrun import require_root_and_tools


@dataclass
class LabHost:
    name: str
    address: str | None
    groups: list[str]
    packages: list[str]
    root: Path


class Lab:
    def __init__(self, name: str, hosts: list[HostSpec], workdir: Path | str | None = None, *,
                 suite: str | None = None, cache_dir: Path | str | None = None, mirror: str | None = None,
                 log=print):
        self.name = check_lab_name(name)
        self.specs = check_hosts(list(hosts))
        d = defaults()
        self.workdir = Path(workdir) if workdir else d.labs_dir / name
        self.suite = suite or d.suite
        self.cache_dir = Path(cache_dir) if cache_dir else d.cache_dir
        self.mirror = mirror
        self.log = log
        self._state: dict | None = None

    # ---- attaching to a lab that exists -------------------------------------------------------------

    @classmethod
    def attach(cls, name: str, log=print) -> Lab:
        """The lab `name` as recorded in its state file (for down/status/ssh from another process)."""
        state = read_state(check_lab_name(name))
        if state is None:
            raise LabError(f"no lab named {name!r} on this machine (`wire-bundle lab status` lists labs)")
        lab = cls(name, [HostSpec(**{k: h[k] for k in ("name", "groups", "packages", "memory", "cpus")})
                         for h in state["hosts"]], state["workdir"], suite=state["suite"], log=log)
        lab._state = state
        return lab

    # ---- what other code reads ------------------------------------------------------------------------

    @property
    def state(self) -> dict:
        if self._state is None:
            raise LabError(f"lab {self.name} is not up")
        return self._state

    @property
    def inventory_path(self) -> Path:
        return self.workdir / "inventory.yml"

    @property
    def key_path(self) -> Path:
        return self.workdir / "ssh" / "id_ed25519"

    @property
    def known_hosts_path(self) -> Path:
        return self.workdir / "ssh" / "known_hosts"

    @property
    def host_address_on_bridge(self) -> str:
        return self.state["bridge_address"]

    @property
    def subnet(self) -> str:
        return self.state["subnet"]

    @property
    def hosts(self) -> list[LabHost]:
        addresses = {h["name"]: h["address"] for h in self._state["hosts"]} if self._state else {}
        return [LabHost(s.name, addresses.get(s.name), list(s.groups), list(s.packages),
                        self.workdir / "hosts" / s.name / "merged") for s in self.specs]

    def host(self, name: str) -> LabHost:
        for h in self.hosts:
            if h.name == name:
                return h
        raise LabError(f"lab {self.name} has no host {name!r} (hosts: {', '.join(s.name for s in self.specs)})")

    def ssh_command(self, host_name: str, command: str | None = None) -> list[str]:
        return access.ssh_command(self.key_path, self.known_hosts_path, self._address(host_name), command)

    def run(self, host_name: str, command: str, *, check: bool = False, timeout: float = 600,
            input: str | None = None) -> subprocess.CompletedProcess:
        """Run a shell command in a host over SSH as root; text output captured."""
        proc = subprocess.run(self.ssh_command(host_name, command), capture_output=True, text=True,
                              timeout=timeout, input=input)
        if check and proc.returncode != 0:
            raise LabError(f"lab {self.name} host {host_name}: `{command}` exited {proc.returncode}: "
                           f"{proc.stderr.strip()[-300:]}")
        return proc

    def _address(self, host_name: str) -> str:
        address = self.host(host_name).address
        if address is None:
            raise LabError(f"lab {self.name} is not up")
        return address

    # ---- up --------------------------------------------------------------------------------------------

    def up(self) -> Lab:
        require_root_and_tools()
        if self._reuse_or_clear(read_state(self.name)):
            return self
        self._check_workdir()
        bases = self._bases()  # slow and independent of other labs: outside the machine lock
        with machine_lock():
            existing = read_state(self.name)
            if existing is not None:
                raise LabError(f"lab name {self.name!r} was just taken by another `lab up` (pid "
                               f"{existing.get('owner_pid')}); pick another name")
            self._check_workdir()
            net = network.choose_subnet(defaults().subnet_pool, {s["subnet"] for s in all_states()})
            self._state = self._new_state(net, bases)
            write_state(self._state)
        try:
            self._create()
        except BaseException:
            with contextlib.suppress(Exception):
                teardown(self._state, log=lambda *_: None)
            self._state = None
            raise
        return self

    def _reuse_or_clear(self, existing: dict | None) -> bool:
        """Decide what a second `up` does: True = reuse the running lab, False = build it (again)."""
        if existing is None:
            return False
        alive = [h["name"] for h in existing["hosts"]
                 if machine.is_our_nspawn(h.get("pid"), Path(h["root"]))]
        owner = existing.get("owner_pid")
        starting = existing.get("status") != "running"
        if starting and machine.pid_alive(owner) and owner != os.getpid():
            raise LabError(f"lab {self.name} is being brought up right now by pid {owner}")
        if starting or not alive:
            # Its `up` died halfway, or its hosts died (crash, reboot): nobody can use it any more.
            self.log(f"lab {self.name}: found a stale lab ({len(alive)} host(s) running); tearing it down first")
            teardown(existing, log=self.log)
            return False
        same = ([h.to_dict() for h in self.specs] == [_spec_dict(h) for h in existing["hosts"]]
                and existing["suite"] == self.suite)
        if same and len(alive) == len(existing["hosts"]):
            self.workdir = Path(existing["workdir"])
            self._state = existing
            self.log(f"lab {self.name}: already up with the same hosts; reusing it")
            return True
        raise LabError(f"lab name {self.name!r} is taken by a running lab with "
                       f"{'different hosts' if not same else 'hosts not all running'} "
                       f"({', '.join(h['name'] for h in existing['hosts'])}); "
                       f"run `wire-bundle lab down {self.name}` first or pick another name")

    def _check_workdir(self) -> None:
        if self.workdir.exists() and any(self.workdir.iterdir()):
            raise LabError(f"lab {self.name}: work directory {self.workdir} exists and is not empty; "
                           f"remove it or pass another workdir")

    def _bases(self) -> dict[str, Path]:
        out = {}
        for s in self.specs:
            pkgs = sorted(set(defaults().base_packages) | set(s.packages))
            key = base.base_key(self.suite, pkgs)
            if key not in out:
                out[key] = base.ensure_base(self.cache_dir, self.suite, pkgs, self.mirror, log=self.log)
        return out

    def _new_state(self, net: ipaddress.IPv4Network, bases: dict[str, Path]) -> dict:
        octet = int(net.network_address.packed[2])
        first = defaults().first_host_offset
        hosts = []
        for i, s in enumerate(self.specs):
            pkgs = sorted(set(defaults().base_packages) | set(s.packages))
            hosts.append({**s.to_dict(), "index": i, "address": str(net.network_address + first + i),
                          "netns": network.netns_name(self.name, s.name),
                          "veth": network.veth_name(octet, i), "cgroup": f"{self.name}-{s.name}",
                          "base": str(bases[base.base_key(self.suite, pkgs)]),
                          "root": str(self.workdir / "hosts" / s.name / "merged"), "pid": None})
        return {"name": self.name, "status": "starting", "owner_pid": os.getpid(), "suite": self.suite,
                "workdir": str(self.workdir), "created_workdir": not self.workdir.exists(),
                "subnet": str(net), "octet": octet, "bridge": network.bridge_name(octet),
                "bridge_address": str(net.network_address + 1), "created_at": time.time(), "hosts": hosts}

    def _create(self) -> None:
        st, d = self.state, defaults()
        started = time.monotonic()
        self.workdir.mkdir(parents=True, exist_ok=True)
        (self.workdir / "logs").mkdir(exist_ok=True)
        key = access.ensure_lab_key(self.workdir / "ssh")
        pub = key.with_suffix(".pub").read_text()
        network.create_bridge(self.name, st["octet"], st["bridge_address"])
        hosts_file = ("127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n"
                      f"{st['bridge_address']}\t{d.gateway_name}\n"
                      + "".join(f"{h['address']}\t{h['name']}\n" for h in st["hosts"]))
        known = []
        for h in st["hosts"]:
            network.create_host_net(self.name, h["name"], st["octet"], h["index"], h["address"])
            root = machine.mount_overlay(Path(h["base"]), self.workdir / "hosts" / h["name"])
            known.append((h["name"], h["address"], machine.write_identity(root, h["name"], hosts_file, pub)))
            spec = next(s for s in self.specs if s.name == h["name"])
            cgroups.create(h["cgroup"], spec.memory_bytes(), spec.cpus)
        access.write_known_hosts(self.known_hosts_path, known)
        for h in st["hosts"]:
            volumes = [(self.workdir / "hosts" / h["name"] / "volumes" / v.strip("/").replace("/", "_"), v)
                       for v in d.host_volumes]
            h["pid"] = machine.start(Path(h["root"]), h["cgroup"], h["name"], h["netns"], h["cgroup"],
                                     self.workdir / "logs" / f"{h['name']}.log", volumes)
            write_state(st)
        deadline = time.monotonic() + d.boot_timeout

        def wait(h: dict) -> tuple[str, str | None]:
            reason = access.wait_for_ssh(h["address"], key, self.known_hosts_path, deadline,
                                         alive=lambda: machine.is_our_nspawn(h["pid"], Path(h["root"])))
            return h["name"], reason

        with ThreadPoolExecutor(max_workers=min(8, len(st["hosts"]))) as pool:
            failed = [(n, r) for n, r in pool.map(wait, st["hosts"]) if r]
        if failed:
            n, r = failed[0]
            kept = self._keep_logs()
            raise LabError(f"lab {self.name}: host {n} did not answer SSH within {d.boot_timeout:.0f} s "
                           f"({r}; log ends: {_log_tail(kept / (n + '.log'))}); boot logs kept in {kept}"
                           + (f" (and {len(failed) - 1} more hosts failed)" if len(failed) > 1 else ""))
        access.write_inventory(self.inventory_path, access.inventory(
            st["hosts"], key, self.known_hosts_path, st["bridge_address"], self.name))
        st["status"] = "running"
        st["up_seconds"] = round(time.monotonic() - started, 1)
        write_state(st)

    def _keep_logs(self) -> Path:
        """Copy the hosts' boot logs out of the work dir, which the failed `up` is about to remove."""
        dest = defaults().home / "failed" / f"{self.name}-{time.strftime('%Y%m%dT%H%M%S')}"
        dest.mkdir(parents=True, exist_ok=True)
        for log in (self.workdir / "logs").glob("*.log"):
            shutil.copy(log, dest / log.name)
        return dest

    # ---- down ------------------------------------------------------------------------------------------

    def down(self) -> None:
        require_root_and_tools()
        state = read_state(self.name)
        if state is not None:
            teardown(state, log=self.log)
        self._state = None

    def leftovers(self) -> list[str]:
        state = self._state or read_state(self.name)
        return leftovers(state) if state else []

    def disk_usage(self) -> dict[str, int]:
        """Bytes each host holds on top of the shared base (overlay upper layer and volumes)."""
        return {h.name: _du(self.workdir / "hosts" / h.name) for h in self.hosts}


def _log_tail(path: Path, lines: int = 2) -> str:
    try:
        text = [ln.strip() for ln in path.read_text(errors="replace").splitlines() if ln.strip()]
    except OSError:
        return "no log"
    return " | ".join(text[-lines:]) or "empty log"


def _spec_dict(h: dict) -> dict:
    return HostSpec(**{k: h[k] for k in ("name", "groups", "packages", "memory", "cpus")}).to_dict()


def _du(path: Path) -> int:
    # -x: stay off the mounted overlay root (it would count the shared base again).
    proc = subprocess.run(["du", "-sbx", str(path)], capture_output=True, text=True)
    # A running host removes files while du walks (a container's snapshot going away): du then exits 1 but still
    # prints the total of what it found, which is the answer. No total at all is a real failure.
    if not proc.stdout.strip():
        raise LabError(f"lab: cannot measure the disk use of {path}: {proc.stderr.strip() or 'du printed nothing'}")
    return int(proc.stdout.split()[0])


def teardown(state: dict, log=print) -> None:
    """Remove everything the lab in `state` may have created, in an order that cannot leave orphans."""
    name, octet, workdir = state["name"], state.get("octet"), Path(state["workdir"])
    d = defaults()
    for h in state["hosts"]:
        machine.kill_host(h.get("pid"), Path(h["root"]), network.netns_pids(h["netns"]), h["cgroup"],
                          d.kill_timeout)
    machine.unmount_all(workdir / "hosts")
    for h in state["hosts"]:
        cgroups.remove(h["cgroup"])
    network.remove_net(name, octet, [h["name"] for h in state["hosts"]])
    if not machine.mounts_under(workdir):
        if state.get("created_workdir", True):
            shutil.rmtree(workdir, ignore_errors=True)
        else:
            for sub in ("hosts", "ssh", "logs", "inventory.yml"):
                p = workdir / sub
                if p.is_dir():
                    shutil.rmtree(p, ignore_errors=True)
                else:
                    p.unlink(missing_ok=True)
    left = leftovers(state, include_state=False)
    if left:
        raise LabError(f"lab {name}: teardown left {len(left)} thing(s) behind: {'; '.join(left[:5])}; "
                       f"run `wire-bundle lab down {name}` again")
    remove_state(name)
    log(f"lab {name}: down")


def leftovers(state: dict, include_state: bool = True) -> list[str]:
    """Everything of this lab still present on the machine, one description per item."""
    name, octet, workdir = state["name"], state.get("octet"), Path(state["workdir"])
    left = []
    for h in state["hosts"]:
        if machine.is_our_nspawn(h.get("pid"), Path(h["root"])):
            left.append(f"process {h['pid']} (systemd-nspawn of {h['name']})")
        pids = set(network.netns_pids(h["netns"])) | cgroups.procs(h["cgroup"])
        left += [f"process {p} (in host {h['name']})" for p in sorted(pids) if machine.pid_alive(p)]
        left += [f"cgroup {p}" for p in cgroups.host_dirs(h["cgroup"]) if p.exists()]
    left += [f"mount {m}" for m in machine.mounts_under(workdir)]
    left += [f"netns {n}" for n in network.lab_netns(name)]
    if octet is not None:
        left += [f"link {n}" for n in network.lab_links(octet)]
    left += [f"firewall rule {r}" for r in network.firewall_rules(name)]
    if state.get("created_workdir", True) and workdir.exists():
        left.append(f"directory {workdir}")
    elif (workdir / "hosts").exists():
        left.append(f"directory {workdir / 'hosts'}")
    if include_state and read_state(name) is not None:
        left.append(f"state file of lab {name}")
    return left
