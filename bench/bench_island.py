"""Issue 5's benchmark: the island side of images.

1. Seeding the asset host's registry from the unpacked bundle (~500 MiB image fixture, bench/fixture_images.yaml):
   wire-bundle's hard-link seeding (roles/asset_host/library/wire_registry_seed.py) against pushing every image
   into a registry with skopeo (what seeding by the registry API costs: every blob byte copied once more).
   The seeded registry is then started read-only and every image's manifest fetched by digest.
2. Time until N island-lab VMs (default 3) hold every image: pulled through the registry mirror (containerd
   hosts.toml, `ctr image pull` of the original names) against Wire's way (one docker-archive tar per image made
   with skopeo on the admin host, copied to every VM over SSH, `ctr image import` there). The VMs pull or copy
   in parallel, each one image after the other.

Part 2 runs the fixture at --vm-scale (default 0.2, ~100 MiB unique) so 3 VMs x two methods fit the shared
2-core machine; part 1 runs at --scale (default 1.0). Run as root:

    .venv/bin/python bench/bench_island.py [--scale 1.0] [--vm-scale 0.2] [--vms 3] [--no-write]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shlex
import shutil
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import requests
import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.fixture_images import seed, start_registry, unique_bytes  # noqa: E402
from bench.report import write_section  # noqa: E402
from tests.island.seeding import seed_module  # noqa: E402
from tests.support.registry import ReadOnlyRegistry, Registry  # noqa: E402

MIB = 1 << 20
ACCEPT = ", ".join(["application/vnd.oci.image.index.v1+json", "application/vnd.oci.image.manifest.v1+json",
                    "application/vnd.docker.distribution.manifest.v2+json"])


def sh(cmd: list[str], **kw) -> subprocess.CompletedProcess:
    proc = subprocess.run(cmd, capture_output=True, text=True, **kw)
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(map(str, cmd[:4]))}...: {proc.stderr.strip()[-800:]}")
    return proc


def build_and_unpack(registry, images, work: Path, name: str) -> Path:
    spec = {"version": 1, "name": name,
            "registries": {"quay.io": {"mirror": registry.host}, registry.host: {"insecure": True}},
            "images": {"refs": [i.name for i in images]}}
    (work / f"{name}.yaml").write_text(yaml.safe_dump(spec))
    cli = [sys.executable, "-m", "bundler.cli"]
    sh([*cli, "build", str(work / f"{name}.yaml"), "-o", str(work / f"{name}.tar.zst"), "--cache-dir",
        str(work / "cache"), "-q"])
    target = work / "srv" / name
    sh([*cli, "unpack", str(work / f"{name}.tar.zst"), "--to", str(target)])
    return target


def seeding(registry, images, work: Path) -> dict:
    bundle = build_and_unpack(registry, images, work, "seed")
    layout = bundle / "images"
    root = work / "srv" / "seed-registry"
    t0 = time.monotonic()
    result = seed_module().seed_registry(str(layout), str(root))
    seed_s = time.monotonic() - t0
    data = list((root / "docker/registry/v2/blobs").rglob("data"))
    linked_bytes = sum(p.stat().st_size for p in data if p.stat().st_nlink > 1)
    copied_bytes = sum(p.stat().st_size for p in data if p.stat().st_nlink == 1)
    t0 = time.monotonic()
    again = seed_module().seed_registry(str(layout), str(root))
    reseed_s = time.monotonic() - t0
    ro = ReadOnlyRegistry(root, work)
    try:
        t0 = time.monotonic()
        for img in result["images"]:
            r = requests.get(f"{ro.url}/v2/{img['repository']}/manifests/{img['digest']}",
                             headers={"Accept": ACCEPT}, timeout=30)
            assert r.status_code == 200 and r.headers["Docker-Content-Digest"] == img["digest"], img
        check_s = time.monotonic() - t0
    finally:
        ro.stop()
    # The peer: push every image into a registry through its API (skopeo copy from the unpacked layout).
    target = Registry(work / "push-peer", name="push-peer")
    try:
        t0 = time.monotonic()
        for img in result["images"]:
            sh(["skopeo", "copy", "--quiet", "--dest-tls-verify=false", "--preserve-digests",
                f"oci:{layout}:{img['ref']}", f"docker://{target.host}/{img['repository']}:{img['tag']}"])
        push_s = time.monotonic() - t0
        push_bytes = sum(p.stat().st_size for p in (target.storage_dir / "docker/registry/v2/blobs").rglob("data"))
    finally:
        target.stop()
    return {"images": len(result["images"]), "unique_bytes": unique_bytes(images), "seed_s": seed_s,
            "linked_blobs": result["linked"], "linked_bytes": linked_bytes, "copied_bytes": copied_bytes,
            "reseed_s": reseed_s, "reseed_changed": again["changed"], "check_s": check_s, "push_s": push_s,
            "push_bytes": push_bytes, "layout": str(layout), "root": str(root)}


def distribution(registry, images, work: Path, vms: int) -> dict:
    from bundler.lab import HostSpec, Lab

    bundle = build_and_unpack(registry, images, work, "vms")
    layout = bundle / "images"
    root = work / "srv" / "vms-registry"
    seeded = seed_module().seed_registry(str(layout), str(root))["images"]
    lab = Lab(f"bisl-{os.getpid() % 10000}", [HostSpec(f"vm{i}", groups=["bench"], packages=["containerd"])
                                              for i in range(vms)], log=lambda *_: None)
    lab.up()
    ro = None
    try:
        ro = ReadOnlyRegistry(root, work, address=lab.host_address_on_bridge)
        hosts_toml = (f'server = "https://quay.io"\n\n[host."http://{ro.host}/v2/quay.io"]\n'
                      f'  capabilities = ["pull", "resolve"]\n  override_path = true\n')
        refs = [f"{i['repository']}@{i['digest']}" for i in seeded]
        for h in lab.hosts:
            lab.run(h.name, "mkdir -p /etc/bench-certs.d/quay.io && cat > /etc/bench-certs.d/quay.io/hosts.toml && "
                            "systemctl start containerd", input=hosts_toml, check=True)

        def pull_all(host: str) -> float:
            script = " && ".join(f"ctr -n mirror images pull --hosts-dir /etc/bench-certs.d {shlex.quote(r)} "
                                 f">/dev/null" for r in refs)
            t = time.monotonic()
            lab.run(host, script, check=True, timeout=3600)
            return time.monotonic() - t

        t0 = time.monotonic()
        with ThreadPoolExecutor(vms) as pool:
            mirror_each = list(pool.map(pull_all, [h.name for h in lab.hosts]))
        mirror_s = time.monotonic() - t0
        listing = lab.run(lab.hosts[0].name, "ctr -n mirror images ls -q", check=True).stdout.split()
        assert len(listing) == len(refs), listing

        # Wire's way: a docker-archive per image on the admin host, copied to each VM, imported there.
        tars = work / "tars"
        shutil.rmtree(tars, ignore_errors=True)
        tars.mkdir()
        t0 = time.monotonic()
        for i in seeded:
            name = i["repository"].rsplit("/", 1)[1]
            sh(["skopeo", "copy", "--quiet", f"oci:{layout}:{i['ref']}",
                f"docker-archive:{tars / (name + '.tar')}:{i['ref']}"])
        tars_s = time.monotonic() - t0
        tar_bytes = sum(p.stat().st_size for p in tars.iterdir())

        def copy_and_import(host: str) -> float:
            # One SSH stream for all tars and one session for all imports: no per-file connection cost.
            t = time.monotonic()
            pack = subprocess.Popen(["tar", "-C", str(tars), "-cf", "-", "."], stdout=subprocess.PIPE)
            proc = subprocess.run(lab.ssh_command(host, "mkdir -p /root/tars && tar -C /root/tars -xf -"),
                                  stdin=pack.stdout, capture_output=True, timeout=3600)
            pack.wait()
            if proc.returncode != 0 or pack.returncode != 0:
                raise RuntimeError(f"copy tars to {host}: {proc.stderr.decode()[-300:]}")
            lab.run(host, "for f in /root/tars/*.tar; do ctr -n wire images import \"$f\" >/dev/null || exit 1; done",
                    check=True, timeout=3600)
            return time.monotonic() - t

        t0 = time.monotonic()
        with ThreadPoolExecutor(vms) as pool:
            wire_each = list(pool.map(copy_and_import, [h.name for h in lab.hosts]))
        wire_s = time.monotonic() - t0
        digests_match = sorted(lab.run(lab.hosts[0].name, "ctr -n wire images ls", check=True).stdout.count(
            i["digest"]) for i in seeded)
        return {"vms": vms, "images": len(refs), "unique_bytes": unique_bytes(images), "mirror_s": mirror_s,
                "mirror_each_s": mirror_each, "tars_s": tars_s, "tar_bytes": tar_bytes, "wire_s": wire_s,
                "wire_each_s": wire_each, "wire_total_s": tars_s + wire_s,
                "wire_digests_kept": sum(1 for n in digests_match if n)}
    finally:
        if ro:
            ro.stop()
        lab.down()


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--workdir", type=Path, default=Path("/var/tmp/wire-bundle-bench-island"))
    ap.add_argument("--scale", type=float, default=1.0)
    ap.add_argument("--vm-scale", type=float, default=0.2)
    ap.add_argument("--vms", type=int, default=3)
    ap.add_argument("--skip-vms", action="store_true")
    ap.add_argument("--no-write", action="store_true", help="print the figures, leave docs/benchmarks.md alone")
    args = ap.parse_args(argv)
    if os.geteuid() != 0:
        print("bench_island: needs root (island lab)", file=sys.stderr)
        return 2
    shutil.rmtree(args.workdir, ignore_errors=True)
    args.workdir.mkdir(parents=True)
    registry = start_registry(args.workdir)
    try:
        images = seed(registry, scale=args.scale)
        part1 = seeding(registry, images, args.workdir)
        part2 = None
        if not args.skip_vms:
            small = seed(registry, scale=args.vm_scale, seed_name="wire-bench-vms")
            part2 = distribution(registry, small, args.workdir, args.vms)
    finally:
        registry.stop()
    result = {"seeding": part1, "distribution": part2}
    print(json.dumps(result, indent=2))
    if not args.no_write:
        write_section("Island: registry seeding and image distribution", report(args, part1, part2))
    shutil.rmtree(args.workdir, ignore_errors=True)
    return 0


def report(args, p1: dict, p2: dict | None) -> str:
    rows1 = "\n".join([
        f"| hard links into the registry's storage (asset_host role) | {p1['seed_s']:.2f} s | "
        f"{p1['copied_bytes'] / MIB:.0f} MiB ({p1['linked_blobs']} blobs linked, "
        f"{p1['linked_bytes'] / MIB:.0f} MiB shared with the bundle) |",
        f"| same, second run (nothing to do) | {p1['reseed_s']:.2f} s | 0 (changed: {p1['reseed_changed']}) |",
        f"| peer: skopeo copy of every image into a registry (push API) | {p1['push_s']:.1f} s | "
        f"{p1['push_bytes'] / MIB:.0f} MiB |"])
    body = f"""
