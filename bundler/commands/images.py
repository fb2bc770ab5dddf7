"""`wire-bundle images SPEC`: every image the bundle will hold, and with --why, where each one comes from."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import click

from bundler.commands import options


def collect(spec_path: Path, cache_dir: Path, tmpdir: Path | None, helm: str | None, quiet: bool,
            jobs: int = 1) -> tuple[dict[str, list[dict[str, Any]]], dict[str, list[dict[str, Any]]]]:
    """(images kept, images excluded), normalised ref -> why-records; charts rendered afresh."""
    from bundler.bundle.build import WorkDir
    from bundler.bundle.lock import read_lock_for
    from bundler.bundle.spec import load_spec
    from bundler.kinds.charts.images import is_excluded
    from bundler.kinds.charts.kind import KIND, chart_images

    loaded = load_spec(spec_path)
    # The lock's chart versions when it still belongs to this spec: show what `build` would bundle.
    _, lock = read_lock_for(loaded.lock_path, loaded.spec.digest())
    pinned = lock.charts if lock is not None else None
    section = loaded.spec.images
    if loaded.spec.charts:
        with WorkDir(tmpdir) as work:
            ctx = options.context(cache_dir, work, jobs, quiet, helm)
            locked = KIND.discover(loaded, ctx, pinned)
        kept, dropped = chart_images(locked, section.exclude, lambda _m: None)
    else:
        kept, dropped = {}, {}
    for entry in section.refs:
        ref = str(entry.reference)
        target = dropped if is_excluded(ref, section.exclude) else kept
        target.setdefault(ref, []).insert(0, {"source": "spec", "image": entry.ref})
    return dict(sorted(kept.items())), dict(sorted(dropped.items()))


def _origin(rec: dict[str, Any]) -> list[str]:
    """chart, values, template, object, container, as table cells."""
    from bundler.kinds.charts.images import DEFAULTS

    if rec["source"] == "spec":
        return ["(spec images.refs)", "", "", "", ""]
    if rec["source"] == "annotation":
        return [f"{rec['chart']} {rec['version']}", "(all)", rec["template"], f"annotation {rec['field']}",
                rec["container"]]
    return [f"{rec['chart']} {rec['version']}", ", ".join(rec["values"]) or DEFAULTS, rec["template"],
            f"{rec['kind']}/{rec['object']}", f"{rec['container']} ({rec['field']})"]


@click.command()
@options.spec_arg
@click.option("--why", is_flag=True, help="For every image: the chart, value set, template, object and container.")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable: {images: {ref: [why...]}, excluded: ...}.")
@options.helm
@options.jobs
@options.cache_dir
@options.tmpdir
@options.quiet
def images(spec: Path, why: bool, as_json: bool, helm: str | None, jobs: int, cache_dir: Path, tmpdir: Path | None,
           quiet: bool) -> None:
    """List every image SPEC's bundle will hold: `images.refs` plus all images its charts use.

    Each chart is rendered with `helm template` once per value set listed for it (chart defaults when none),
    and images are read from the containers, initContainers and ephemeralContainers of its workloads and from
    its `helm.sh/images` annotation. `images.exclude` patterns are applied. Uses the chart versions of SPEC's
    lock file when it matches the spec, else resolves them afresh (without writing a lock).

    Every chart is resolved and every rendering tried, --jobs at a time (at most one per CPU), before any
    failure is reported: then each chart that cannot be had and each rendering helm refuses is named, with
    helm's own message, and the command exits non-zero.

    \b
    Examples:
      wire-bundle images wire.yaml               one line per image, with the charts that use it
      wire-bundle images wire.yaml --why         where each image comes from, down to the container
      wire-bundle images wire.yaml --json | jq '.images | keys'
      wire-bundle images wire.yaml -j 2          two renderings at a time
    """
    kept, dropped = collect(spec, cache_dir, tmpdir, helm, quiet or as_json, jobs)
    if as_json:
        click.echo(json.dumps({"images": kept, "excluded": dropped}, indent=2, sort_keys=True))
        return
    from rich.console import Console
    from rich.table import Table

    # Piped into a file or grep: one row per line, whatever the width; on a terminal cells fold, never cut.
    console = Console() if sys.stdout.isatty() else Console(width=400)
    if why:
        table = Table(title="Images and why")
        for col in ("image", "chart", "values", "template", "object", "container"):
            table.add_column(col, overflow="fold")
        for ref, recs in kept.items():
            for i, rec in enumerate(recs):
                table.add_row(ref if i == 0 else "", *_origin(rec))
    else:
        table = Table(title="Images")
        table.add_column("image", overflow="fold")
        table.add_column("used by", overflow="fold")
        for ref, recs in kept.items():
            users = sorted({"spec" if r["source"] == "spec" else r["chart"] for r in recs})
            table.add_row(ref, ", ".join(users))
    console.print(table)
    if dropped:
        console.print(f"excluded by images.exclude: {', '.join(dropped)}")
    console.print(f"{len(kept)} images")
