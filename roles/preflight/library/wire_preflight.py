#!/usr/bin/python
"""Ansible module: a Wire pre-flight on one target host.

Self-contained on purpose: it runs on bare VMs before anything is installed, with only Python's standard
library. The controller (bundler.island.preflight) works out what a host must have; this module measures and judges.
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import os
import select
import signal
import socket
import struct
import time

from ansible.module_utils.basic import AnsibleModule

DOCUMENTATION = r"""
---
module: wire_preflight
short_description: Measure a host against Wire's sizing and open or probe temporary listeners
description:
  - C(mode=facts) returns the host's CPU count, memory, disks under each role's data path, OS, swap, time
    synchronisation, ports in use, kernel features and sysctls, and a verdict (pass, warn, fail) per check ID.
  - C(mode=listen) binds the given ports that nothing listens on yet and serves them from a detached process
    (TCP accept, UDP echo) for O(duration) seconds, so peers can test reachability before services exist.
  - C(mode=probe) connects to peers' ports (TCP connect, UDP datagram with a reply expected).
  - C(mode=stop) ends a listener started by C(mode=listen).
  - Reports changed=false in every mode, check mode included; listeners are temporary and removed by
    C(mode=stop) or their timeout.
options:
  mode:
    description: What to do.
    type: str
    choices: [facts, listen, probe, stop]
    default: facts
  requirements:
    description: What this host must have (computed by the controller from the sizing table and its groups).
    type: dict
    default: {}
  ports:
    description: For C(mode=listen), a list of C({proto, port}).
    type: list
    elements: dict
    default: []
  duration:
    description: For C(mode=listen), seconds after which the listener exits by itself.
    type: int
    default: 300
  targets:
    description: For C(mode=probe), a list of C({id, host, address, proto, port}).
    type: list
    elements: dict
    default: []
  timeout:
    description: For C(mode=probe), seconds per connection attempt.
    type: float
    default: 3.0
  pid:
    description: For C(mode=stop), the listener's process ID returned by C(mode=listen).
    type: int
  proc_root:
    description: Where procfs is read; tests point it at a prepared copy to simulate swap.
    type: path
    default: /proc
  os_release:
    description: The os-release file to read.
    type: path
    default: /etc/os-release
author: wire-bundle
"""

EXAMPLES = r"""
- name: Measure and judge this host
  wire_preflight:
    requirements: "{{ preflight_requirements }}"
  register: preflight_facts
"""

RETURN = r"""
facts:
  description: What was measured (cpu, memory_mib, disks, os, swap, time, ports_in_use, kernel, sysctls).
  returned: mode=facts
  type: dict
checks:
  description: One entry per check, each with id, status (pass, warn, fail), required, found, message.
  returned: mode=facts and mode=probe
  type: list
pid:
  description: Listener process ID.
  returned: mode=listen
  type: int
listening:
  description: Ports the listener serves.
  returned: mode=listen
  type: list
already_in_use:
  description: Ports left alone because something listens on them already (probes reach that service).
  returned: mode=listen
  type: list
