"""The long run of the archive fuzzing (tests/bundle/test_fuzz_archive.py): N examples per property instead of
the suite's few dozen, random rather than derandomized, with hypothesis' statistics per property.

    .venv/bin/python bench/fuzz_archive.py [EXAMPLES]     # default 500; the figures go into docs/testing.md

Needs what the suite needs (docker-registry for the one small real bundle). Prints, per property, the examples
that passed, failed and were discarded, and the time; exits non-zero when a property failed (the falsifying
example is in the output above the summary).
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def main() -> int:
    examples = int(sys.argv[1]) if len(sys.argv) > 1 else 500
    started = time.monotonic()
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--hypothesis-show-statistics",
         "-o", "timeout=0", "tests/bundle/test_fuzz_archive.py"],
        cwd=ROOT, env={**os.environ, "WIRE_BUNDLE_FUZZ_EXAMPLES": str(examples)}, capture_output=True, text=True)
    out = proc.stdout + proc.stderr
    print(out[-20000:] if proc.returncode else "")
    tried = failed = 0
    print(f"archive fuzzing, {examples} examples a property, {time.monotonic() - started:.0f} s:")
    for name, body in re.findall(r"^(tests/\S+::\S+):\n(.*?)(?=^tests/|\Z)", out, re.S | re.M):
        counts = re.findall(r"(\d+) passing, (\d+) failing, and (\d+) invalid", body)
        ok, bad, invalid = (sum(int(c[i]) for c in counts) for i in range(3))
        tried += ok + bad
        failed += bad
        print(f"  {name.split('::')[1]}: {ok} passed, {bad} failed, {invalid} discarded")
    print(f"  total: {tried} cases, {failed} failing; pytest exit {proc.returncode}")
    return proc.returncode


if __name__ == "__main__":
    sys.exit(main())
