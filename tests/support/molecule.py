"""A role's molecule scenario run for real from a test (`molecule test`), the test island its lab scenarios read,
and the checks every such test makes.

Where the scenarios are and how they are handed the island (ROLES, scenario_dir, VARS_FILE_ENV) is said here only.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import yaml

from bundler.lab.state import read_state
from tests.fixtures.lab import require_lab
from tests.support.cli import run_cli
from tests.support.island import serve_island
from tests.support.netutil import free_port

REPO = Path(__file__).resolve().parents[2]
BINDIR = Path(sys.executable).parent
ROLES = REPO / "roles"
# The scenarios' vars_files entry reads this: the island's addresses and the roles' stand-in overrides.
VARS_FILE_ENV = "WIRE_TEST_VARS_FILE"
# What the lab VMs call this machine (their /etc/hosts names the bridge's machine side so).
LAB_GATEWAY = "lab-gateway"


def scenario_dir(role: str, scenario: str = "default") -> Path:
    return ROLES / role / "molecule" / scenario


def island_vars_file(tmp_path_factory: pytest.TempPathFactory, name: str, build: Callable[[Path], Path], *,
                     overrides: dict | None = None, registry: Path | None = None) -> Iterator[Path]:
    """For a module-scoped fixture (`yield from`): `build(workdir)`'s unpacked bundle (and `registry`'s storage)
    served on all of the machine's addresses while the module runs, and the vars file that points a lab
    scenario at them as `lab-gateway`, with `overrides` (the roles' stand-in paths and checksums) beside."""
    require_lab()
    work = tmp_path_factory.mktemp(name)
    with serve_island(build(work), "0.0.0.0", host=LAB_GATEWAY, registry=registry, registry_port=free_port(),
                      workdir=work) as asset_vars:
        path = work / "vars.yml"
        path.write_text(yaml.safe_dump({**(overrides or {}), **asset_vars}))
        yield path


def molecule_test(role: str, *, timeout: int, lab_name: str | None = None, work: Path | None = None,
                  vars_file: Path | None = None, env: dict[str, str] | None = None) -> str:
    """`molecule test` in roles/<role> with this venv's tools first on PATH; returns its whole output once it
    passed. `vars_file` is the island's (`island_vars_file`). With `lab_name` the scenario's island lab gets that
    name, is torn down if molecule left it behind (a failed or killed run), and must be gone afterwards. With
    `work` the scenario's state and molecule.log stay in that directory instead of a cache another checkout's
    run could share."""
    full_env = {**os.environ, "PATH": str(BINDIR) + os.pathsep + os.environ.get("PATH", ""),
                "ANSIBLE_NOCOLOR": "1", "PY_COLORS": "0", "ANSIBLE_FORCE_COLOR": "0", **(env or {})}
    if vars_file:
        full_env[VARS_FILE_ENV] = str(vars_file)
    if lab_name:
        full_env["MOLECULE_LAB_NAME"] = lab_name
    if work:
        full_env["MOLECULE_EPHEMERAL_DIRECTORY"] = str(work / "ephemeral")
    started = time.monotonic()
    proc = subprocess.Popen([str(BINDIR / "molecule"), "test"], cwd=ROLES / role, env=full_env,
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
            run_cli("lab", "down", "--missing-ok", lab_name, timeout=600)
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