"""


GIB = 1024**3
MIB = 1024**2
TIME_DAEMONS = ("chronyd", "ntpd", "systemd-timesyncd", "openntpd", "timesyncd")
# UDP probes need an answer: a request the real service answers, which our listener simply echoes.
# RFC 5389 binding request for TURN/STUN; RFC 5905 client request (LI 0, version 3, mode 3) for NTP.
UDP_PAYLOADS = {
    "stun": struct.pack("!HHI12s", 0x0001, 0, 0x2112A442, b"wirepreflght"),
    "ntp": b"\x1b" + b"\0" * 47,
}
# The listener renames itself (comm) so `ps` shows what it is and mode=stop never kills anything else.
LISTENER_NAME = b"wire-preflight"


def check(check_id, status, required, found, message=""):
    return {"id": check_id, "status": status, "required": required, "found": found, "message": message}


# ---------------------------------------------------------------- measuring


def read_text(path, default=None):
    try:
        with open(path, encoding="utf-8", errors="replace") as fh:
            return fh.read()
    except OSError:
        return default


CGROUP = "/sys/fs/cgroup"


def cgroup_dirs(proc_root, controller):
    """This process's cgroup directories for a controller, deepest first, ending at the hierarchy's root.

    Covers v1 and v2. When the cgroup path in /proc/self/cgroup is not found under the mount (a container whose
    own subtree is bound over /sys/fs/cgroup), leading components are dropped until it is.
    """
    dirs = []
    for line in (read_text(os.path.join(proc_root, "self", "cgroup"), "") or "").splitlines():
        _, ctrls, rel = line.split(":", 2)
        if ctrls == "":
            bases = [CGROUP, os.path.join(CGROUP, "unified")]
        elif controller in ctrls.split(","):
            bases = [os.path.join(CGROUP, ctrls)]
        else:
            continue
        for base in bases:
            if not os.path.isdir(base):
                continue
            parts = [p for p in rel.split("/") if p]
            start = base
            for i in range(len(parts) + 1):
                candidate = os.path.join(base, *parts[i:])
                if os.path.isdir(candidate):
                    start = candidate
                    break
            d = start
            while True:
                dirs.append(d)
                if os.path.normpath(d) == os.path.normpath(base):
                    break
                d = os.path.dirname(d)
    return dirs


def cgroup_memory_limit(proc_root):
    limits = []
    for d in cgroup_dirs(proc_root, "memory"):
        for name in ("memory.max", "memory.limit_in_bytes"):
            value = (read_text(os.path.join(d, name), "") or "").strip()
            if value.isdigit():
                limits.append(int(value))
    return min(limits) if limits else None


def cgroup_cpu_limit(proc_root):
    """CPUs a CFS quota allows (a VM slice or a lab host given cpus=N), or None when unlimited."""
    limits = []
    for d in cgroup_dirs(proc_root, "cpu"):
        v2 = (read_text(os.path.join(d, "cpu.max"), "") or "").split()
        quota = (read_text(os.path.join(d, "cpu.cfs_quota_us"), "") or "").strip()
        period = (read_text(os.path.join(d, "cpu.cfs_period_us"), "") or "").strip()
        if len(v2) == 2 and v2[0].isdigit():
            limits.append(int(v2[0]) / int(v2[1]))
        elif quota.isdigit() and period.isdigit() and int(period):
            limits.append(int(quota) / int(period))
    return min(limits) if limits else None


def cpu_facts(proc_root):
    try:
        affinity = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        affinity = os.cpu_count() or 0
    quota = cgroup_cpu_limit(proc_root)
    usable = affinity if quota is None else min(affinity, max(1, int(quota + 0.999)))
    return {"online": os.cpu_count() or 0, "affinity": affinity, "cgroup_quota": quota, "usable": usable}


def meminfo(proc_root):
    values = {}
    for line in (read_text(os.path.join(proc_root, "meminfo"), "") or "").splitlines():
        key, _, rest = line.partition(":")
        parts = rest.split()
        if parts and parts[0].isdigit():
            values[key] = int(parts[0]) * 1024
    return values


def memory_facts(proc_root):
    total = meminfo(proc_root).get("MemTotal", 0)
    # A container or VM slice may be capped below what the kernel reports.
    limit = cgroup_memory_limit(proc_root)
    capped = limit if limit is not None and limit < total else None
    usable = capped if capped is not None else total
    return {"total_mib": total // MIB, "cgroup_limit_mib": capped // MIB if capped else None,
            "usable_mib": usable // MIB}


def mount_points(proc_root):
    points = []
    for line in (read_text(os.path.join(proc_root, "self", "mountinfo"), "") or "").splitlines():
        fields = line.split()
        if len(fields) > 4:
            points.append(fields[4].replace("\\040", " "))
    return points


def existing_parent(path):
    path = os.path.abspath(path)
    while not os.path.exists(path):
        parent = os.path.dirname(path)
        if parent == path:
            break
        path = parent
    return path


def disk_facts(path, proc_root):
    probe = existing_parent(path)
    st = os.statvfs(probe)
    mounts = [m for m in mount_points(proc_root) if probe == m or probe.startswith(m.rstrip("/") + "/")]
    return {
        "path": path,
        "measured_at": probe,
        "mount": max(mounts, key=len) if mounts else None,
        "device": os.stat(probe).st_dev,
        "total_gib": round(st.f_blocks * st.f_frsize / GIB, 2),
        "free_gib": round(st.f_bavail * st.f_frsize / GIB, 2),
    }


def os_facts(os_release):
    info = {}
    for line in (read_text(os_release, "") or "").splitlines():
        key, sep, value = line.partition("=")
        if sep:
            info[key.strip()] = value.strip().strip('"')
    return {"id": info.get("ID", "unknown"), "version": info.get("VERSION_ID", ""),
            "pretty": info.get("PRETTY_NAME", "unknown"), "kernel": os.uname().release}


def swap_facts(proc_root):
    lines = (read_text(os.path.join(proc_root, "swaps"), "") or "").splitlines()[1:]
    active = []
    for line in lines:
        fields = line.split()
        if len(fields) >= 3:
            active.append({"name": fields[0], "type": fields[1], "size_kib": int(fields[2])})
    return {"active": active, "total_mib": meminfo(proc_root).get("SwapTotal", 0) // MIB}


def process_names(proc_root):
    names = {}
    for entry in os.listdir(proc_root):
        if entry.isdigit():
            comm = read_text(os.path.join(proc_root, entry, "comm"))
            if comm:
                names[int(entry)] = comm.strip()
    return names


def kernel_clock_synchronised():
    """The kernel's own view (what timedatectl's NTPSynchronized reports): TIME_ERROR means unsynchronised."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        buf = ctypes.create_string_buffer(512)  # struct timex; only the return value is read
        state = libc.adjtimex(buf)
    except (OSError, AttributeError):
        return None
    if state < 0:
        return None
    return state != 5


