"""`wire-bundle diff OLD NEW`: what an upgrade changes, and what a delta bundle for it would carry."""

from __future__ import annotations

import json
from pathlib import Path

import click

from bundler.bundle.space import human

bundle_arg = click.Path(exists=True, dir_okay=False, path_type=Path)


@click.command()
@click.argument("old", type=bundle_arg)
@click.argument("new", type=bundle_arg)
@click.option("--json", "as_json", is_flag=True, help="Print the differences as JSON.")
def diff(old: Path, new: Path, as_json: bool) -> None:
    """Show what changed from bundle OLD to bundle NEW, per kind, and the bytes a delta would carry.

    \b
    OLD and NEW are archives (plain, delta or a split archive's parts manifest) or their bundle.json; only
    the heads are read. Images are paired by repository, with their old and new digests and the bytes of the
    layers OLD lacks; charts, Debian packages and wheels with their versions; files with their sha256.

    \b
    Example:
      wire-bundle diff /srv/wire-bundle/bundle.json wire-5.1.tar.zst
    """
    from bundler.bundle.basis import load_basis
    from bundler.bundle.diff import diff_bundles

    result = diff_bundles(load_basis(old), load_basis(new))
    if as_json:
        click.echo(json.dumps(result, indent=2, sort_keys=True))
        return
    o, n = result["old"], result["new"]
    click.echo(f"{o['name']} ({o['content_digest']}) -> {n['name']} ({n['content_digest']})")
    for kind, d in result["kinds"].items():
        if not (d["added"] or d["removed"] or d["changed"]):
            continue
        click.echo(f"{kind}: {len(d['changed'])} changed, {len(d['added'])} added, {len(d['removed'])} removed")
        for row in d["changed"]:
            click.echo(f"  ~ {_changed(kind, row)}")
        for row in d["added"]:
            extra = f"  new bytes {human(row['new_bytes'])}" if "new_bytes" in row else ""
            click.echo(f"  + {row['name']}  {row.get('new_digest') or row.get('version') or row.get('sha256')}{extra}")
        for row in d["removed"]:
            click.echo(f"  - {row['name']}  {row.get('old_digest') or row.get('version') or row.get('sha256')}")
    delta = result["delta"]
    share = 100 * delta["bytes"] / delta["full_bytes"] if delta["full_bytes"] else 0
    click.echo(f"delta: {delta['members']} members, {human(delta['bytes'])} of the new bundle's "
               f"{human(delta['full_bytes'])} ({share:.1f}%); {delta['removed_members']} of OLD's members unused")


def _changed(kind: str, row: dict) -> str:
    if kind == "images":
        refs = row["new_ref"] if row["old_ref"] == row["new_ref"] else f"{row['old_ref']} -> {row['new_ref']}"
        return (f"{refs}  {row['old_digest'][:19]} -> {row['new_digest'][:19]}  new bytes {human(row['new_bytes'])} "
                f"of {human(row['size'])}")
    label = "version" if "old_version" in row else "sha256"
    return f"{row['name']}  {row[f'old_{label}']} -> {row[f'new_{label}']}"
