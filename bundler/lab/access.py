"""How the machine reaches lab hosts: the lab SSH key, known_hosts, ssh arguments and the Ansible inventory."""

from __future__ import annotations

import os
import socket
import subprocess
import time
from pathlib import Path

import yaml

from bundler.lab.sysrun import run


def ensure_lab_key(ssh_dir: Path) -> Path:
    ssh_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    key = ssh_dir / "id_ed25519"
    if not key.exists():
        run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "wire-bundle-lab", "-f", str(key)],
            what="generating the lab SSH key")
    return key


def ssh_options(key: Path, known_hosts: Path) -> list[str]:
    # The lab records every host key it generated, so host keys are checked strictly against the lab's
    # own known_hosts file (and the user's ~/.ssh/known_hosts is never touched).
    return ["-i", str(key), "-o", f"UserKnownHostsFile={known_hosts}", "-o", "StrictHostKeyChecking=yes",
            "-o", "IdentitiesOnly=yes", "-o", "BatchMode=yes", "-o", "ConnectTimeout=10",
            "-o", "LogLevel=ERROR"]


def ssh_command(key: Path, known_hosts: Path, address: str, command: str | None = None) -> list[str]:
    cmd = ["ssh", *ssh_options(key, known_hosts), f"root@{address}"]
    return cmd + ([command] if command is not None else [])


def write_known_hosts(path: Path, entries: list[tuple[str, str, str]]) -> None:
    """entries: (hostname, address, 'ssh-ed25519 AAAA... comment')."""
    lines = []
    for name, address, pub in entries:
        keytype, blob = pub.split()[:2]
        lines.append(f"{address},{name} {keytype} {blob}\n")
    path.write_text("".join(lines))


def wait_for_ssh(address: str, key: Path, known_hosts: Path, deadline: float, alive) -> str | None:
    """Poll until SSH works and systemd has booted; returns None on success or the reason it never did."""
    last = "port 22 never opened"
    while time.monotonic() < deadline:
        if not alive():
            return "its systemd-nspawn exited"
        try:
            with socket.create_connection((address, 22), timeout=1):
                pass
        except OSError:
            time.sleep(0.25)
            continue
        # SSH answers before systemd has finished booting; wait (bounded) until the boot is complete, so
        # the services of the host are up when the lab is handed over. "degraded" (a unit failed) counts
        # as booted: the failed unit is the test's business.
        left = max(1, int(deadline - time.monotonic()))
        proc = subprocess.run(ssh_command(key, known_hosts, address,
                                          f"timeout {left} systemctl is-system-running --wait"),
                              capture_output=True, text=True, timeout=left + 30)
        state = (proc.stdout.strip().splitlines() or [""])[-1]
        if state in ("running", "degraded"):
            return None
        if proc.returncode == 255:  # ssh itself failed: not up yet, try again
            last = proc.stderr.strip().splitlines()[-1] if proc.stderr.strip() else "ssh failed"
            time.sleep(0.5)
            continue
        last = f"systemd state {state or '?'}"
        time.sleep(0.5)
    return last


def inventory(hosts: list[dict], key: Path, known_hosts: Path, gateway: str, lab: str) -> dict:
    """Ansible YAML inventory: every host under all.hosts, groups as children of all."""
    groups: dict[str, dict] = {}
    for h in hosts:
        for g in h["groups"]:
            groups.setdefault(g, {"hosts": {}})["hosts"][h["name"]] = None
    ssh_args = f"-o UserKnownHostsFile={known_hosts} -o StrictHostKeyChecking=yes -o IdentitiesOnly=yes"
    return {"all": {
        "vars": {
            "ansible_user": "root",
            "ansible_ssh_private_key_file": str(key),
            "ansible_ssh_common_args": ssh_args,
            "ansible_python_interpreter": "/usr/bin/python3",
            "lab_name": lab,
            "lab_gateway_address": gateway,
        },
        "hosts": {h["name"]: {"ansible_host": h["address"]} for h in hosts},
        "children": groups,
    }}


def write_inventory(path: Path, data: dict) -> None:
    tmp = path.with_suffix(".tmp")
    tmp.write_text("# written by `wire-bundle lab up`; removed by `wire-bundle lab down`\n"
                   + yaml.safe_dump(data, sort_keys=False, default_flow_style=False))
    os.replace(tmp, path)