def time_facts(proc_root):
    daemons = sorted({n for n in process_names(proc_root).values() if n in TIME_DAEMONS})
    return {"kernel_synchronised": kernel_clock_synchronised(), "daemons": daemons, "epoch": time.time()}


def socket_owners(proc_root):
    """Socket inode -> 'name (pid N)', so a taken port names who holds it."""
    owners = {}
    for pid, name in process_names(proc_root).items():
        fd_dir = os.path.join(proc_root, str(pid), "fd")
        try:
            fds = os.listdir(fd_dir)
        except OSError:
            continue
        for fd in fds:
            try:
                target = os.readlink(os.path.join(fd_dir, fd))
            except OSError:
                continue
            if target.startswith("socket:["):
                owners.setdefault(target[8:-1], f"{name} (pid {pid})")
    return owners


def ports_in_use(proc_root):
    """Listening TCP sockets and bound UDP sockets of this network namespace: {"tcp/9042": "owner"}."""
    owners = socket_owners(proc_root)
    used = {}
    for proto, files, wanted_state in (("tcp", ("tcp", "tcp6"), "0A"), ("udp", ("udp", "udp6"), "07")):
        for name in files:
            text = read_text(os.path.join(proc_root, "net", name), "") or ""
            for line in text.splitlines()[1:]:
                fields = line.split()
                if len(fields) < 10 or fields[3] != wanted_state:
                    continue
                port = int(fields[1].rsplit(":", 1)[1], 16)
                used.setdefault(f"{proto}/{port}", owners.get(fields[9], "unknown process"))
    return used


def loadable_module(name):
    release = os.uname().release
    for index in ("modules.dep", "modules.builtin"):
        text = read_text(os.path.join("/lib/modules", release, index), "") or ""
        if f"/{name}.ko" in text:
            return index
    return None


