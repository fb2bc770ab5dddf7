"""`wire-bundle deploy -i INVENTORY [PLAYBOOK]`: run the island playbooks through ansible-runner with live progress
and a per-host recap."""

from __future__ import annotations

import sys
import time
from pathlib import Path

import click

from bundler import paths
from bundler.errors import BundleError

PLAYBOOK_DIRS = (Path.cwd() / "playbooks", paths.REPO / "playbooks")


def find_playbook(name: str) -> Path:
    given = Path(name)
    if given.is_file():
        return given.resolve()
    candidates = [d / given.name for d in PLAYBOOK_DIRS] + [d / f"{given.name}.yml" for d in PLAYBOOK_DIRS]
    for c in candidates:
        if c.is_file():
            return c.resolve()
    raise BundleError(f"playbook {name}: no such file (looked in {', '.join(str(d) for d in PLAYBOOK_DIRS)})")


def parse_extra(pairs: tuple[str, ...]) -> dict:
    import yaml

    out: dict = {}
    for pair in pairs:
        if pair.startswith("@"):
            try:
                data = yaml.safe_load(Path(pair[1:]).read_text()) or {}
            except (OSError, yaml.YAMLError) as exc:
                raise BundleError(f"--extra-var {pair}: cannot read {pair[1:]}: {exc}") from None
            if not isinstance(data, dict):
                raise BundleError(f"--extra-var {pair}: {pair[1:]} must hold a YAML mapping")
            out.update(data)
            continue
        if "=" not in pair:
            raise BundleError(f"--extra-var {pair!r}: expected KEY=VALUE (VALUE is read as YAML) or @FILE")
        key, value = pair.split("=", 1)
        out[key] = yaml.safe_load(value) if value else ""
    return out


class Progress:
    """One live status line on a terminal (task and per-host counts); a plain line per task elsewhere."""

    def __init__(self, stream=sys.stderr):
        self.stream = stream
        self.live = stream.isatty()
        self._task = None
        self._last = 0.0

    def __call__(self, sink) -> None:
        if self.live:
            now = time.monotonic()
            if now - self._last < 0.2 and sink.task == self._task:
                return
            self._last = now
            self._task = sink.task
            hosts = "  ".join(f"{h} ok={c.ok} changed={c.changed} failed={c.failed + c.unreachable}"
                              for h, c in sorted(sink.hosts.items()))
            width = 200
            try:
                import shutil

                width = shutil.get_terminal_size().columns
            except OSError:
                pass
            line = f"TASK {sink.task} | {hosts}"[: width - 1]
            self.stream.write("\r\x1b[2K" + line)
            self.stream.flush()
        elif sink.task != self._task:
            self._task = sink.task
            done = sum(c.ok + c.failed + c.skipped + c.unreachable for c in sink.hosts.values())
            changed = sum(c.changed for c in sink.hosts.values())
            failed = sum(c.failed + c.unreachable for c in sink.hosts.values())
            print(f"TASK {sink.task}  ({done} results so far: {changed} changed, {failed} failed)",
                  file=self.stream, flush=True)

    def done(self) -> None:
        if self.live:
            self.stream.write("\r\x1b[2K")
            self.stream.flush()


@click.command()
@click.option("-i", "--inventory", type=click.Path(exists=True, path_type=Path), required=True,
              help="Ansible inventory (file or directory) of the island, e.g. inventory/examples/production/.")
@click.argument("playbook", default="bootstrap.yml")
@click.option("--check", is_flag=True,
              help="Dry run: report what would change, change nothing (ansible --check --diff).")
@click.option("-l", "--limit", default=None,
              help="Only these hosts or groups (Ansible pattern, e.g. 'assethost,kube_node').")
@click.option("-e", "--extra-var", "extra", multiple=True, metavar="KEY=VALUE|@FILE",
              help="Extra variable (VALUE read as YAML) or a YAML file of them; highest precedence; repeatable.")
@click.option("--run-dir", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Where the run's event log goes (default: runs/<time>-<playbook> in the current directory).")
def deploy(inventory: Path, playbook: str, check: bool, limit: str | None, extra: tuple[str, ...],
           run_dir: Path | None) -> None:
    """Run PLAYBOOK (default bootstrap.yml) against INVENTORY through ansible-runner.

    \b
    Shows the current task and per-host ok/changed/failed counts while it runs, ends with a per-host recap,
    and on failure names host, task and message for each failed host. Every event goes to the run
    directory: artifacts/run/job_events/*.json (ansible-runner's full events) and events.jsonl (one line per
    task result). PLAYBOOK is a path or a name under playbooks/ (here or in the wire-bundle checkout).

    \b
    Examples:
      wire-bundle deploy -i inventory/examples/production           # bootstrap.yml
      wire-bundle deploy -i inventory/examples/production --check   # what would change
      wire-bundle deploy -i inv.yml bootstrap.yml --limit kube_node
    Exit status: 0 when every host succeeded, 1 otherwise.
    """
    from bundler.island.runner import run_playbook

    path = find_playbook(playbook)
    extravars = parse_extra(extra)
    run_dir = run_dir or Path("runs") / f"{time.strftime('%Y%m%d-%H%M%S')}-{path.stem}"
    if run_dir.exists() and any(run_dir.iterdir()):
        raise BundleError(f"run directory {run_dir} is not empty; pass another --run-dir")
    click.echo(f"deploy: {path.name} on {inventory}{' (check mode)' if check else ''}"
               f"{f', limited to {limit}' if limit else ''}; events in {run_dir}", err=True)
    progress = Progress()
    started = time.monotonic()
    try:
        result = run_playbook(path, inventory.resolve(), run_dir.resolve(), check=check, limit=limit,
                              extravars=extravars, on_change=progress)
    finally:
        progress.done()
    click.echo(f"\nRECAP ({time.monotonic() - started:.0f} s)")
    width = max([len(h) for h in result.recap] + [4])
    for host, c in sorted(result.recap.items()):
        click.echo(f"  {host:<{width}}  ok={c.ok:<4} changed={c.changed:<4} failed={c.failed:<3} "
                   f"unreachable={c.unreachable:<3} skipped={c.skipped}")
    if not result.recap:
        click.echo("  no host matched")
    for f in result.failures:
        click.echo(f"FAILED {f.host}: task '{f.task}': {f.message}", err=True)
    if not result.ok:
        hosts = sorted({f.host for f in result.failures})
        raise BundleError(f"deploy: {path.name} failed on {len(hosts) or 'some'} host(s)"
                          f"{': ' + ', '.join(hosts) if hosts else f' (status {result.status}, rc {result.rc})'}; "
                          f"events in {run_dir}/events.jsonl")
