"""SFT vCPUs and nodes, and conference bandwidth, from Wire's published formulas.

Every participant sends one audio and one video stream to the SFT. The SFT sends each participant up to 5 audio
streams in calls of more than 5 participants (otherwise n), and up to 9 video streams in calls of 9 or more
(otherwise n-1). Figures live in bundler/data/calling.yaml.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

import yaml
from rich.console import Console
from rich.table import Table

from bundler import paths
from bundler.errors import BundleError

DATA = paths.DATA / "calling.yaml"
EXIT_FAIL = 3


class PlanError(BundleError):
    """A load or inventory the planner cannot plan for."""


@cache
def calling() -> dict[str, Any]:
    return yaml.safe_load(DATA.read_text())


@dataclass(frozen=True)
class Streams:
    """Per conference of n participants, as the SFT sees it."""

    received_audio: int
    received_video: int
    sent_audio_each: int
    sent_video_each: int


def streams(n: int, video: bool) -> Streams:
    s = calling()["streams"]
    sent_audio = s["audio_cap"] if n > s["audio_cap_above"] else n
    sent_video = (s["video_cap"] if n >= s["video_cap_from"] else n - 1) if video else 0
    return Streams(received_audio=n, received_video=n if video else 0, sent_audio_each=sent_audio,
                   sent_video_each=sent_video)


def conference_kbps(n: int, video: bool) -> tuple[int, int]:
    """(SFT ingress, SFT egress) in kbps for one conference of n participants."""
    s, st = calling()["streams"], streams(n, video)
    ingress = st.received_audio * s["audio_kbps"] + st.received_video * s["video_kbps"]
    egress = n * (st.sent_audio_each * s["audio_kbps"] + st.sent_video_each * s["video_kbps"])
    return ingress, egress


@dataclass
class Plan:
    participants: int
    conferences: int
    video: bool
    node_cpus: int
    total_participants: int
    sft_vcpus: int
    nodes_for_cpu: int
    nodes_for_bandwidth: int
    sft_nodes: int
    conference_ingress_kbps: int
    conference_egress_kbps: int
    total_ingress_mbps: float
    total_egress_mbps: float
    streams: dict[str, int]
    limits: list[str] = field(default_factory=list)
    checks: list[dict[str, Any]] = field(default_factory=list)

    @property
    def failed(self) -> bool:
        return any(c["status"] == "fail" for c in self.checks)


def team_notes(team_size: int | None) -> list[str]:
    lim = calling()["limits"]
    notes = [
        f"conversations (and so calls) hold at most {lim['conversation_max']} members; this cannot be changed",
        f"teams hold at most {lim['team_default_max']} members by default (brig setMaxTeamSize raises it)",
        f"teams above {lim['team_live_events_max']} members no longer get team events (e.g. a new member) live",
    ]
    if team_size is not None:
        if team_size > lim["team_live_events_max"]:
            notes.append(f"team of {team_size}: set setMaxTeamSize >= {team_size}; team events will NOT be sent "
                         "live over websockets")
        elif team_size > lim["team_default_max"]:
            notes.append(f"team of {team_size}: set brig's setMaxTeamSize to at least {team_size}")
        else:
            notes.append(f"team of {team_size}: within the default limit")
    return notes


def make_plan(participants: int, conferences: int, video: bool, node_cpus: int,
              team_size: int | None = None) -> Plan:
    cfg = calling()
    if participants < 2:
        raise PlanError(f"--participants {participants}: a call needs at least 2 participants")
    if participants > cfg["limits"]["conversation_max"]:
        raise PlanError(f"--participants {participants}: a call happens in a conversation, and conversations are "
                        f"capped at {cfg['limits']['conversation_max']} members")
    if conferences < 1:
        raise PlanError(f"--conferences {conferences}: plan for at least one concurrent conference")
    if node_cpus < 1:
        raise PlanError(f"--node-cpus {node_cpus}: a node has at least one vCPU")
    total = participants * conferences
    vcpus = math.ceil(total / cfg["sft"]["participants_per_vcpu"])
    ingress, egress = conference_kbps(participants, video)
    total_in, total_out = ingress * conferences / 1000, egress * conferences / 1000
    nic_mbps = cfg["sft"]["nic_gbps"] * 1000
    for_cpu = math.ceil(vcpus / node_cpus)
    for_bw = math.ceil(max(total_in, total_out) / nic_mbps)
    return Plan(
        participants=participants, conferences=conferences, video=video, node_cpus=node_cpus,
        total_participants=total, sft_vcpus=vcpus, nodes_for_cpu=for_cpu, nodes_for_bandwidth=for_bw,
        sft_nodes=max(for_cpu, for_bw, 1), conference_ingress_kbps=ingress, conference_egress_kbps=egress,
        total_ingress_mbps=round(total_in, 3), total_egress_mbps=round(total_out, 3),
        streams=asdict(streams(participants, video)), limits=team_notes(team_size),
    )


def check_inventory(plan: Plan, inventory_path: Path, profile_name: str | None) -> list[dict[str, Any]]:
    """The planned inventory against the plan: enough SFT nodes, each on a Kubernetes node, none with TURN."""
    from bundler.island.preflight.groups import combination_checks
    from bundler.island.preflight.inventory import from_file
    from bundler.island.preflight.rules import load_profile

    inv = from_file(inventory_path)
    profile = load_profile(profile_name or inv.first_var("preflight_profile", "production"), inv.sizing_overrides())
    sft = sorted(h.name for h in inv.members("sft"))
    cpus = int(profile.roles["kubernetes"].cpu)
    checks = [
        {"id": "plan.sft.nodes", "status": "pass" if len(sft) >= plan.sft_nodes else "fail",
         "required": plan.sft_nodes, "found": len(sft), "message": f"hosts in group sft: {', '.join(sft) or 'none'}"},
        {"id": "plan.sft.vcpus", "status": "pass" if len(sft) * cpus >= plan.sft_vcpus else "fail",
         "required": plan.sft_vcpus, "found": len(sft) * cpus,
         "message": f"{len(sft)} sft nodes x {cpus} vCPUs (profile {profile.name}, kubernetes row)"},
    ]
    for c in combination_checks(inv, profile):
        if c["id"].startswith(("group.requires.sft", "group.conflict.sft")):
            checks.append({k: c[k] for k in ("id", "status", "required", "found", "message")})
    return checks


def print_plan(plan: Plan, console: Console) -> None:
    t = Table(title=f"{plan.conferences} concurrent conference(s) of {plan.participants} participants, "
                    f"{'audio and video' if plan.video else 'audio only'}", title_justify="left")
    t.add_column("figure")
    t.add_column("value", justify="right")
    t.add_column("how")
    s = plan.streams
    rows = [
        ("participants in calls", plan.total_participants, "participants x conferences"),
        ("SFT vCPUs", plan.sft_vcpus, f"ceil({plan.total_participants} / "
                                      f"{calling()['sft']['participants_per_vcpu']})"),
        ("SFT nodes (CPU)", plan.nodes_for_cpu, f"ceil({plan.sft_vcpus} / {plan.node_cpus} vCPUs per node)"),
        ("SFT nodes (1 GbE)", plan.nodes_for_bandwidth, "busiest direction / NIC"),
        ("SFT nodes", plan.sft_nodes, "one SFT per node (hostNetwork)"),
        ("streams sent to each", f"{s['sent_audio_each']} audio, {s['sent_video_each']} video", ""),
        ("per conference in", f"{plan.conference_ingress_kbps} kbps", "each sends 1 audio (+1 video)"),
        ("per conference out", f"{plan.conference_egress_kbps} kbps", "n x streams sent to each"),
        ("all conferences in", f"{plan.total_ingress_mbps} Mbps", ""),
        ("all conferences out", f"{plan.total_egress_mbps} Mbps", ""),
    ]
    for row in rows:
        t.add_row(row[0], str(row[1]), row[2])
    console.print(t)
    for note in plan.limits:
        console.print(f"- {note}")
    if plan.checks:
        ct = Table(title="planned inventory", title_justify="left")
        for col in ("check", "status", "required", "found", "note"):
            ct.add_column(col)
        for c in plan.checks:
            style = "green" if c["status"] == "pass" else "bold red"
            ct.add_row(c["id"], f"[{style}]{c['status']}[/]", str(c["required"]), str(c["found"]), c["message"])
        console.print(ct)
