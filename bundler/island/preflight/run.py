"""Run playbooks/preflight.yml through the island's Ansible runner and hand back its JSON report."""

from __future__ import annotations

import json
import os
import shutil
import sys
import tempfile
from pathlib import Path
from typing import Any

from bundler import paths
from bundler.island.preflight.rules import PreflightError
from bundler.island.runner import DeployResult, run_playbook

REPO = paths.REPO
PLAYBOOK = REPO / "playbooks" / "preflight.yml"


def _failure_summary(result: DeployResult) -> str:
    """The last failed or unreachable task's host and message, for an error line."""
    if result.failures:
        last = result.failures[-1]
        return f"{last.host}: {last.task}: {last.message}"
    return "no task failed (run with -v for Ansible's output)"


def ansible_playbook() -> str:
    """The ansible-playbook next to this Python (the venv's), else the one on PATH."""
    beside = Path(sys.executable).parent / "ansible-playbook"
    found = str(beside) if beside.exists() else shutil.which("ansible-playbook")
    if not found:
        raise PreflightError("ansible-playbook not found: install ansible-core (pip install ansible-core)")
    return found


def run_preflight(inventory: Path, profile: str | None, ignores: list[str], extravars: dict[str, Any] | None = None,
                  verbose: bool = False) -> dict[str, Any]:
    inventory = Path(inventory).resolve()
    if not inventory.exists():
        raise PreflightError(f"inventory {inventory}: no such file or directory")
    work = Path(tempfile.mkdtemp(prefix="wire-preflight-"))
    report_path = work / "report.json"
    variables: dict[str, Any] = {
        "preflight_report_path": str(report_path),
        "preflight_fail_on_error": False,
        "preflight_ignore_extra": list(ignores),
        **(extravars or {}),
    }
    if profile:
        variables["preflight_profile"] = profile
    env = {"ANSIBLE_HOST_KEY_CHECKING": "False", "ANSIBLE_RETRY_FILES_ENABLED": "False",
           "ANSIBLE_STDOUT_CALLBACK": "default",
           "PATH": f"{Path(ansible_playbook()).parent}:{os.environ.get('PATH', '')}"}
    try:
        result = run_playbook(PLAYBOOK, inventory, work / "run", extravars=variables, env=env, verbose=verbose,
                              what="pre-flight", error=PreflightError, keeps_log=False)
        if not report_path.exists():
            raise PreflightError(f"pre-flight playbook ended ({result.status}, rc {result.rc}) without a report: "
                                 f"{_failure_summary(result)}")
        return json.loads(report_path.read_text())
    finally:
        shutil.rmtree(work, ignore_errors=True)
