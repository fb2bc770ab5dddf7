"""`wire-bundle lock`: pin every tag and version of a spec to exact digests."""

from __future__ import annotations

from pathlib import Path

import click

from bundler.commands import options


@click.command()
@options.spec_arg
@options.cache_dir
@options.tmpdir
@options.jobs
@options.helm
@options.quiet
def lock(spec: Path, cache_dir: Path, tmpdir: Path | None, jobs: int, helm: str | None, quiet: bool) -> None:
    """Resolve every tag and version in SPEC to exact digests, into SPEC's lock file.

    The lock file sits beside the spec (wire.yaml -> wire.lock.json). Commit it with the spec: `build` uses it,
    so the same bytes are fetched until you lock again, and `build --locked` refuses a spec that changed since.
    """
    from bundler.bundle.build import WorkDir, resolve_lock
    from bundler.bundle.lock import write_lock
    from bundler.bundle.spec import load_spec

    loaded = load_spec(spec)
    with WorkDir(tmpdir) as work:
        ctx = options.context(cache_dir, work, jobs, quiet, helm)
        data = resolve_lock(loaded, ctx)
    write_lock(loaded.lock_path, data)
    images = len(data.images or [])
    click.echo(f"locked {images} images -> {loaded.lock_path}")
