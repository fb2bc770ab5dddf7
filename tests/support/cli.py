"""`wire-bundle` run as the operator runs it: a real process of this venv's Python, its exit code and output.

    r = run_cli("build", spec, "-o", out, timeout=600)             # Run: a CompletedProcess, and r.rc, r.err
    r = run_cli("unpack", archive, "--to", dest, offline=True)     # in a new network namespace, no pip index
    out = cli_ok("diff", old, new, "--json")                       # its stdout; a non-zero exit fails the test
    popen = subprocess.Popen(cli_command("lab", "up", spec))       # a process the test kills on purpose
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any


class Run(subprocess.CompletedProcess[str]):
    """A finished process; `rc`, `out` and `err` are its returncode, stdout and stderr."""

    @property
    def rc(self) -> int:
        return self.returncode

    @property
    def out(self) -> str:
        return self.stdout

    @property
    def err(self) -> str:
        return self.stderr


def cli_command(*args: object) -> list[str]:
    return [sys.executable, "-m", "bundler.cli", *map(str, args)]


def cli_env(env: dict[str, str] | None = None, *, unset: Iterable[str] = (), offline: bool = False) -> dict[str, str]:
    """This process's environment without `unset`, with `env` over it. Offline, pip is kept from any index a
    developer's configuration names: what the island has is all it may use."""
    drop = set(unset)
    full = {k: v for k, v in os.environ.items() if k not in drop and not (offline and k.startswith("PIP_"))}
    if offline:
        full["PIP_CONFIG_FILE"] = os.devnull
    return {**full, **(env or {})}


def run(cmd: Sequence[object], *, timeout: float = 300, cwd: Path | str | None = None,
        env: dict[str, str] | None = None, unset: Iterable[str] = (), offline: bool = False,
        **kwargs: Any) -> Run:
    """`cmd` with its output captured; `offline` runs it in a new network namespace (`unshare --net`: only a
    loopback that is down, so nothing can be downloaded)."""
    full = [*(["unshare", "--net"] if offline else []), *map(str, cmd)]
    proc = subprocess.run(full, capture_output=True, text=True, timeout=timeout, cwd=cwd,
                          env=cli_env(env, unset=unset, offline=offline), **kwargs)
    return Run(proc.args, proc.returncode, proc.stdout, proc.stderr)


def run_cli(*args: object, prefix: Sequence[str] = (), **kwargs: Any) -> Run:
    """`wire-bundle ARGS` (after `prefix`: setpriv, ...); keywords as for `run`."""
    return run([*prefix, *cli_command(*args)], **kwargs)


def cli_ok(*args: object, **kwargs: Any) -> str:
    """`wire-bundle ARGS`, which must succeed (its stderr is the failure's message); its stdout."""
    r = run_cli(*args, **kwargs)
    assert r.rc == 0, r.err
    return r.out
