"""`wire-bundle verify` and `wire-bundle inspect`: reading an archive, offline."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click
from rich.console import Console
from rich.markup import escape
from rich.table import Table
from rich.text import Text

from bundler.archive import BUNDLE_JSON, read_bundle_json
from bundler.build import kinds
from bundler.bundle.manifest import BundleHead
from bundler.errors import BundleError, IntegrityError
from bundler.progress import Reporter
from bundler.space import human
from bundler.verify import verify_archive

archive_arg = click.argument("archive", type=click.Path(exists=True, dir_okay=False, path_type=Path))
fingerprint_opt = click.option(
    "--fingerprint", default=None, metavar="FPR",
    help="Require the bundle to be signed by this key (the fingerprint `build` printed, carried separately).")
keyring_opt = click.option(
    "--keyring", type=click.Path(exists=True, dir_okay=False, path_type=Path), default=None,
    help="Require a signature by one of the public keys in this file instead.")


def _signer_line(signer: str | None, trusted: bool) -> str:
    if trusted:
        return f"  signed by:      {signer} (the expected key)"
    return (f"  signed by:      {signer} (valid, but not checked against a trusted key: "
            "pass --fingerprint or --keyring)")


@click.command()
@archive_arg
@fingerprint_opt
@keyring_opt
@click.option("-q", "--quiet", is_flag=True, help="Print only problems.")
def verify(archive: Path, fingerprint: str | None, keyring: Path | None, quiet: bool) -> None:
    """Check every member, every blob digest and the signature of ARCHIVE, in one pass, with no network.

    Exits 0 when the archive is intact; otherwise names each broken member and exits 1. With --fingerprint (or
    --keyring) the signer must be that key; without, a valid signature by any key is reported but not trusted.
    """
    reporter = Reporter(quiet=quiet)
    size = archive.stat().st_size
    with reporter.bytes_task("verify", size) as task:
        report = verify_archive(archive, on_bytes=task.advance, fingerprint=fingerprint, keyring=keyring)
    if not report.ok:
        for member, problem in report.problems:
            click.echo(f"BROKEN {member}: {problem}", err=True)
        raise BundleError(f"{archive}: {len(report.problems)} problem(s); do not install from this archive")
    if not quiet:
        click.echo(f"OK {archive}: {report.members} members, {human(report.bytes)} verified")
        click.echo(f"  content digest: {report.content_digest}")
        click.echo(_signer_line(report.signer, report.trusted))


def dedup_figures(meta: BundleHead) -> tuple[int, int]:
    """(bytes if every image carried its own copy of every blob, bytes actually stored)."""
    summary = meta.kinds.get("images", {})
    if not isinstance(summary, dict):
        raise TypeError("the images summary is not a mapping")  # inspect names the malformed summary
    images = summary.get("images", [])
    naive = sum(i["size"] for i in images)
    stored = sum(a.size for a in meta.artifacts if a.kind == "image")
    return naive, stored


@click.command()
@archive_arg
@click.option("--json", "as_json", is_flag=True, help="Print bundle.json's facts as JSON.")
def inspect(archive: Path, as_json: bool) -> None:
    """Show what ARCHIVE holds: images, digests, platforms, sizes and what deduplication saved.

    Reads only the archive's head (bundle.json); use `verify` to check the content.
    """
    meta = read_bundle_json(archive)
    try:
        _show(archive, meta, as_json)
    except (KeyError, TypeError, ValueError, AttributeError, IndexError) as exc:
        # The head is checked for what every reader needs; each kind's summary is its own, read only here.
        raise IntegrityError(f"{archive}: {BUNDLE_JSON}: a kind's summary is malformed "
                             f"({type(exc).__name__}: {str(exc)[:120]})") from None


def _show(archive: Path, meta: BundleHead, as_json: bool) -> None:
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
        out = {k: doc.get(k) for k in ("format", "name", "created", "tool", "kinds")}
        out["totals"] = totals
        click.echo(json.dumps(out, indent=2, sort_keys=True))
        return
    # Piped output (logs, scripts, grep) keeps whole references on one line instead of folding at 80 columns.
    console = Console(width=None if sys.stdout.isatty() else 200)
    console.print(f"[bold]{escape(meta.name)}[/bold]  {escape(str(archive))}  "
                  f"({escape(str(meta.tool))}, format {meta.format})")
    for kind in kinds():
        summary = meta.kinds.get(kind.name)
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
    if naive:
        pct = 100 * (naive - stored) / naive
        console.print(f"images: {human(naive)} as separate images, {human(stored)} stored; "
                      f"deduplication saved {human(naive - stored)} ({pct:.0f}%)")


@click.command()
@archive_arg
@click.option("--to", "target", type=click.Path(file_okay=False, path_type=Path), required=True,
              help="Directory to unpack into; created if missing.")
@click.option("--replace", is_flag=True, help="Replace a directory that holds another bundle (swapped atomically).")
@fingerprint_opt
@keyring_opt
@click.option("--toolchain-venv", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="On the admin host: also install the bundle's toolchain (wire-bundle, ansible-core, ansible-runner "
                   "from its wheelhouse, no index) into this venv.")
@click.option("--toolchain-collections", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Where the bundle's Ansible collections go (default: 'collections' beside the venv).")
def unpack(archive: Path, target: Path, replace: bool, fingerprint: str | None, keyring: Path | None,
           toolchain_venv: Path | None, toolchain_collections: Path | None) -> None:
    """Verify ARCHIVE while extracting it into a directory, all or nothing.

    \b
    Every member is checked against checksums.sha256 as it streams; paths that leave the directory, links,
    devices and duplicate members are refused. The content lands in a hidden sibling directory and is renamed
    into place only when every check passed, so the target never holds a half-unpacked bundle. Unpacking the
    same archive again hashes the file against the one unpacked there and checks the signer again; an archive
    with other bytes is verified in full.
    """
    from bundler.unpack import unpack as run_unpack

    result = run_unpack(archive, target, replace=replace, log=click.echo, fingerprint=fingerprint, keyring=keyring)
    if not result.reused:
        click.echo(f"unpacked {result.bundle_name}: {result.members} members, {human(result.bytes)} into {target}")
    click.echo(_signer_line(result.signer, result.trusted))
    if toolchain_venv is not None:
        from bundler.deploy.toolchain import install_toolchain

        install_toolchain(target, toolchain_venv, toolchain_collections or toolchain_venv.parent / "collections",
                          log=click.echo)
