"""Options shared by several commands, defined once so their help reads the same everywhere."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

import click

from bundler.bundle.store import DEFAULT_CACHE

# The pipeline is imported when a command runs, not when its options are declared: every command's module is
# loaded for `wire-bundle --help`.
if TYPE_CHECKING:
    from bundler.bundle.build import Context

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


class ArchiveFile(click.Path):
    """An existing regular file: a directory, FIFO, socket or device is refused in one line before any read
    (a FIFO would block the open until something writes to it)."""

    def __init__(self) -> None:
        super().__init__(exists=True, dir_okay=False, path_type=Path)

    def convert(self, value, param, ctx):
        if isinstance(value, (str, Path)) and Path(value).exists():
            from bundler.bundle.archive import check_archive_file

            check_archive_file(Path(value))
        return super().convert(value, param, ctx)  # a missing path: click's own message, as before


archive_arg = click.argument("archive", type=ArchiveFile())
fingerprint = click.option(
    "--fingerprint", default=None, metavar="FPR",
    help="Require the bundle to be signed by this key (the fingerprint `build` printed, carried separately).")
keyring = click.option(
    "--keyring", type=click.Path(exists=True, dir_okay=False, path_type=Path), default=None,
    help="Require a signature by one of the public keys in this file instead.")


def signer_line(signer: str | None, trusted: bool) -> str:
    """How `verify` and `unpack` report the signer: trusted only when checked against a key the operator gave."""
    if trusted:
        return f"  signed by:      {signer} (the expected key)"
    return (f"  signed by:      {signer} (valid, but not checked against a trusted key: "
            "pass --fingerprint or --keyring)")


def context(cache_dir: Path, work: Path, jobs: int, quiet: bool, helm: str | None) -> Context:
    """The run context `lock`, `build` and `images` share: cache, scratch directory, progress, parallelism."""
    from bundler.bundle.build import Context
    from bundler.bundle.progress import Reporter

    cache_dir.mkdir(parents=True, exist_ok=True)
    return Context(cache_dir=cache_dir, work_dir=work, reporter=Reporter(quiet=quiet), jobs=jobs, helm=helm)
