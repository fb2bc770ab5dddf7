"""`wire-bundle unpack`: verify while extracting, all or nothing; optionally install the admin-host toolchain."""

from __future__ import annotations

from pathlib import Path

import click

from bundler.bundle.space import human
from bundler.commands import options


@click.command()
@options.archive_arg
@click.option("--to", "target", type=click.Path(file_okay=False, path_type=Path), required=True,
              help="Directory to unpack into; created if missing.")
@click.option("--replace", is_flag=True, help="Replace a directory that holds another bundle (swapped atomically).")
@options.fingerprint
@options.keyring
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
    from bundler.bundle.unpack import unpack as run_unpack

    result = run_unpack(archive, target, replace=replace, log=click.echo, fingerprint=fingerprint, keyring=keyring)
    if not result.reused:
        click.echo(f"unpacked {result.bundle_name}: {result.members} members, {human(result.bytes)} into {target}")
    click.echo(options.signer_line(result.signer, result.trusted))
    if toolchain_venv is not None:
        from bundler.island.toolchain import install_toolchain

        install_toolchain(target, toolchain_venv, toolchain_collections or toolchain_venv.parent / "collections",
                          log=click.echo)
