"""`wire-bundle plan`: size SFT (conference calling) for a planned load."""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path

import click

HELP = """Size SFT (conference calling) for a planned load, from Wire's published formulas.

\b
SFT needs 1 vCPU per 50 participants and runs one instance per Kubernetes node (hostNetwork). The SFT
receives 1 audio (and 1 video) stream per participant and sends each participant up to 5 audio streams
(n when the call has 5 or fewer) and up to 9 video streams (n-1 below 9 participants); audio up to 50 kbps,
video up to 350 kbps per stream. Team and conversation size limits are stated too.

\b
Examples:
  wire-bundle plan --participants 50 --conferences 4 --video
  wire-bundle plan -p 20 -c 10 --inventory inventory/prod.yml   # exit 3 if the inventory falls short
"""


@click.command(help=HELP)
@click.option("-p", "--participants", type=int, required=True, help="Participants per conference.")
@click.option("-c", "--conferences", type=int, default=1, show_default=True, help="Concurrent conferences.")
@click.option("--video/--audio-only", default=False, show_default=True, help="Plan for video, not just audio.")
@click.option("--node-cpus", type=int, default=None,
              help="vCPUs per SFT node; default: the profile's Kubernetes row (production: 6).")
@click.option("--team-size", type=int, default=None, help="Largest team, to say which limits apply.")
@click.option("-i", "--inventory", type=click.Path(path_type=Path), default=None,
              help="Check a planned inventory's sft group against the result.")
@click.option("--profile", default=None, help="Sizing profile for --node-cpus and the inventory check.")
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table", show_default=True)
@click.pass_context
def plan(ctx: click.Context, participants: int, conferences: int, video: bool, node_cpus: int | None,
         team_size: int | None, inventory: Path | None, profile: str | None, fmt: str) -> None:
    from rich.console import Console

    from bundler.island.planner import EXIT_FAIL, check_inventory, make_plan, print_plan
    from bundler.island.preflight.rules import load_profile

    if node_cpus is None:
        node_cpus = max(1, int(load_profile(profile or "production").roles["kubernetes"].cpu))
    result = make_plan(participants, conferences, video, node_cpus, team_size)
    if inventory is not None:
        result.checks = check_inventory(result, inventory, profile)
    if fmt == "json":
        click.echo(json.dumps(asdict(result), indent=2))
    else:
        print_plan(result, Console())
    ctx.exit(EXIT_FAIL if result.failed else 0)