Run: `python bench/bench_island.py --scale {args.scale} --vm-scale {args.vm_scale} --vms {args.vms}` on
{time.strftime('%Y-%m-%d')}, {platform.machine()}, shared 2-core machine (other developers' tests running).

**Seeding the asset host's registry** from the unpacked bundle: {p1['images']} stand-in images,
{p1['unique_bytes'] / MIB:.0f} MiB of unique blobs (bench/fixture_images.yaml at scale {args.scale}).

| method | wall time | blob bytes written |
|---|---:|---:|
{rows1}

Afterwards the seeded registry, started read-only, answered every image's manifest by digest with that digest
({p1['check_s']:.2f} s for all).
"""
    if p2:
        rows2 = "\n".join([
            f"| pull through the registry mirror (`ctr image pull` of the original name, hosts.toml) | "
            f"{p2['mirror_s']:.1f} s | {p2['unique_bytes'] / MIB:.0f} MiB (each blob once) |",
            f"| Wire's way: per-image docker-archive tars (skopeo, {p2['tars_s']:.1f} s) + one SSH stream + "
            f"`ctr image import` | {p2['wire_total_s']:.1f} s ({p2['wire_s']:.1f} s after the tars) | "
            f"{p2['tar_bytes'] / MIB:.0f} MiB (shared layers in every tar) |"])
        body += f"""
**Time until {p2['vms']} VMs hold every image** ({p2['images']} images, {p2['unique_bytes'] / MIB:.0f} MiB unique:
the fixture at scale {args.vm_scale}, scaled down so {p2['vms']} VMs x 2 methods fit the shared machine; island-lab
VMs, the registry on the lab bridge, every VM working in parallel, one image after the other):

| method | wall time | bytes per VM |
|---|---:|---:|
{rows2}

Digests after import: {p2['wire_digests_kept']} of {p2['images']} images kept the bundle's digest the Wire way
(docker-archive rewrites the manifest); the mirror keeps all by construction (pulled by digest).
"""
    return body


if __name__ == "__main__":
    sys.exit(main())
