"""Island lab figures: bring-up of 6 hosts on a cached base, teardown, disk per host.

Run as root: `.venv/bin/python bench/lab_bench.py [--runs 2] [--hosts 6]`. Writes the `## Island lab`
section of docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.report import write_section  # noqa: E402
from bundler.lab import HostSpec, Lab, base  # noqa: E402
from bundler.lab.config import defaults  # noqa: E402


def mib(n: int) -> str:
    return f"{n / 2**20:.1f} MiB"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--runs", type=int, default=2)
    ap.add_argument("--hosts", type=int, default=6)
    ap.add_argument("--no-write", action="store_true", help="print only, leave docs/benchmarks.md alone")
    args = ap.parse_args()
    if os.geteuid() != 0:
        print("lab_bench: needs root", file=sys.stderr)
        return 2
    d = defaults()
    pkgs = list(d.base_packages)
    t = time.monotonic()
    root = base.ensure_base(d.cache_dir, d.suite, pkgs)
    base_prep = time.monotonic() - t
    meta = (root.parent / "meta.json").read_text()
    base_size = base.base_size_bytes(root)

    ups, downs, per_host_disk, ssh_rtt = [], [], [], []
    for run in range(args.runs):
        lab = Lab(f"bench-{os.getpid() % 10000}-{run}", [HostSpec(f"vm{i}", groups=["bench"])
                                                         for i in range(args.hosts)], log=lambda *_: None)
        t = time.monotonic()
        lab.up()
        ups.append(time.monotonic() - t)
        try:
            for h in lab.hosts:
                t = time.monotonic()
                out = lab.run(h.name, "systemctl is-system-running", check=True).stdout.strip()
                ssh_rtt.append(time.monotonic() - t)
                assert out == "running", (h.name, out)
            per_host_disk += list(lab.disk_usage().values())
        finally:
            t = time.monotonic()
            lab.down()
            downs.append(time.monotonic() - t)
        assert lab.leftovers() == [], lab.leftovers()
        print(f"run {run}: up {ups[-1]:.1f} s, down {downs[-1]:.1f} s", file=sys.stderr)

    import json

    build_s = json.loads(meta).get("build_seconds")
    def runs(xs: list[float]) -> str:
        return f"median {statistics.median(xs):.1f} s (runs: {', '.join(f'{x:.1f}' for x in xs)})"

    rows = [
        (f"bring up {args.hosts} hosts, base cached (systemd booted, SSH answering, inventory)",
         f"{runs(ups)}; target < 90 s"),
        (f"tear down {args.hosts} hosts (kill, unmount, netns, links, firewall, cgroups, files)", runs(downs)),
        ("disk per host after boot (its overlay upper layer and volumes)",
         f"median {mib(int(statistics.median(per_host_disk)))}, max {mib(max(per_host_disk))}"),
        (f"shared base root (minbase + {', '.join(pkgs)}), once per suite + package set", mib(base_size)),
        ("building that base (debootstrap from the apt mirror, once)", f"{build_s} s"),
        ("one `ssh host systemctl is-system-running` round trip",
         f"median {statistics.median(ssh_rtt) * 1000:.0f} ms"),
    ]
    cmd = f".venv/bin/python bench/lab_bench.py --runs {args.runs} --hosts {args.hosts}"
    body = (f"Measured by `bench/lab_bench.py` (as root: `{cmd}`) on this project's machine "
            f"({os.cpu_count()} cores, kernel {platform.release()}), {args.runs} run(s), while other developers "
            "were using the machine.\n\n| figure | value |\n| --- | --- |\n"
            + "".join(f"| {k} | {v} |\n" for k, v in rows)
            + "\nA second `up` of a running lab with the same hosts reuses it (returns in milliseconds). "
            f"Preparing the cached base in this run took {base_prep:.1f} s (0 when it was already cached).\n")
    print(body)
    if not args.no_write:
        write_section("Island lab", body)
    return 0


if __name__ == "__main__":
    sys.exit(main())
