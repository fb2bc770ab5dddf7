"""Options shared by several commands, defined once so their help reads the same everywhere."""

from __future__ import annotations

import os
from pathlib import Path

import click

from bundler.store import DEFAULT_CACHE

cache_dir = click.option(
    "--cache-dir", type=click.Path(path_type=Path), default=DEFAULT_CACHE, show_default=True,
    help="Persistent download cache, reused across builds (blobs are stored once, by digest).",
)
tmpdir = click.option(
    "--tmpdir", type=click.Path(path_type=Path), default=None,
    help="Scratch space for this run (default: $TMPDIR or /tmp); removed afterwards.",
)
jobs = click.option(
    "-j", "--jobs", type=click.IntRange(1, 64), default=min(8, (os.cpu_count() or 2) * 2), show_default=True,
    help="Parallel downloads, and chart renderings (at most one per CPU).",
)
quiet = click.option("-q", "--quiet", is_flag=True, help="Only warnings and errors.")
helm = click.option(
    "--helm", type=click.Path(dir_okay=False), default=None,
    help="helm binary used to render charts for image discovery (default: helm on PATH).",
)
spec_arg = click.argument("spec", type=click.Path(dir_okay=False, path_type=Path))