def kernel_feature(name, rule, proc_root):
    if rule.get("present_path") and os.path.exists(rule["present_path"].replace("/proc", proc_root, 1)):
        return "present"
    if rule.get("filesystem"):
        filesystems = read_text(os.path.join(proc_root, "filesystems"), "") or ""
        if any(line.split()[-1] == rule["filesystem"] for line in filesystems.splitlines() if line.split()):
            return "present"
    modules = read_text(os.path.join(proc_root, "modules"), "") or ""
    if any(line.split()[0] == name for line in modules.splitlines() if line.split()):
        return "loaded"
    index = loadable_module(name)
    if index == "modules.builtin":
        return "built in"
    return "loadable" if index else "missing"


def sysctl_value(key, proc_root):
    value = read_text(os.path.join(proc_root, "sys", *key.split(".")))
    return None if value is None else value.strip()


# ---------------------------------------------------------------- judging


def gib(value):
    return f"{value:g} GiB"


def judge_facts(req, facts):
    checks = []
    slack = 1 - req.get("slack_pct", 0) / 100.0
    roles = ", ".join(req.get("roles", [])) or "no sized role"

    need_cpu = req.get("cpu", 0)
    if need_cpu:
        have = facts["cpu"]["usable"]
        checks.append(check("cpu.cores", "pass" if have >= need_cpu else "fail", f"{need_cpu:g}", have,
                            f"{have} usable cores for {roles}"))

    need_mib = req.get("memory_mib", 0)
    if need_mib:
        have = facts["memory"]["usable_mib"]
        ok = have >= need_mib * slack
        checks.append(check("memory.total", "pass" if ok else "fail", f"{need_mib} MiB", f"{have} MiB",
                            f"{roles} need {need_mib} MiB (with {req.get('slack_pct', 0):g}% slack)"))

    for disk in facts.get("disks", []):
        need = disk["required_gib"]
        where = f"{disk['path']} (on {disk['mount'] or disk['measured_at']})"
        share = " + ".join(disk["roles"])
        total_ok = disk["total_gib"] >= need * slack
        free_ok = disk["free_gib"] >= need * slack
        # Every role keeps its own IDs; on a shared filesystem each is judged against the sum.
        for role in disk["roles"]:
            checks.append(check(f"disk.total.{role}", "pass" if total_ok else "fail", gib(need),
                                gib(disk["total_gib"]), f"filesystem size at {where} for {share}"))
            checks.append(check(f"disk.free.{role}", "pass" if free_ok else "fail", gib(need),
                                gib(disk["free_gib"]), f"free space at {where} for {share}"))

    supported = req.get("os_supported") or []
    if supported:
        os_ok = any(facts["os"]["id"] == o["id"] and facts["os"]["version"] == str(o["version"]) for o in supported)
        names = ", ".join(f"{o['id']} {o['version']}" for o in supported)
        checks.append(check("os.release", "pass" if os_ok else "warn", names,
                            f"{facts['os']['id']} {facts['os']['version']}",
                            "" if os_ok else "the bundle's packages are built for the listed releases"))

    swap_sev = req.get("swap_off")
    if swap_sev:
        active = facts["swap"]["active"]
        found = ", ".join(f"{s['name']} ({s['type']}, {s['size_kib'] // 1024} MiB)" for s in active) or "off"
        checks.append(check("swap.off", swap_sev if active else "pass", "off", found,
                            "turn swap off (swapoff -a and remove it from /etc/fstab)" if active else ""))

    time_sev = req.get("time_sync")
    if time_sev:
        t = facts["time"]
        synced = t["kernel_synchronised"]
        found = ("synchronised" if synced else "not synchronised" if synced is False else "unknown") + (
            f" ({', '.join(t['daemons'])})" if t["daemons"] else ", no time daemon running")
        checks.append(check("time.sync", "pass" if synced else time_sev, "synchronised", found,
                            "" if synced else "clocks must agree (Cassandra breaks on skew); bootstrap sets it up"))

    for port in req.get("ports", []):
        key = f"{port['proto']}/{port['port']}"
        owner = facts["ports_in_use"].get(key)
        checks.append(check(f"port.{port['proto']}{port['port']}", "fail" if owner else "pass", "free",
                            f"in use by {owner}" if owner else "free",
                            f"needed by {', '.join(port.get('groups', []))}"))

    for name in req.get("kernel_features") or {}:
        state = facts["kernel"][name]
        checks.append(check(f"kernel.{name}", "fail" if state == "missing" else "pass",
                            "present or loadable", state, "needed by Kubernetes"))

    for key, rule in (req.get("sysctls") or {}).items():
        value = facts["sysctls"][key]
        status = "pass" if value == str(rule["value"]) else "fail" if value is None else rule.get("severity", "warn")
        checks.append(check(f"sysctl.{key}", status, str(rule["value"]), "absent" if value is None else value,
                            "the kubernetes role sets it" if value is not None else "key missing in this kernel"))
    return checks


