"""A command's scratch space under --tmpdir, removed afterwards whatever happens; those of killed builds are swept.

A module of its own, light to import: `build` opens it, and starts gpg reading the signing key inside it, before
the pipeline's modules load.
"""

from __future__ import annotations

import fcntl
import os
import shutil
import sys
import tempfile
from pathlib import Path

from bundler.bundle.space import check_space

SCRATCH_MINIMUM = 16 << 20  # gpg homes, rendered charts, apt lists: a few MiB at a time


class WorkDir:
    """This build's scratch space under --tmpdir; removed afterwards whatever happens.

    A build killed with SIGKILL cannot clean up, so each scratch directory is named after its owner's PID and
    holds a lock file the owner keeps locked: the next build removes those whose lock it can take and whose PID
    is gone, and never one a live build holds.
    """

    PREFIX = "wire-bundle-"
    OWNER_LOCK = ".owner.lock"

    def __init__(self, tmpdir: Path | None):
        self.tmpdir = tmpdir

    def __enter__(self) -> Path:
        # gpg, helm and apt work here: on a full disk they fail with their own confusing words ("No agent
        # running"), so a full scratch disk is named before they start.
        check_space([(self.tmpdir or Path(tempfile.gettempdir()), SCRATCH_MINIMUM, "scratch space (--tmpdir)")])
        if self.tmpdir:
            self.tmpdir.mkdir(parents=True, exist_ok=True)
            # Subprocesses (helm, apt, gpg, pip) follow TMPDIR too.
            os.environ["TMPDIR"] = str(self.tmpdir)
            tempfile.tempdir = str(self.tmpdir)
        parent = Path(self.tmpdir or tempfile.gettempdir())
        self.path = Path(tempfile.mkdtemp(prefix=f"{self.PREFIX}{os.getpid()}-", dir=parent))
        self._owner = open(self.path / self.OWNER_LOCK, "w")  # noqa: SIM115 - held until __exit__
        fcntl.flock(self._owner, fcntl.LOCK_EX)
        self._previous_tempdir = tempfile.tempdir
        # gpg homes hold the secret signing key while it signs: inside the scratch space, a killed build's copy
        # goes with it.
        tempfile.tempdir = str(self.path)
        for name in sweep_stale(parent):
            warn_line(f"removed {name}, the scratch space of a build that was killed")
        return self.path

    def __exit__(self, *exc: object) -> None:
        tempfile.tempdir = self._previous_tempdir
        shutil.rmtree(self.path, ignore_errors=True)
        self._owner.close()


def warn_line(message: str) -> None:
    print(f"warning: {message}", file=sys.stderr)


def sweep_stale(parent: Path) -> list[str]:
    """Remove scratch directories under `parent` whose owner is dead (its lock free, its PID gone)."""
    removed = []
    for entry in parent.glob(f"{WorkDir.PREFIX}*-*"):
        pid_text = entry.name[len(WorkDir.PREFIX):].split("-", 1)[0]
        lock_path = entry / WorkDir.OWNER_LOCK
        if not pid_text.isdigit() or not entry.is_dir() or entry.is_symlink() or not lock_path.is_file():
            continue  # not ours, or its owner has not locked it yet
        if _alive(int(pid_text)):
            continue
        try:
            with open(lock_path) as lock:
                fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
                shutil.rmtree(entry, ignore_errors=True)
        except OSError:
            continue  # locked: its owner lives (in another PID namespace, say)
        removed.append(entry.name)
    return removed


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
