"""Per-lab state files: written before any resource is created, so `down` finds everything after a crash.

Every resource a lab creates has a name derived from the lab name and its subnet (netns, links, cgroups,
firewall comment, directories under the workdir); the state file records those names. A lab that was
killed halfway is therefore torn down from its state file alone.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
from pathlib import Path

from bundler.lab.config import defaults


def state_path(name: str) -> Path:
    return defaults().state_dir / f"{name}.json"


def read_state(name: str) -> dict | None:
    try:
        return json.loads(state_path(name).read_text())
    except FileNotFoundError:
        return None


def write_state(state: dict) -> None:
    path = state_path(state["name"])
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(state, indent=2))
    os.replace(tmp, path)


def remove_state(name: str) -> None:
    with contextlib.suppress(FileNotFoundError):
        state_path(name).unlink()


def all_states() -> list[dict]:
    out = []
    d = defaults().state_dir
    if d.is_dir():
        for p in sorted(d.glob("*.json")):
            with contextlib.suppress(ValueError, OSError):
                out.append(json.loads(p.read_text()))
    return out


@contextlib.contextmanager
def machine_lock():
    """Serialises subnet choice and state creation between concurrent `lab up`s on this machine."""
    d = defaults().state_dir
    d.mkdir(parents=True, exist_ok=True)
    with open(d / ".lock", "w") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        yield
