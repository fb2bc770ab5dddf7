"""`wire-bundle preflight`: every host and the inventory against the sizing table, as tables or JSON."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from bundler.island.preflight.rules import profile_names

HELP = """Check every VM of INVENTORY against Wire's sizing table before anything is installed.

\b
Each host is measured over SSH: CPU, memory, total and free disk where each of its roles writes, OS, swap,
time sync, ports already taken, kernel features and sysctls for Kubernetes. The inventory is checked as a
whole: VM counts per role, quorum sizes, groups that must or must not share a VM, and a real connectivity
matrix (temporary listeners are opened where no service runs yet, probed from the peers, then removed).

\b
Exit codes: 0 all passed, 3 a check failed, 4 warnings only.
Waive one check at a time: --ignore CHECK_ID (every host) or --ignore HOST:CHECK_ID, or in the inventory
`preflight_ignore: [CHECK_ID]` for the hosts that carry it. Override a role's figures in the inventory with
`preflight_sizing_<role>: {cpu: .., memory_gb: .., disk_gb: .., count: ..}`.

\b
Examples:
  wire-bundle preflight -i inventory/prod.yml
  wire-bundle preflight -i lab.yml --profile lab --ignore time.sync --format json > report.json
"""


@click.command(help=HELP)
@click.option("-i", "--inventory", "inventory", type=click.Path(path_type=Path),
              help="Ansible inventory (file or directory).")
@click.option("--profile", type=click.Choice(profile_names()), default=None,
              help="Sizing profile; default: the inventory's preflight_profile, else production.")
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table", show_default=True,
              help="table: one table per host with required vs found; json: pass/warn/fail/ignored lists.")
@click.option("--ignore", "ignores", multiple=True, metavar="CHECK_ID",
              help="Waive this check (repeatable); HOST:CHECK_ID waives it on one host only.")
@click.option("--failures-only", is_flag=True, help="Tables: hide passed checks.")
@click.option("-v", "--verbose", is_flag=True, help="Show Ansible's own output while it runs.")
@click.option("--list-checks", is_flag=True, help="List every check ID and what it checks, then exit.")
@click.pass_context
def preflight(ctx: click.Context, inventory: Path | None, profile: str | None, fmt: str, ignores: tuple[str, ...],
              failures_only: bool, verbose: bool, list_checks: bool) -> None:
    from rich.console import Console

    from bundler.island.preflight.catalogue import catalogue, check_ignores
    from bundler.island.preflight.inventory import from_file
    from bundler.island.preflight.render import print_tables
    from bundler.island.preflight.run import run_preflight

    if list_checks:
        for check_id, what in catalogue():
            click.echo(f"{check_id:48} {what}")
        return
    if inventory is None:
        raise click.UsageError("missing option -i/--inventory (the hosts to check)")
    check_ignores(list(ignores))
    inv = from_file(inventory)  # a broken inventory is one clear line here, not a playbook that judges no host
    if inv.first_var("preflight_sft_participants"):
        from bundler.island.planner import PlanError, make_plan

        # The same refusals as `wire-bundle plan` (e.g. more than 2000 participants), before anything runs.
        try:
            make_plan(int(inv.first_var("preflight_sft_participants")),
                      int(inv.first_var("preflight_sft_conferences", 1)), False, 1)
        except PlanError as exc:
            text = str(exc).replace("--participants", "preflight_sft_participants")
            text = text.replace("--conferences", "preflight_sft_conferences")
            raise PlanError(f"inventory {inventory}: {text}") from None
    if fmt == "table":
        click.echo(f"pre-flight: measuring the hosts of {inventory} over SSH ...", err=True)
    result = run_preflight(inventory, profile, list(ignores), verbose=verbose)
    if fmt == "json":
        click.echo(json.dumps(result, indent=2))
    else:
        print_tables(result, Console(width=None if sys.stdout.isatty() else 150), show_pass=not failures_only)
    ctx.exit(result["exit_code"])