def gather(req, proc_root, os_release):
    facts = {
        "cpu": cpu_facts(proc_root),
        "memory": memory_facts(proc_root),
        "os": os_facts(os_release),
        "swap": swap_facts(proc_root),
        "time": time_facts(proc_root),
        "ports_in_use": ports_in_use(proc_root),
        "kernel": {n: kernel_feature(n, r, proc_root) for n, r in (req.get("kernel_features") or {}).items()},
        "sysctls": {k: sysctl_value(k, proc_root) for k in (req.get("sysctls") or {})},
    }
    # Roles whose data lands on the same filesystem add up.
    disks = {}
    for d in req.get("disks", []):
        measured = disk_facts(d["path"], proc_root)
        entry = disks.setdefault(measured["device"], dict(measured, roles=[], required_gib=0.0, paths=[]))
        entry["roles"].append(d["role"])
        entry["paths"].append(d["path"])
        entry["required_gib"] = round(entry["required_gib"] + float(d["required_gib"]), 2)
    facts["disks"] = list(disks.values())
    return facts


# ---------------------------------------------------------------- listeners and probes


def bind_free_ports(ports):
    socks, listening, in_use = [], [], []
    for p in ports:
        proto, port = p["proto"], int(p["port"])
        kind = socket.SOCK_STREAM if proto == "tcp" else socket.SOCK_DGRAM
        sock = socket.socket(socket.AF_INET, kind)
        if proto == "tcp":
            # Only past TIME_WAIT. On UDP it would share a port a real service holds with SO_REUSEADDR.
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("0.0.0.0", port))
        except OSError as exc:
            sock.close()
            if exc.errno != errno.EADDRINUSE:
                raise
            in_use.append(f"{proto}/{port}")
            continue
        if proto == "tcp":
            sock.listen(64)
        socks.append(sock)
        listening.append(f"{proto}/{port}")
    return socks, listening, in_use


def serve(socks, deadline):
    while time.time() < deadline:
        ready, _, _ = select.select(socks, [], [], 1.0)
        for sock in ready:
            try:
                if sock.type == socket.SOCK_STREAM:
                    conn, _ = sock.accept()
                    conn.close()
                else:
                    data, peer = sock.recvfrom(2048)
                    sock.sendto(data, peer)
            except OSError:
                continue


def detach_and_serve(socks, duration):
    """Double fork so the listener outlives this module run and holds none of Ansible's pipes."""
    read_end, write_end = os.pipe()
    child = os.fork()
    if child > 0:
        os.close(write_end)
        pid = int(os.read(read_end, 32).decode() or 0)
        os.close(read_end)
        os.waitpid(child, 0)
        return pid
    os.close(read_end)
    os.setsid()
    if os.fork() > 0:
        os._exit(0)
    os.write(write_end, str(os.getpid()).encode())
    os.close(write_end)
    devnull = os.open(os.devnull, os.O_RDWR)
    for fd in (0, 1, 2):
        os.dup2(devnull, fd)
    signal.signal(signal.SIGTERM, lambda *_: os._exit(0))
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None).prctl(15, ctypes.c_char_p(LISTENER_NAME), 0, 0, 0)  # PR_SET_NAME
    try:
        serve(socks, time.time() + duration)
    finally:
        os._exit(0)


