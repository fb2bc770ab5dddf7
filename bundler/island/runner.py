"""The island's one Ansible runner: run one playbook through ansible-runner and turn its event stream into
progress, failures and a recap. `deploy` and the pre-flight both run their playbooks here.

ansible-runner writes every event (JSON, one file each) under the run directory's artifacts/; this module also
keeps a compact `events.jsonl` there (one line per task result), which is what an operator greps after a run.
"""

from __future__ import annotations

import json
import os
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from bundler.errors import BundleError

RESULT_EVENTS = {
    "runner_on_ok": "ok", "runner_on_failed": "failed", "runner_on_unreachable": "unreachable",
    "runner_on_skipped": "skipped", "runner_item_on_failed": None, "runner_on_async_failed": "failed",
}


@dataclass
class Failure:
    host: str
    task: str
    message: str


@dataclass
class HostCounts:
    ok: int = 0
    changed: int = 0
    failed: int = 0
    unreachable: int = 0
    skipped: int = 0


@dataclass
class DeployResult:
    rc: int
    status: str
    run_dir: Path
    recap: dict[str, HostCounts] = field(default_factory=dict)
    failures: list[Failure] = field(default_factory=list)
    results: dict[str, dict] = field(default_factory=dict)  # each host's result of the task asked for, if it ran ok

    @property
    def ok(self) -> bool:
        return self.rc == 0 and not self.failures


def failure_message(res: dict) -> str:
    """The most useful one line of a failed result: the module's msg, else stderr, else the return code."""
    for key in ("msg", "stderr", "reason"):
        value = res.get(key)
        if value:
            text = str(value).strip()
            return text.splitlines()[-1][:500] if key == "stderr" else " ".join(text.split())[:500]
    if "rc" in res:
        return f"exited {res['rc']}"
    return "failed (no message)"


class EventSink:
    """Follows the event stream: the current task, live counts per host, failures, the compact log, and each host's
    result of the task `keep` names (what a command reports from its playbook's run)."""

    def __init__(self, log_path: Path, on_change: Callable[[EventSink], None], keep: str | None = None):
        self.keep = keep
        self.results: dict[str, dict] = {}
        self.task = ""
        self.play = ""
        self.hosts: dict[str, HostCounts] = {}
        self.failures: list[Failure] = []
        self.stats: dict | None = None
        self._log = open(log_path, "a")  # noqa: SIM115 - closed by close(), lives as long as the run
        self._on_change = on_change

    def close(self) -> None:
        self._log.close()

    def __call__(self, event: dict) -> bool:
        kind = event.get("event", "")
        data = event.get("event_data", {}) or {}
        if kind == "playbook_on_play_start":
            self.play = data.get("play", "")
        elif kind == "playbook_on_task_start":
            self.task = data.get("task", "")
        elif kind == "playbook_on_stats":
            self.stats = {k: data.get(k) or {} for k in ("ok", "changed", "failures", "dark", "skipped")}
        elif kind in RESULT_EVENTS and RESULT_EVENTS[kind]:
            self._result(kind, data)
        self._on_change(self)
        return True

    def _result(self, kind: str, data: dict) -> None:
        host = data.get("host", "?")
        outcome = RESULT_EVENTS[kind]
        counts = self.hosts.setdefault(host, HostCounts())
        res = data.get("res") or {}
        ignored = bool(data.get("ignore_errors"))
        if outcome == "ok":
            counts.ok += 1
            counts.changed += bool(res.get("changed"))
            if self.keep is not None and data.get("task") == self.keep:
                self.results[host] = res
        elif outcome == "skipped":
            counts.skipped += 1
        elif outcome == "unreachable":
            counts.unreachable += 1
            self.failures.append(Failure(host, data.get("task", self.task), failure_message(res)))
        elif ignored:
            counts.ok += 1
        else:
            counts.failed += 1
            self.failures.append(Failure(host, data.get("task", self.task), failure_message(res)))
        line = {"time": round(time.time(), 3), "host": host, "play": self.play, "task": data.get("task", self.task),
                "result": "ignored" if (outcome == "failed" and ignored) else outcome,
                "changed": bool(res.get("changed"))}
        if outcome in ("failed", "unreachable"):
            line["message"] = failure_message(res)
        self._log.write(json.dumps(line) + "\n")
        self._log.flush()

    def recap(self) -> dict[str, HostCounts]:
        """Ansible's own final stats when the play got that far, else what the stream counted."""
        if not self.stats:
            return dict(self.hosts)
        names = set().union(*(set(v) for v in self.stats.values())) | set(self.hosts)
        return {h: HostCounts(ok=self.stats["ok"].get(h, 0), changed=self.stats["changed"].get(h, 0),
                              failed=self.stats["failures"].get(h, 0), unreachable=self.stats["dark"].get(h, 0),
                              skipped=self.stats["skipped"].get(h, 0)) for h in sorted(names)}


