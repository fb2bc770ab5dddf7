"""`wire-bundle prune -i INVENTORY`: stop serving, on the asset host, what the bundles an upgrade left behind hold;
refused while a deployed release still uses it. Runs playbooks/prune.yml through the island's Ansible runner."""

from __future__ import annotations

import time
from pathlib import Path

import click

from bundler.bundle.space import human
from bundler.errors import BundleError

PRUNE_TASK = "Remove what no kept bundle holds (the registry's blobs and tags, the served trees)"
MODULE_PREFIX = "registry prune: "


def _bundle(b: dict) -> str:
    return f"{b.get('name')!r} ({str(b.get('content_digest'))[:19]}…)"


@click.command()
@click.option("-i", "--inventory", type=click.Path(exists=True, path_type=Path), required=True,
              help="Ansible inventory of the island (the one `deploy` used); its assethost group is pruned.")
@click.option("--keep", multiple=True, metavar="BUNDLE",
              help="Keep this served bundle too: its name, content digest or a digest prefix (12+ hex digits); "
                   "repeatable. The bundle unpacked on the asset host now is always kept.")
@click.option("--dry-run", is_flag=True, help="Only list what would go; remove nothing.")
@click.option("--run-dir", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Where the run's event log goes (default: runs/<time>-prune in the current directory).")
def prune(inventory: Path, keep: tuple[str, ...], dry_run: bool, run_dir: Path | None) -> None:
    """Stop serving the previous releases an upgrade kept on the asset host.

    \b
    After an upgrade (a new bundle unpacked, bootstrap run again) the asset host serves the new bundle AND
    every earlier one since the last prune: their images stay in the registry, their debs, files and charts
    under http://ASSET/bundles/<digest>/, so a rollback (helm rollback, an older package) still finds them.
    When the new release is deployed and rollback is no longer wanted, prune removes every served bundle but
    the current one (and those named with --keep): the bundle's tree, and the registry tags and blobs no kept
    bundle holds. Blobs are hard links, so a blob shared with a kept bundle costs nothing and stays.

    \b
    Prune refuses, removing nothing, while a deployed release uses an image that would go, and names the
    release and the image. The deployed releases are the records `wire-bundle deploy -i INV wire.yml`
    (the wire_releases role) writes at every install: <inventory dir>/artifacts/releases/<release>.json,
    {name, chart, version, fingerprint, images}. Set wire_releases_deployed_dir if they live elsewhere.

    \b
    Examples:
      wire-bundle prune -i inventory/examples/production --dry-run     # what would go
      wire-bundle prune -i inventory/examples/production
      wire-bundle prune -i inventory/examples/production --keep wire-5.29
    Exit status: 0 when done (or nothing to do), 1 when refused or failed.
    """
    from bundler.commands.deploy import find_playbook
    from bundler.island.runner import run_playbook

    path = find_playbook("prune.yml")
    run_dir = run_dir or Path("runs") / f"{time.strftime('%Y%m%d-%H%M%S')}-prune"
    if run_dir.exists() and any(run_dir.iterdir()):
        raise BundleError(f"run directory {run_dir} is not empty; pass another --run-dir")
    extravars = {"asset_host_prune_keep": list(keep), "asset_host_prune_dry_run": dry_run}
    result = run_playbook(path, inventory.resolve(), run_dir.resolve(), extravars=extravars, what="prune",
                          keep_results=PRUNE_TASK)
    if result.failures:
        f = result.failures[0]
        message = f.message[len(MODULE_PREFIX):] if f.message.startswith(MODULE_PREFIX) else f.message
        raise BundleError(f"prune: {f.host}: {message}; nothing was removed (events in {run_dir}/events.jsonl)"
                          if "refusing" in message else f"prune: {f.host}: task '{f.task}': {message}")
    results = result.results
    if not result.ok or not results:
        raise BundleError(f"prune: no asset host was pruned (status {result.status}, rc {result.rc}); is there an "
                          f"assethost group in {inventory}? Events in {run_dir}/events.jsonl")
    verb = "would stop" if dry_run else "stopped"
    for host, res in sorted(results.items()):
        dropped = res.get("dropped") or []
        blobs = res.get("blobs") or []
        click.echo(f"{host}: {verb} serving {', '.join(_bundle(b) for b in dropped) or 'no bundle'}; "
                   f"{len(blobs)} registry blobs ({human(int(res.get('blob_bytes') or 0))}), "
                   f"{res.get('links', 0)} registry links, {len(res.get('trees') or [])} served trees")
        if dry_run:
            for b in dropped:
                click.echo(f"  bundle  {b.get('name')}  {b.get('content_digest')}  served since "
                           f"{b.get('served_since')}")
            for hexd in blobs:
                click.echo(f"  blob    sha256:{hexd}")
        click.echo(f"{host}: still serving {', '.join(_bundle(b) for b in res.get('kept') or [])}")