def probe_one(target, timeout):
    address, port = target["address"], int(target["port"])
    try:
        if target["proto"] == "tcp":
            with socket.create_connection((address, port), timeout=timeout):
                return None
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
            sock.settimeout(timeout)
            sock.connect((address, port))
            sock.send(UDP_PAYLOADS.get(target.get("probe"), UDP_PAYLOADS["stun"]))
            sock.recv(2048)
            return None
    except TimeoutError:
        return "timeout"
    except OSError as exc:
        return exc.strerror or str(exc)


def probe(targets, timeout):
    """One check per ID; its `found` lists the peers that did not answer."""
    by_id = {}
    for t in targets:
        by_id.setdefault(t["id"], []).append(t)
    checks = []
    for check_id, group in by_id.items():
        failures = []
        for t in group:
            error = probe_one(t, timeout)
            if error:
                failures.append(f"{t['host']} ({t['address']}:{t['port']}/{t['proto']}: {error})")
        peers = ", ".join(t["host"] for t in group)
        checks.append(check(check_id, "fail" if failures else "pass", f"reach {group[0]['proto']}/"
                            f"{group[0]['port']} on {peers}",
                            "unreachable: " + "; ".join(failures) if failures else "all reachable",
                            group[0].get("message", "")))
    return checks


def stop(pid, proc_root):
    comm = read_text(os.path.join(proc_root, str(pid), "comm"))
    if comm is None:
        return False
    if comm.strip() != LISTENER_NAME.decode():
        raise ValueError(f"process {pid} is not a wire_preflight listener")
    os.kill(pid, signal.SIGTERM)
    # Return once the listener is gone, so its ports are free for whatever runs next. A double-forked listener
    # is reaped by init, so it may linger a moment as a zombie: that state holds no sockets and counts as gone.
    deadline = time.time() + 5
    while time.time() < deadline:
        status = read_text(os.path.join(proc_root, str(pid), "stat"))
        if status is None or status.rsplit(")", 1)[-1].split()[0] == "Z":
            break
        time.sleep(0.05)
    return True


def main():
    module = AnsibleModule(
        argument_spec={
            "mode": {"type": "str", "default": "facts", "choices": ["facts", "listen", "probe", "stop"]},
            "requirements": {"type": "dict", "default": {}},
            "ports": {"type": "list", "elements": "dict", "default": []},
            "duration": {"type": "int", "default": 300},
            "targets": {"type": "list", "elements": "dict", "default": []},
            "timeout": {"type": "float", "default": 3.0},
            "pid": {"type": "int"},
            "proc_root": {"type": "path", "default": "/proc"},
            "os_release": {"type": "path", "default": "/etc/os-release"},
        },
        supports_check_mode=True,
    )
    p = module.params
    mode = p["mode"]
    if mode == "facts":
        facts = gather(p["requirements"], p["proc_root"], p["os_release"])
        module.exit_json(changed=False, facts=facts, checks=judge_facts(p["requirements"], facts))
    elif mode == "listen":
        # Also in check mode: the listeners leave nothing behind, and without them every probe would fail.
        try:
            socks, listening, in_use = bind_free_ports(p["ports"])
        except OSError as exc:
            module.fail_json(msg=f"cannot open a temporary listener: {exc}")
        pid = detach_and_serve(socks, p["duration"]) if socks else 0
        for sock in socks:
            sock.close()
        module.exit_json(changed=False, pid=pid, listening=listening, already_in_use=in_use)
    elif mode == "probe":
        module.exit_json(changed=False, checks=probe(p["targets"], p["timeout"]))
    else:
        if not p["pid"]:
            module.exit_json(changed=False, stopped=False)
        try:
            stopped = stop(p["pid"], p["proc_root"])
        except ValueError as exc:
            module.fail_json(msg=str(exc))
        module.exit_json(changed=False, stopped=stopped)


if __name__ == "__main__":
    main()
