"""A private cgroup subtree per lab host.

systemd inside a host needs a writable cgroup tree (and runc inside needs it too). Binding the machine's
whole /sys/fs/cgroup would make every host's systemd create the same system.slice/... groups at the
top of the machine's tree, shared between hosts and labs. Instead each host gets `wire-lab/<id>` in
every hierarchy, systemd-nspawn starts inside it, and that directory is bound over the hierarchy in
the host. Memory and CPU limits of a HostSpec are set on this directory.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

CGROUP_ROOT = Path("/sys/fs/cgroup")
PARENT = "wire-lab"


def hierarchies() -> list[Path]:
    """Mount points of the cgroup hierarchies (v1 controllers and/or the v2 unified tree)."""
    mounts = []
    with open("/proc/self/mountinfo") as fh:
        for line in fh:
            left, _, right = line.partition(" - ")
            fstype = right.split()[0]
            mountpoint = Path(left.split()[4])
            if fstype in ("cgroup", "cgroup2") and (mountpoint == CGROUP_ROOT or mountpoint.parent == CGROUP_ROOT):
                mounts.append(mountpoint)
    return sorted(set(mounts))


def host_dirs(cg_id: str) -> list[Path]:
    return [h / PARENT / cg_id for h in hierarchies()]


def _copy_cpuset(src: Path, dst: Path) -> None:
    for f in ("cpuset.cpus", "cpuset.mems"):
        if (src / f).exists() and (dst / f).exists() and not (dst / f).read_text().strip():
            (dst / f).write_text((src / f).read_text())


def create(cg_id: str, memory_bytes: int | None = None, cpus: float | None = None) -> list[tuple[Path, Path]]:
    """Create the host's cgroup in every hierarchy; returns (machine dir, mount point) pairs to bind."""
    binds = []
    for h in hierarchies():
        parent, d = h / PARENT, h / PARENT / cg_id
        parent.mkdir(exist_ok=True)
        _copy_cpuset(h, parent)
        if (h / "cgroup.subtree_control").exists():  # v2: hand the controllers down to the hosts
            for node in (h, parent):
                for ctrl in ("+memory", "+pids", "+cpu"):
                    with contextlib.suppress(OSError):
                        (node / "cgroup.subtree_control").write_text(ctrl)
        d.mkdir(exist_ok=True)
        _copy_cpuset(parent, d)
        if memory_bytes:
            for f in ("memory.limit_in_bytes", "memory.max"):
                if (d / f).exists():
                    (d / f).write_text(str(memory_bytes))
        if cpus:
            quota = int(cpus * 100000)
            if (d / "cpu.cfs_quota_us").exists():
                (d / "cpu.cfs_period_us").write_text("100000")
                (d / "cpu.cfs_quota_us").write_text(str(quota))
            elif (d / "cpu.max").exists():
                (d / "cpu.max").write_text(f"{quota} 100000")
        # systemd-nspawn moves the container one level down, into `payload`, in the hierarchies it manages
        # (name=systemd and the unified tree) and roots the container's cgroup namespace there. Binding
        # that directory makes what systemd in the host reads from /proc/PID/cgroup match the tree it sees;
        # otherwise it refuses PID files of forking services ("PID outside of service control group").
        if _managed_by_nspawn(h):
            (d / "payload").mkdir(exist_ok=True)
            _copy_cpuset(d, d / "payload")
            binds.append((d / "payload", h))
        else:
            binds.append((d, h))
    return binds


def _managed_by_nspawn(h: Path) -> bool:
    return h.name in ("systemd", "unified") or (h / "cgroup.subtree_control").exists()


def join(cg_id: str) -> None:
    """Move the calling process into the host's cgroup in every hierarchy (run in the child before exec)."""
    pid = str(os.getpid())
    for d in host_dirs(cg_id):
        (d / "cgroup.procs").write_text(pid)


def _tree_bottom_up(d: Path) -> list[Path]:
    """d and every cgroup below it, deepest first. A running host's systemd adds and removes cgroups while this
    walks: os.walk skips a directory that vanished, where Path.rglob raised FileNotFoundError."""
    return [Path(root) for root, _, _ in os.walk(d, topdown=False)]


def procs(cg_id: str) -> set[int]:
    pids: set[int] = set()
    for d in host_dirs(cg_id):
        for sub in _tree_bottom_up(d):
            with contextlib.suppress(OSError, ValueError):
                pids.update(int(p) for p in (sub / "cgroup.procs").read_text().split())
    return pids


def remove(cg_id: str) -> list[Path]:
    """Remove the host's cgroup dirs bottom-up; returns those still present (busy)."""
    left = []
    for d in host_dirs(cg_id):
        for sub in _tree_bottom_up(d):
            with contextlib.suppress(OSError):
                sub.rmdir()
        if d.is_dir():
            left.append(d)
    return left
