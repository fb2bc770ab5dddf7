"""A role's molecule scenario run for real from a test (`molecule test`), and the checks every such test makes."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from bundler.lab.state import read_state

REPO = Path(__file__).resolve().parents[2]
BINDIR = Path(sys.executable).parent


def molecule_test(role: str, *, timeout: int, lab_name: str | None = None, work: Path | None = None,
                  env: dict[str, str] | None = None) -> str:
    """`molecule test` in roles/<role> with this venv's tools first on PATH; returns its whole output once it
    passed. With `lab_name` the scenario's island lab gets that name, is torn down if molecule left it behind
    (a failed or killed run), and must be gone afterwards. With `work` the scenario's state and molecule.log stay
    in that directory instead of a cache another checkout's run could share."""
    full_env = {**os.environ, "PATH": str(BINDIR) + os.pathsep + os.environ.get("PATH", ""),
                "ANSIBLE_NOCOLOR": "1", "PY_COLORS": "0", "ANSIBLE_FORCE_COLOR": "0", **(env or {})}
    if lab_name:
        full_env["MOLECULE_LAB_NAME"] = lab_name
    if work:
        full_env["MOLECULE_EPHEMERAL_DIRECTORY"] = str(work / "ephemeral")
    started = time.monotonic()
    proc = subprocess.Popen([str(BINDIR / "molecule"), "test"], cwd=REPO / "roles" / role, env=full_env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True)
    try:
        try:
            out, _ = proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)  # molecule and the ansible-playbook it runs
            out, _ = proc.communicate()
            out += f"\n[test] molecule test killed after {timeout} s"
        left_behind = lab_name is not None and read_state(lab_name) is not None
    finally:
        if lab_name and read_state(lab_name) is not None:
            subprocess.run([sys.executable, "-m", "bundler.cli", "lab", "down", "--missing-ok", lab_name],
                           capture_output=True, timeout=600)
    print(f"\nmolecule test {role}: {time.monotonic() - started:.0f} s (rc {proc.returncode})")
    if work:
        (work / "molecule.log").write_text(out)
    assert proc.returncode == 0, out[-8000:]
    assert not left_behind, "molecule destroy must tear the lab down"
    return out


def assert_stages(out: str, stages: tuple[str, ...]) -> None:
    """Each stage ran and passed. molecule's idempotence stage itself fails when the second converge changes
    anything, and verify is the scenario's own check."""
    for stage in stages:
        assert f"[default > {stage}] Executed: Successful" in out, (stage, out[-6000:])
