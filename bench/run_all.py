"""`make bench`: every benchmark in bench/, one after another, each writing its section of docs/benchmarks.md.

Benchmarks are run one at a time so that none measures another's load. They need root (the island lab) and
about 3 GiB of free disk.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
# Scripts that write their own docs/benchmarks.md section, in the order the workflow meets them.
BENCHMARKS = ["bench_images.py", "bench_delta.py", "bench_sbom.py", "lab_bench.py", "bench_island.py"]


def main() -> int:
    failed = []
    for name in BENCHMARKS:
        script = HERE / name
        if not script.exists():
            print(f"bench: {name} missing, skipped", file=sys.stderr)
            failed.append(name)
            continue
        print(f"\n=== bench/{name}", flush=True)
        if subprocess.run([sys.executable, str(script)]).returncode != 0:
            failed.append(name)
    if failed:
        print(f"bench: failed or missing: {', '.join(failed)}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
