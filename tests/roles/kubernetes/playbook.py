"""Run a playbook of this repository with ansible-playbook and read its recap (for tests that need extra
environment, such as a vault password file or stand-in tools)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[3]
RECAP = re.compile(r"^(\S+)\s+:\s+ok=(\d+)\s+changed=(\d+)\s+unreachable=(\d+)\s+failed=(\d+)", re.M)


@dataclass
class Run:
    rc: int
    out: str

    def recap(self) -> dict[str, dict[str, int]]:
        return {m[0]: {"ok": int(m[1]), "changed": int(m[2]), "unreachable": int(m[3]), "failed": int(m[4])}
                for m in RECAP.findall(self.out)}

    def changed(self) -> int:
        return sum(h["changed"] for h in self.recap().values())


def ansible_playbook(playbook: str, inventory: Path, extravars: dict | None = None, env: dict | None = None,
                     args: list[str] | None = None, timeout: int = 900) -> Run:
    import json

    bindir = Path(sys.executable).parent
    cmd = [str(bindir / "ansible-playbook"), "-i", str(inventory), str(REPO / "playbooks" / playbook)]
    if extravars:
        cmd += ["-e", json.dumps(extravars)]
    cmd += args or []
    full_env = {**os.environ, "PATH": f"{bindir}{os.pathsep}{os.environ.get('PATH', '')}",
                "ANSIBLE_ROLES_PATH": str(REPO / "roles"), "ANSIBLE_NOCOLOR": "1", "ANSIBLE_FORCE_COLOR": "0",
                "ANSIBLE_HOST_KEY_CHECKING": "False", **(env or {})}
    proc = subprocess.run(cmd, capture_output=True, text=True, env=full_env, timeout=timeout, cwd=REPO)
    return Run(proc.returncode, proc.stdout + proc.stderr)
