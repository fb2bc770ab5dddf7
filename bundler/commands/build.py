"""`wire-bundle build`: everything a spec names, fetched into one verified, deduplicated, signed archive."""

from __future__ import annotations

import json
from pathlib import Path

import click

from bundler.commands import options


@click.command()
@options.spec_arg
@click.option("-o", "--output", type=click.Path(path_type=Path), default=None,
              help="Archive file to write (default: NAME.tar.zst beside the spec, NAME from the spec).")
@click.option("--locked", is_flag=True, help="Refuse to build when the spec changed since it was locked.")
@click.option("--level", type=click.IntRange(1, 19), default=1, show_default=True,
              help="zstd level. Layers, .debs, charts and wheels are compressed already: higher levels cost CPU "
                   "and gain little.")
@click.option("--sign-key", type=click.Path(exists=True, dir_okay=False, path_type=Path), default=None,
              envvar="WIRE_BUNDLE_SIGN_KEY", show_envvar=True,
              help="Armored OpenPGP secret key (no passphrase) that signs the bundle and its apt repository "
                   "(default: a key made once for this cache, valid 5 years).")
@click.option("--base", type=click.Path(exists=True, dir_okay=False, path_type=Path), default=None,
              help="Build a delta on this earlier bundle (its archive, parts manifest or bundle.json): only the "
                   "members it lacks (layers, files) are written; `unpack` onto the unpacked base gives the new "
                   "bundle.")
@click.option("--split", "split", metavar="SIZE", default=None,
              help="Write the archive as numbered parts of at most SIZE (4G for FAT32, 25G for a Blu-ray) and a "
                   "manifest, OUTPUT.parts.json, that verify and unpack read directly; `cat` joins the parts.")
@options.cache_dir
@options.tmpdir
@options.jobs
@options.helm
@options.quiet
def build(spec: Path, output: Path | None, locked: bool, level: int, sign_key: Path | None, base: Path | None,
          split: str | None, cache_dir: Path, tmpdir: Path | None, jobs: int, helm: str | None, quiet: bool) -> None:
    """Fetch everything SPEC names into one verified, deduplicated archive.

    \b
    Uses SPEC's lock file (locking first if there is none or the spec changed, unless --locked).
    Downloads go to the cache and resume where they stopped; every blob is checked against its digest
    before it counts. The archive is written to OUTPUT.partial and renamed only when complete, with
    OUTPUT.sha256 beside it for the journey. The archive is signed (checksums.sha256.asc); `build` prints the
    signer's fingerprint, which the island checks with `verify --fingerprint`. Two builds from one lock and one
    key give identical archives.

    \b
    Example:
      wire-bundle build examples/wire.yaml -o /media/usb/wire-5.0.tar.zst
      wire-bundle build examples/wire.yaml -o wire-5.1.delta.tar.zst --base wire-5.0.tar.zst
      wire-bundle build examples/wire.yaml -o /media/usb/wire-5.0.tar.zst --split 4G
    """
    from bundler.bundle.parts import parse_size, split_archive
    from bundler.bundle.signing import KeyReader
    from bundler.bundle.space import human
    from bundler.bundle.workdir import WorkDir

    part_size = parse_size(split) if split is not None else None
    with WorkDir(tmpdir) as work, KeyReader(cache_dir, sign_key) as keys:
        # The spec's models and the pipeline's modules load while gpg reads the signing key on the other core
        # (about 90 ms each: a fifth of a small delta's build).
        from bundler.bundle.build import build as run_build
        from bundler.bundle.spec import load_spec

        loaded = load_spec(spec)
        out = output or spec.with_name(f"{loaded.spec.name}.tar.zst")
        ctx = options.context(cache_dir, work, jobs, quiet, helm)
        ctx.sign_key = sign_key
        result = run_build(loaded, out, ctx, locked=locked, level=level, base=base, keys=keys)
    a = result.archive
    click.echo(f"wrote {a.path} ({human(a.size)}, {a.members} members)")
    if result.delta is not None:
        d = result.delta
        click.echo(f"  delta on:       {base} ({json.loads(d.declaration)['base']}): carries {d.carried} members, "
                   f"{human(d.carried_bytes)}; {len(d.leave_out)} members, {human(d.from_base_bytes)} from the base")
    if part_size is not None:
        manifest = split_archive(a.path, part_size, a.file_sha256, a.content_digest)
        count = len(json.loads(manifest.read_text())["parts"])
        click.echo(f"  split into:     {count} parts of at most {human(part_size)}; manifest {manifest}")
    click.echo(f"  file sha256:    {a.file_sha256}")
    click.echo(f"  content digest: {a.content_digest}")
    click.echo(f"  signed by:      {result.signer}")
    click.echo("  (carry this fingerprint to the island separately: `wire-bundle verify FILE --fingerprint ...`)")
