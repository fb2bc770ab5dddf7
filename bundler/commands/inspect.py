"""`wire-bundle inspect`: what an archive holds, read from its head alone."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import click

from bundler.bundle.space import human
from bundler.commands import options
from bundler.errors import IntegrityError

if TYPE_CHECKING:
    from bundler.bundle.manifest import BundleHead


def dedup_figures(meta: BundleHead) -> tuple[int, int]:
    """(bytes if every image carried its own copy of every blob, bytes actually stored)."""
    images = meta.summaries().images
    naive = sum(i.size for i in images.images) if images else 0
    stored = sum(a.size for a in meta.artifacts if a.kind == "image")
    return naive, stored


@click.command()
@options.archive_arg
@click.option("--json", "as_json", is_flag=True, help="Print bundle.json's facts as JSON.")
def inspect(archive: Path, as_json: bool) -> None:
    """Show what ARCHIVE holds: images, digests, platforms, sizes and what deduplication saved.

    Reads only the archive's head (bundle.json); use `verify` to check the content.
    """
    from bundler.bundle.archive import read_bundle_json

    meta = read_bundle_json(archive)
    try:
        _show(archive, meta, as_json)
    except IntegrityError as exc:
        # The head is checked for what every reader needs; the kinds' summaries only by the readers of them.
        raise IntegrityError(f"{archive}: {exc}") from None


def _show(archive: Path, meta: BundleHead, as_json: bool) -> None:
    from rich.console import Console
    from rich.markup import escape
    from rich.table import Table
    from rich.text import Text

    from bundler.bundle.build import kinds

    naive, stored = dedup_figures(meta)
    totals = {
        "archive_bytes": archive.stat().st_size,
        "artifact_bytes": sum(a.size for a in meta.artifacts),
        "artifacts": len(meta.artifacts),
        "image_bytes_without_dedup": naive,
        "image_bytes_stored": stored,
        "dedup_saved_bytes": naive - stored,
    }
    if as_json:
        doc = meta.to_json()
        out = {k: doc.get(k) for k in ("format", "name", "created", "tool", "kinds", "sbom")}
        out["totals"] = totals
        click.echo(json.dumps(out, indent=2, sort_keys=True))
        return
    # Piped output (logs, scripts, grep) keeps whole references on one line instead of folding at 80 columns.
    console = Console(width=None if sys.stdout.isatty() else 200)
    console.print(f"[bold]{escape(meta.name)}[/bold]  {escape(str(archive))}  "
                  f"({escape(str(meta.tool))}, format {meta.format})")
    summaries = meta.summaries()
    for kind in kinds():
        summary = getattr(summaries, kind.name)
        if summary is None or not hasattr(kind, "inspect_rows"):
            continue
        title, columns, rows = kind.inspect_rows(summary)
        if not rows:
            continue
        table = Table(title=f"{title} ({len(rows)})", title_justify="left")
        for c in columns:
            table.add_column(c, overflow="fold")
        for r in rows:
            table.add_row(*(Text(str(cell)) for cell in r))  # text from the archive, never read as markup
        console.print(table)
    console.print(
        f"artifacts: {totals['artifacts']}, {human(totals['artifact_bytes'])} uncompressed; "
        f"archive {human(totals['archive_bytes'])}"
    )
    if meta.sbom is not None:  # bundles built before the SBOM have none
        counts = meta.sbom.get("components") or {}
        console.print(Text(f"sbom ({meta.sbom.get('member')}, `wire-bundle sbom`): "
                           + ", ".join(f"{k}: {n}" for k, n in sorted(counts.items()))))
    if naive:
        pct = 100 * (naive - stored) / naive
        console.print(f"images: {human(naive)} as separate images, {human(stored)} stored; "
                      f"deduplication saved {human(naive - stored)} ({pct:.0f}%)")