def project_env(playbook: Path) -> dict[str, str]:
    """ansible-playbook from this Python's environment; roles from the project the playbook belongs to."""
    bindir = str(Path(sys.executable).parent)
    env = {"PATH": bindir + os.pathsep + os.environ.get("PATH", ""), "ANSIBLE_NOCOLOR": "1",
           "ANSIBLE_FORCE_COLOR": "0", "ANSIBLE_RETRY_FILES_ENABLED": "0"}
    roles = [str(p) for p in (playbook.parent.parent / "roles", playbook.parent / "roles") if p.is_dir()]
    if os.environ.get("ANSIBLE_ROLES_PATH"):
        roles.append(os.environ["ANSIBLE_ROLES_PATH"])
    if roles:
        env["ANSIBLE_ROLES_PATH"] = os.pathsep.join(roles)
    return env


def run_playbook(playbook: Path, inventory: Path, run_dir: Path, *, check: bool = False, limit: str | None = None,
                 extravars: dict | None = None, on_change: Callable[[EventSink], None] = lambda s: None,
                 env: dict[str, str] | None = None, verbose: bool = False, what: str = "deploy",
                 error: type[BundleError] = BundleError, keeps_log: bool = True,
                 keep_results: str | None = None) -> DeployResult:
    """Run `playbook` against `inventory` with `run_dir` as ansible-runner's private data directory.

    `env` adds to the project's environment; `verbose` shows Ansible's own output; `what` and `error` say whose
    run it is in error lines; `keeps_log` says whether `run_dir` outlives the run (and may be pointed to);
    `keep_results` names a task whose result on each host the DeployResult keeps."""
    import ansible_runner

    run_dir.mkdir(parents=True, exist_ok=True)
    sink = EventSink(run_dir / "events.jsonl", on_change, keep_results)
    env = {**project_env(playbook), **(env or {})}
    old_path = os.environ.get("PATH", "")
    os.environ["PATH"] = env["PATH"]  # ansible-runner finds ansible-playbook on this process's PATH
    try:
        r = ansible_runner.run(private_data_dir=str(run_dir), playbook=str(playbook), inventory=str(inventory),
                               limit=limit, cmdline="--check --diff" if check else None, extravars=extravars or {},
                               envvars=env, quiet=not verbose, event_handler=sink, ident="run")
    except Exception as exc:  # ansible-runner raises for what it cannot start (missing binary, bad arguments)
        raise error(f"{what}: could not start ansible-playbook for {playbook}: {exc}") from None
    finally:
        os.environ["PATH"] = old_path
        sink.close()
    if r.status in ("failed", "error") and not sink.failures and not sink.stats:
        # ansible-playbook stopped before any task: a syntax error, an unreadable inventory, ...
        out = (r.stdout.read() if r.stdout else "").strip().splitlines()
        reason = next((ln for ln in reversed(out) if ln.startswith("ERROR")), out[-1] if out else r.status)
        log = (f" (log: {run_dir / 'artifacts' / 'run' / 'stdout'})" if keeps_log
               else " (run with -v for Ansible's output)")
        raise error(f"{what}: ansible-playbook {playbook.name} failed before any task ran: "
                    f"{' '.join(reason.split())[:400]}{log}")
    return DeployResult(rc=r.rc, status=r.status, run_dir=run_dir, recap=sink.recap(), failures=sink.failures,
                        results=sink.results)
