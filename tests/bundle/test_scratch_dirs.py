"""A killed build's scratch directory is removed by the next build; a live build's never is."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from tests.support.cli import run_cli

HOLD = """
import sys, time
from pathlib import Path
from bundler.bundle.build import WorkDir
with WorkDir(Path(sys.argv[1])) as work:
    import tempfile
    (work / "big-scratch").write_bytes(b"x" * 4096)
    gpg_like = tempfile.mkdtemp(prefix="wb-gnupg-")  # where the secret key is imported to sign
    print(work, gpg_like, flush=True)
    time.sleep(120)
"""


def _hold(tmpdir: Path) -> tuple[subprocess.Popen, Path, Path]:
    proc = subprocess.Popen([sys.executable, "-c", HOLD, str(tmpdir)], stdout=subprocess.PIPE, text=True)
    work, gpg_home = proc.stdout.readline().split()
    return proc, Path(work), Path(gpg_home)


def test_next_build_removes_a_killed_builds_scratch_and_keeps_a_live_ones(tmp_path):
    tmpdir = tmp_path / "tmp"
    killed, dead_work, dead_gpg = _hold(tmpdir)
    live, live_work, _ = _hold(tmpdir)
    try:
        os.kill(killed.pid, signal.SIGKILL)
        killed.wait(timeout=10)
        assert dead_work.is_dir() and dead_gpg.is_relative_to(dead_work)
        other = tmpdir / "wire-bundle-src-x"  # someone else's directory with a similar name: left alone
        other.mkdir()
        spec = tmp_path / "s.yaml"
        spec.write_text("version: 1\n")
        started = time.monotonic()
        r = run_cli("lock", spec, "--tmpdir", tmpdir, "--cache-dir", tmp_path / "cache")
        assert r.rc == 0, r.err
        assert f"warning: removed {dead_work.name}, the scratch space of a build that was killed" in r.err
        assert not dead_work.exists()
        assert live_work.is_dir() and (live_work / "big-scratch").is_file()
        assert other.is_dir()
        assert sorted(p.name for p in tmpdir.iterdir()) == sorted([live_work.name, other.name])
        assert time.monotonic() - started < 30
    finally:
        live.kill()
        live.wait(timeout=10)
