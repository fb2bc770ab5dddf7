"""Power a lab host off and boot it again, as an operator would a VM: the failover test stops the primary's VM.

`stop` powers the host off from inside (systemd shuts its services down, as on a VM) and waits until its
systemd-nspawn has exited; `start` boots the same root again in the same network namespace and cgroup, records the
new nspawn pid in the lab's state (so `lab down` still finds it) and waits for SSH. Both are bounded.

    python -m tests.roles.postgresql.labvm stop LAB HOST
    python -m tests.roles.postgresql.labvm start LAB HOST
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

from bundler.lab import access, machine
from bundler.lab.config import defaults
from bundler.lab.lab import Lab
from bundler.lab.state import write_state


def _host(lab: Lab, name: str) -> dict:
    for h in lab.state["hosts"]:
        if h["name"] == name:
            return h
    raise SystemExit(f"labvm: lab {lab.name} has no host {name!r}")


def stop(lab_name: str, name: str, timeout: float = 90) -> None:
    lab = Lab.attach(lab_name)
    h = _host(lab, name)
    lab.run(name, "systemctl --no-block poweroff", timeout=30)
    deadline = time.monotonic() + timeout
    while machine.is_our_nspawn(h["pid"], Path(h["root"])):
        if time.monotonic() > deadline:
            raise SystemExit(f"labvm: host {name} of lab {lab_name} did not power off within {timeout:.0f} s")
        time.sleep(0.5)


def start(lab_name: str, name: str) -> None:
    lab = Lab.attach(lab_name)
    st, d = lab.state, defaults()
    h = _host(lab, name)
    if machine.is_our_nspawn(h["pid"], Path(h["root"])):
        raise SystemExit(f"labvm: host {name} of lab {lab_name} is running")
    volumes = [(lab.workdir / "hosts" / name / "volumes" / v.strip("/").replace("/", "_"), v) for v in d.host_volumes]
    h["pid"] = machine.start(Path(h["root"]), h["cgroup"], name, h["netns"], h["cgroup"],
                             lab.workdir / "logs" / f"{name}.log", volumes)
    write_state(st)
    reason = access.wait_for_ssh(h["address"], lab.key_path, lab.known_hosts_path, time.monotonic() + d.boot_timeout,
                                 alive=lambda: machine.is_our_nspawn(h["pid"], Path(h["root"])))
    if reason:
        raise SystemExit(f"labvm: host {name} of lab {lab_name} did not boot again: {reason}")


if __name__ == "__main__":
    if len(sys.argv) != 4 or sys.argv[1] not in ("stop", "start"):
        raise SystemExit("usage: python -m tests.roles.postgresql.labvm stop|start LAB HOST")
    {"stop": stop, "start": start}[sys.argv[1]](sys.argv[2], sys.argv[3])
