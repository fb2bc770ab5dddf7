"""Run playbooks/preflight.yml through ansible-runner and hand back its JSON report."""

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

REPO = paths.REPO
PLAYBOOK = REPO / "playbooks" / "preflight.yml"
ROLES = REPO / "roles"


def _failure_summary(runner: Any) -> str:
    """The last failed or unreachable task's host and message, for an error line."""
    for event in reversed(list(runner.events)):
        if event.get("event") in ("runner_on_failed", "runner_on_unreachable"):
            data = event.get("event_data", {})
            res = data.get("res", {})
            return f"{data.get('host')}: {data.get('task')}: {res.get('msg') or res.get('stderr') or res}"
    lines = [ln.strip() for ln in (runner.stdout.read() if runner.stdout else "").splitlines() if ln.strip()]
    errors = [ln for ln in lines if ln.startswith(("ERROR", "fatal:", "[ERROR]"))]
    return (errors or lines or ["no output"])[-1][:300] + " (run with -v for Ansible's output)"


def ansible_playbook() -> str:
    """The ansible-playbook next to this Python (the venv's), else the one on PATH."""
    beside = Path(sys.executable).parent / "ansible-playbook"
    found = str(beside) if beside.exists() else shutil.which("ansible-playbook")
    if not found:
        raise PreflightError("ansible-playbook not found: install ansible-core (pip install ansible-core)")
    return found


def run_preflight(inventory: Path, profile: str | None, ignores: list[str], extravars: dict[str, Any] | None = None,
                  verbose: bool = False) -> dict[str, Any]:
    import ansible_runner

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
    env = {"ANSIBLE_ROLES_PATH": f"{ROLES}:{os.environ.get('ANSIBLE_ROLES_PATH', '')}".rstrip(":"),
           "ANSIBLE_HOST_KEY_CHECKING": "False", "ANSIBLE_RETRY_FILES_ENABLED": "False",
           "ANSIBLE_STDOUT_CALLBACK": "default", "ANSIBLE_NOCOLOR": "1",
           "PATH": f"{Path(ansible_playbook()).parent}:{os.environ.get('PATH', '')}"}
    try:
        runner = ansible_runner.run(
            private_data_dir=str(work), playbook=str(PLAYBOOK), inventory=str(inventory), extravars=variables,
            envvars=env, quiet=not verbose, json_mode=False,
        )
        if not report_path.exists():
            raise PreflightError(f"pre-flight playbook ended ({runner.status}, rc {runner.rc}) without a report: "
                                 f"{_failure_summary(runner)}")
        return json.loads(report_path.read_text())
    finally:
        shutil.rmtree(work, ignore_errors=True)
