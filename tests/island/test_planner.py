"""The planner's arithmetic against Wire's documented totals and formulas, and its inventory check."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from bundler.island.planner import PlanError, conference_kbps, make_plan, streams, team_notes
from bundler.island.preflight.rules import load_profile
from tests.support.cli import run_cli


def totals(roles):
    p = load_profile("production")
    return (sum(p.roles[r].cpu for r in roles), sum(p.roles[r].memory_gb for r in roles),
            sum(p.roles[r].disk_gb for r in roles))


def test_sizing_table_adds_up_to_the_documented_totals():
    server_set = ["cassandra", "minio", "elasticsearch", "kubernetes", "restund"]
    assert totals(server_set) == (11, 18, 590)
    assert totals(server_set + ["admin", "assethost"]) == (13, 26, 730)


def test_documented_totals_in_the_data_file_match_the_table():
    p = load_profile("production")
    for spec in p.totals.values():
        assert totals(spec["roles"]) == (spec["cpu"], spec["memory_gb"], spec["disk_gb"])


@pytest.mark.parametrize(("n", "sent_audio"), [(2, 2), (4, 4), (5, 5), (6, 5), (50, 5)])
def test_audio_streams_sent_cap_at_five_above_five_participants(n, sent_audio):
    assert streams(n, video=False).sent_audio_each == sent_audio


def test_audio_bandwidth_at_the_five_six_boundary():
    # 5 participants: each gets n=5 streams; 6: each gets the cap of 5. 50 kbps per stream.
    assert conference_kbps(5, video=False) == (5 * 50, 5 * 5 * 50)
    assert conference_kbps(6, video=False) == (6 * 50, 6 * 5 * 50)


@pytest.mark.parametrize(("n", "sent_video"), [(2, 1), (8, 7), (9, 9), (10, 9)])
def test_video_streams_sent_n_minus_one_below_nine_then_nine(n, sent_video):
    assert streams(n, video=True).sent_video_each == sent_video


def test_video_bandwidth_at_eight_nine_ten():
    per_audio, per_video = 50, 350
    assert conference_kbps(8, video=True) == (8 * (per_audio + per_video), 8 * (5 * per_audio + 7 * per_video))
    assert conference_kbps(9, video=True) == (9 * (per_audio + per_video), 9 * (5 * per_audio + 9 * per_video))
    assert conference_kbps(10, video=True) == (10 * (per_audio + per_video), 10 * (5 * per_audio + 9 * per_video))


def test_sft_vcpus_one_per_fifty_participants_rounded_up():
    assert make_plan(50, 4, False, 6).sft_vcpus == 4
    assert make_plan(51, 1, False, 6).sft_vcpus == 2
    plan = make_plan(100, 6, False, 6)  # 600 participants -> 12 vCPUs -> 2 nodes of 6
    assert (plan.sft_vcpus, plan.nodes_for_cpu, plan.sft_nodes) == (12, 2, 2)


def test_bandwidth_can_need_more_nodes_than_cpu():
    plan = make_plan(10, 100, True, 64)  # 100 video calls of 10: 3.4 Gbps out, 1 GbE per node
    assert plan.total_egress_mbps == 3400.0
    assert (plan.nodes_for_cpu, plan.nodes_for_bandwidth, plan.sft_nodes) == (1, 4, 4)


@pytest.mark.parametrize(("args", "word"), [((1, 1), "at least 2"), ((2001, 1), "2000"), ((5, 0), "conferences")])
def test_impossible_loads_are_refused_with_the_reason(args, word):
    with pytest.raises(PlanError, match=word):
        make_plan(*args, video=False, node_cpus=6)


def test_team_size_limits_are_stated():
    assert any("setMaxTeamSize to at least 501" in n for n in team_notes(501))
    assert any("NOT be sent live" in n for n in team_notes(2001))
    assert any("2000 members; this cannot be changed" in n for n in team_notes(None))


def _inventory(tmp_path: Path, sft_hosts: list[str], restund: list[str]) -> Path:
    kube = {h: None for h in sft_hosts + ["k-extra"]}
    inv = {"all": {"children": {"kube_node": {"hosts": kube}, "sft": {"hosts": {h: None for h in sft_hosts}},
                                "restund": {"hosts": {h: None for h in restund or ["t1"]}}}}}
    path = tmp_path / "inv.yml"
    path.write_text(json.dumps(inv))
    return path


def run_plan(*args: str) -> subprocess.CompletedProcess:
    return run_cli("plan", *args, timeout=60)


def test_plan_checks_a_planned_inventory_exit_codes(tmp_path):
    # 10 conferences of 60 -> 600 participants -> 12 vCPUs -> 2 nodes of 6 vCPUs.
    short = run_plan("-p", "60", "-c", "10", "-i", str(_inventory(tmp_path, ["k1"], [])), "--format", "json")
    assert short.returncode == 3, short.stderr
    checks = {c["id"]: c for c in json.loads(short.stdout)["checks"]}
    assert checks["plan.sft.nodes"]["status"] == "fail" and checks["plan.sft.nodes"]["required"] == 2
    enough = run_plan("-p", "60", "-c", "10", "-i", str(_inventory(tmp_path, ["k1", "k2"], [])))
    assert enough.returncode == 0, enough.stdout + enough.stderr


def test_plan_inventory_with_sft_on_a_turn_server_fails(tmp_path):
    result = run_plan("-p", "10", "-i", str(_inventory(tmp_path, ["k1"], ["k1"])), "--format", "json")
    assert result.returncode == 3
    failed = [c["id"] for c in json.loads(result.stdout)["checks"] if c["status"] == "fail"]
    assert failed == ["group.conflict.sft.restund"]


def test_plan_bad_input_is_one_line_error():
    result = run_plan("-p", "5000")
    assert result.returncode == 1
    assert result.stderr.strip().splitlines() == [
        "error: --participants 5000: a call happens in a conversation, and conversations are capped at 2000 members"
    ]


@pytest.mark.parametrize(("args", "message"), [
    (["-p", "10", "-i", "/nonexistent/inventory.yml"], "error: inventory /nonexistent/inventory.yml: no such file"),
    (["-p", "10", "--profile", "huge"], "error: unknown sizing profile 'huge'"),
])
def test_plan_bad_inventory_or_profile_is_one_line(args, message):
    result = run_plan(*args)
    assert result.returncode == 1
    [line] = result.stderr.strip().splitlines()
    assert line.startswith(message)
