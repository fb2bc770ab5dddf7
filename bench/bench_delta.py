"""Issue 16's benchmark: delta bundles against full bundles and a Zarf-style per-reference differential.

On the 500 MiB Wire-shaped fixture (bench/fixture_images.yaml) plus three small charts pushed to the same local
registry as OCI charts, a base bundle is built, then two upgrades:
  (a) one service bumped: brig's top layer replaced by a new 20 MiB layer;
  (b) a release-like bump: the top layer of each of the 14 Haskell services replaced (same sizes, new bytes)
      and the three charts' versions bumped.
Each bumped image gets a new tag, as a release does. For each case: the full bundle and the delta
(`build --base`), both from a warm cache (every blob already fetched), in interleaved rounds (`--runs`, medians);
their sizes; the Zarf-style differential computed on the same data (every image whose reference the base lacks,
whole, with every chart: Zarf's `--differential` drops only images and repositories already in the base); and
unpacking the full new bundle against unpacking the delta onto the unpacked base. Writes "Upgrades: delta
bundles" in docs/benchmarks.md and the raw figures as JSON.

    python bench/bench_delta.py --workdir /var/tmp/wb-delta [--scale 0.05] [--runs 3]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from statistics import median

import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.bench_images import signing_key  # noqa: E402
from bench.fixture_images import _size, load_shape, seed, start_registry  # noqa: E402
from bench.installed import compile_package  # noqa: E402
from bench.peers import run_child  # noqa: E402
from bench.report import write_section  # noqa: E402
from tests.support.images import RegistryClient, make_image, make_layer, push_image  # noqa: E402

MIB = 1 << 20
CLI = [sys.executable, "-m", "bundler.cli"]
CHARTS = ["wire-server", "sftd", "coturn"]  # stand-ins named like three of Wire's charts


def helm_bin() -> str:
    return str(ROOT / "tools" / "bin" / "helm") if (ROOT / "tools" / "bin" / "helm").exists() else "helm"


def push_charts(host: str, work: Path, version: str) -> None:
    """Three small charts (a ConfigMap of ~40 KiB of settings each, no images) pushed with `helm push`."""
    env = {**os.environ, "HELM_CONFIG_HOME": str(work / "helm/config"), "HELM_CACHE_HOME": str(work / "helm/cache"),
           "HELM_DATA_HOME": str(work / "helm/data")}
    for name in CHARTS:
        src = work / "charts-src" / f"{name}-{version}"
        (src / "templates").mkdir(parents=True, exist_ok=True)
        (src / "Chart.yaml").write_text(f"apiVersion: v2\nname: {name}\nversion: {version}\n")
        settings = "\n".join(f"  key{i}: \"{name}-{version}-{i:08d}\"" for i in range(1200))
        (src / "templates" / "config.yaml").write_text(
            f"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {name}\ndata:\n{settings}\n")
        for args in (["package", str(src), "-d", str(src.parent)],
                     ["push", str(src.parent / f"{name}-{version}.tgz"), f"oci://{host}/charts", "--plain-http"]):
            subprocess.run([helm_bin(), *args], check=True, capture_output=True, env=env, timeout=120)


def push_bumps(registry, scale: float, names: list[str], tag: str, top_mib: float | None) -> list[str]:
    """Re-push `names` under `tag` with their top layer replaced by new bytes (`top_mib` MiB, or its old size)."""
    shape = load_shape()
    client = RegistryClient.for_registry(registry)
    refs = []
    for name in names:
        spec = shape["images"][name]
        layers = [make_layer("wire-bench:shared:base", _size(shape["shared_layers"]["base"], scale))]
        layers += [make_layer(f"wire-bench:shared:{s}", _size(shape["shared_layers"][s], scale))
                   for s in spec.get("shared", [])]
        sizes = spec["layers"]
        layers += [make_layer(f"wire-bench:{name}:{i}", _size(mib, scale)) for i, mib in enumerate(sizes[:-1])]
        layers.append(make_layer(f"bump-{tag}:{name}", _size(top_mib or sizes[-1], scale)))
        push_image(client, f"wire/{name}", make_image(layers, labels={"stand-in.name": name}), tag=tag)
        refs.append(f"{shape['registry_prefix']}/{name}:{tag}")
    return refs


def write_spec(path: Path, host: str, refs: list[str], chart_version: str) -> Path:
    spec = {"version": 1, "name": "wire-bench",
            "registries": {"quay.io": {"mirror": host}, host: {"insecure": True}},
            "images": {"refs": refs},
            "charts": [{"name": c, "repo": f"oci://{host}/charts", "version": chart_version} for c in CHARTS]}
    path.write_text(yaml.safe_dump(spec, sort_keys=False))
    return path


def timed(cmd: list[str]) -> tuple[float, int]:
    os.sync()  # the previous step's dirty pages are not this one's to write
    t0 = time.monotonic()
    rss, _ = run_child(cmd)
    return round(time.monotonic() - t0, 2), rss


def build(spec: Path, out: Path, cache: Path, base: Path | None = None) -> tuple[float, int]:
    out.unlink(missing_ok=True)
    extra = ["--base", str(base)] if base else []
    return timed([*CLI, "build", str(spec), "-o", str(out), "--locked", "--cache-dir", str(cache), "-q", *extra])


def unpack(archive: Path, dest: Path) -> float:
    return timed([*CLI, "unpack", str(archive), "--to", str(dest)])[0]


def diff_json(old: Path, new: Path) -> dict:
    return json.loads(subprocess.run([*CLI, "diff", str(old), str(new), "--json"], check=True,
                                     capture_output=True, timeout=120).stdout)


def zarf_style(old_meta: dict, new_meta: dict) -> int:
    """Zarf's --differential on the same data: images whose reference the base lacks, whole (their blobs once),
    and every chart (Zarf drops only images and repositories already in the reference package)."""
    old_refs = {i["ref"] for i in old_meta["kinds"]["images"]["images"]}
    sizes = {a["digest"]: a["size"] for a in new_meta["artifacts"]}
    blobs = set()
    for i in new_meta["kinds"]["images"]["images"]:
        if i["ref"] not in old_refs:
            blobs |= set(i["blobs"])
    charts = sum(a["size"] for a in new_meta["artifacts"] if a["kind"] == "chart")
    return sum(sizes[b] for b in blobs) + charts


def head(archive: Path) -> dict:
    from bundler.bundle.archive import read_bundle_json

    return read_bundle_json(archive).to_json()


def run_case(name: str, work: Path, spec: Path, base: Path, base_tree: Path, cache: Path, runs: int) -> dict:
    subprocess.run([*CLI, "lock", str(spec), "--cache-dir", str(cache), "-q"], check=True, capture_output=True)
    full, delta = work / f"{name}-full.tar.zst", work / f"{name}-delta.tar.zst"
    build(spec, full, cache)  # fetches the new blobs: from here on the cache is warm
    full_s, delta_s, full_rss, delta_rss = [], [], [], []
    for _ in range(runs):
        t, rss = build(spec, full, cache)
        full_s.append(t)
        full_rss.append(rss)
        t, rss = build(spec, delta, cache, base=base)
        delta_s.append(t)
        delta_rss.append(rss)
    again = work / f"{name}-delta-again.tar.zst"
    build(spec, again, cache, base=base)
    identical = again.read_bytes() == delta.read_bytes()
    again.unlink()
    fresh = work / f"{name}-full-unpacked"
    shutil.rmtree(fresh, ignore_errors=True)
    unpack_full = unpack(full, fresh)
    shutil.rmtree(fresh)
    tree = work / f"{name}-island"
    shutil.rmtree(tree, ignore_errors=True)
    shutil.copytree(base_tree, tree, copy_function=os.link)  # the unpacked base, as the island holds it
    unpack_delta = unpack(delta, tree)
    shutil.rmtree(tree)
    d = diff_json(base, full)
    return {
        "case": name,
        "full_bytes": full.stat().st_size, "delta_bytes": delta.stat().st_size,
        "zarf_style_bytes": zarf_style(head(base), head(full)),
        "diff_predicted_bytes": d["delta"]["bytes"],
        "images_changed": len(d["kinds"]["images"]["changed"]), "charts_changed": len(d["kinds"]["charts"]["changed"]),
        "full_build_s": median(full_s), "delta_build_s": median(delta_s), "full_runs": full_s, "delta_runs": delta_s,
        "full_rss": max(full_rss), "delta_rss": max(delta_rss), "reproducible": identical,
        "unpack_full_s": unpack_full, "unpack_delta_s": unpack_delta,
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--workdir", type=Path, default=Path("/var/tmp/wire-bundle-delta-bench"))
    ap.add_argument("--scale", type=float, default=1.0)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--no-doc", action="store_true", help="do not write docs/benchmarks.md")
    ap.add_argument("--report", type=Path, default=None,
                    help="only write the docs section again from a bench_delta.json of an earlier run")
    args = ap.parse_args(argv)
    if args.report:
        write_section("Upgrades: delta bundles (bench/bench_delta.py)", report(json.loads(args.report.read_text())))
        return 0
    compile_package()
    work = args.workdir
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    load_start = os.getloadavg()
    key_file, _ = signing_key(work)
    os.environ["WIRE_BUNDLE_SIGN_KEY"] = str(key_file)
    registry = start_registry(work / "registry")
    try:
        images = seed(registry, scale=args.scale)
        push_charts(registry.host, work, "1.0.0")
        base_refs = [i.name for i in images]
        cache = work / "cache"
        spec0 = write_spec(work / "base.yaml", registry.host, base_refs, "1.0.0")
        subprocess.run([*CLI, "lock", str(spec0), "--cache-dir", str(cache), "-q"], check=True, capture_output=True)
        base = work / "base.tar.zst"
        base_build_s, _ = build(spec0, base, cache)
        base_tree = work / "base-unpacked"
        unpack(base, base_tree)

        shape = load_shape()
        haskell = [n for n, s in shape["images"].items() if "haskell-runtime" in s.get("shared", [])]
        bumped_a = push_bumps(registry, args.scale, ["brig"], "bench-a", 20)
        refs_a = [r for r in base_refs if "/brig:" not in r] + bumped_a
        spec_a = write_spec(work / "case-a.yaml", registry.host, refs_a, "1.0.0")
        bumped_b = push_bumps(registry, args.scale, haskell, "bench-b", None)
        push_charts(registry.host, work, "1.0.1")
        refs_b = [r for r in base_refs if r.rsplit("/", 1)[1].split(":")[0] not in haskell] + bumped_b
        spec_b = write_spec(work / "case-b.yaml", registry.host, refs_b, "1.0.1")
        cases = [run_case("a", work, spec_a, base, base_tree, cache, args.runs),
                 run_case("b", work, spec_b, base, base_tree, cache, args.runs)]
    finally:
        registry.stop()
    charts = [a["size"] for a in head(base)["artifacts"] if a["kind"] == "chart"]
    result = {"scale": args.scale, "runs": args.runs, "base_bytes": base.stat().st_size, "chart_bytes": charts,
              "base_cold_build_s": base_build_s, "haskell_services": len(haskell), "cases": cases,
              "cpus": os.cpu_count(), "load_start": load_start, "load_end": os.getloadavg(),
              "date": time.strftime("%Y-%m-%d"),
              "machine": platform.platform()}
    (work / "bench_delta.json").write_text(json.dumps(result, indent=2))
    print(json.dumps(result, indent=2))
    if not args.no_doc and args.scale == 1.0:
        write_section("Upgrades: delta bundles (bench/bench_delta.py)", report(result))
    return 0


def report(r: dict) -> str:
    mib = lambda n: f"{n / MIB:.1f} MiB"  # noqa: E731
    rows = []
    for c in r["cases"]:
        rows.append(
            f"| ({c['case']}) | {mib(c['full_bytes'])} | {mib(c['delta_bytes'])} "
            f"({100 * c['delta_bytes'] / c['full_bytes']:.1f}%) | {mib(c['zarf_style_bytes'])} "
            f"(delta {100 * c['delta_bytes'] / c['zarf_style_bytes']:.0f}% of it) | {c['full_build_s']} s | "
            f"{c['delta_build_s']} s ({c['delta_build_s'] / c['full_build_s']:.2f}x) | {c['unpack_full_s']} s | "
            f"{c['unpack_delta_s']} s |")
    la, lb = r["cases"]
    return textwrap.dedent(f"""\
        The 500 MiB fixture (bench/fixture_images.yaml, scale {r['scale']}) plus three stand-in charts (OCI,
        {', '.join(f"{b / 1024:.0f}" for b in r['chart_bytes'])} KiB) in one local registry; a {r['cpus']}-core
        machine shared with other work (run {r.get('date', 'on a date not recorded')}, load average
        {r['load_start'][0]:.1f} at the start, {r['load_end'][0]:.1f} at the end). Base bundle:
        {mib(r['base_bytes'])}. (a) brig's top layer replaced by a new 20 MiB layer; (b) the top layer of each of
        the {r['haskell_services']} Haskell services replaced (same sizes, new bytes) and the three charts' versions
        bumped. Each bumped image has a new tag. Builds from a warm cache (every blob fetched before), full and
        delta alternating, medians of {r['runs']} rounds; the Zarf-style differential is computed on the same
        bundles: every image whose reference the base lacks, whole, plus every chart (what Zarf's `--differential`
        keeps). Unpack: the full new bundle into an empty directory against the delta onto the unpacked base.

        | case | full bundle | delta | Zarf-style differential | full build | delta build | unpack full | unpack delta |
        |---|---|---|---|---|---|---|---|
        {rows[0]}
        {rows[1]}

        `wire-bundle diff` predicted the delta's content at {mib(la['diff_predicted_bytes'])} (a) and
        {mib(lb['diff_predicted_bytes'])} (b) before any build. Two delta builds from one lock and base were
        byte-identical: {la['reproducible'] and lb['reproducible']}. Peak RSS: full {mib(la['full_rss'])}, delta
        {mib(la['delta_rss'])} (a). Raw figures: bench_delta.json in the work directory.
        """)


if __name__ == "__main__":
    sys.exit(main())
