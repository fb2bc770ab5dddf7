"""`wire-bundle verify`: check an archive, offline, in one pass."""

from __future__ import annotations

from pathlib import Path

import click

from bundler.commands import options
from bundler.errors import BundleError


@click.command()
@options.archive_arg
@options.fingerprint
@options.keyring
@click.option("-q", "--quiet", is_flag=True, help="Print only problems.")
def verify(archive: Path, fingerprint: str | None, keyring: Path | None, quiet: bool) -> None:
    """Check every member, every blob digest and the signature of ARCHIVE, in one pass, with no network.

    Exits 0 when the archive is intact; otherwise names each broken member and exits 1. With --fingerprint (or
    --keyring) the signer must be that key; without, a valid signature by any key is reported but not trusted.
    A delta bundle (`build --base`) is verified on its own and names the bundle it must be unpacked onto; a split
    archive is verified from its parts manifest (NAME.tar.zst.parts.json), part by part, never joined.
    """
    from bundler.bundle.delta import needs_line
    from bundler.bundle.parts import stream_size
    from bundler.bundle.progress import Reporter
    from bundler.bundle.space import human
    from bundler.bundle.verify import verify_archive

    reporter = Reporter(quiet=quiet)
    size = stream_size(archive)
    with reporter.bytes_task("verify", size) as task:
        report = verify_archive(archive, on_bytes=task.advance, fingerprint=fingerprint, keyring=keyring)
    if not report.ok:
        for member, problem in report.problems:
            click.echo(f"BROKEN {member}: {problem}", err=True)
        raise BundleError(f"{archive}: {len(report.problems)} problem(s); do not install from this archive")
    if not quiet:
        click.echo(f"OK {archive}: {report.members} members, {human(report.bytes)} verified")
        click.echo(f"  content digest: {report.content_digest}")
        click.echo(options.signer_line(report.signer, report.trusted))
    if report.delta is not None:
        click.echo(needs_line(report.delta))
