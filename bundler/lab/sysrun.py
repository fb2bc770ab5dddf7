"""Running the system tools the lab drives (ip, mount, debootstrap, ...) with one-line failures."""

from __future__ import annotations

import os
import shutil
import subprocess

from bundler.lab.errors import LabError

# tool -> Debian package that provides it, for the refusal message.
REQUIRED_TOOLS = {
    "systemd-nspawn": "systemd-container",
    "debootstrap": "debootstrap",
    "ip": "iproute2",
    "iptables": "iptables",
    "mount": "mount",
    "ssh": "openssh-client",
    "ssh-keygen": "openssh-client",
}


def require_root_and_tools() -> None:
    if os.geteuid() != 0:
        raise LabError("the island lab needs root (network namespaces, mounts, systemd-nspawn); run it as root")
    missing = [f"{tool} (apt package {pkg})" for tool, pkg in REQUIRED_TOOLS.items() if not shutil.which(tool)]
    if missing:
        raise LabError("the island lab needs " + ", ".join(missing) + "; install with scripts/install-deps.sh")


def run(args: list[str], *, what: str, check: bool = True, timeout: float = 120, **kw) -> subprocess.CompletedProcess:
    """Run a tool; on failure raise LabError naming `what` failed and the tool's last stderr line."""
    try:
        proc = subprocess.run(args, capture_output=True, text=True, timeout=timeout, **kw)
    except subprocess.TimeoutExpired as exc:
        raise LabError(f"{what}: `{args[0]}` did not finish within {timeout:.0f} s") from exc
    if check and proc.returncode != 0:
        detail = (proc.stderr.strip() or proc.stdout.strip()).splitlines()
        raise LabError(f"{what}: `{' '.join(args[:3])}` failed: {detail[-1] if detail else proc.returncode}")
    return proc


def quiet(args: list[str], timeout: float = 60) -> bool:
    """Run a best-effort cleanup step; True when it succeeded."""
    try:
        return subprocess.run(args, capture_output=True, timeout=timeout).returncode == 0
    except (subprocess.TimeoutExpired, OSError):
        return False
