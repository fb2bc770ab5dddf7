"""One report out of every host's module results and the group checks: pass/warn/fail lists and an exit code."""

from __future__ import annotations

import datetime as dt
from typing import Any

from bundler.island.preflight.groups import group_check, group_checks
from bundler.island.preflight.inventory import Inventory
from bundler.island.preflight.matrix import expected_ids
from bundler.island.preflight.rules import Profile

EXIT_PASS, EXIT_FAIL, EXIT_WARN = 0, 3, 4
SCHEMA_VERSION = 1


def _host_check(host: str, entry: dict[str, Any]) -> dict[str, Any]:
    return {"id": entry["id"], "scope": "host", "host": host, "status": entry["status"],
            "required": entry.get("required"), "found": entry.get("found"), "message": entry.get("message", ""),
            "subjects": [host]}


def host_results(inv: Inventory) -> list[dict[str, Any]]:
    checks = []
    for host in sorted(inv.hosts.values(), key=lambda h: h.name):
        facts = host.vars.get("_preflight_facts") or {}
        if not facts.get("checks") and not facts.get("facts"):
            why = facts.get("msg") or "no result (unreachable, or the pre-flight did not run there)"
            checks.append(_host_check(host.name, {"id": "host.reachable", "status": "fail",
                                                  "required": "module result", "found": "none", "message": why}))
            continue
        checks.extend(_host_check(host.name, c) for c in facts["checks"])
        probed = {c["id"] for c in (host.vars.get("_preflight_probe") or {}).get("checks", [])}
        checks.extend(_host_check(host.name, c) for c in (host.vars.get("_preflight_probe") or {}).get("checks", []))
        for missing in sorted(expected_ids(inv, host.name) - probed):
            checks.append(_host_check(host.name, {"id": missing, "status": "fail", "required": "probe result",
                                                  "found": "none", "message": "the probe did not run"}))
    return checks


def sft_capacity_checks(inv: Inventory, profile: Profile) -> list[dict[str, Any]]:
    """With a planned call load in the inventory, the SFT hosts' measured CPUs against the planner."""
    from bundler.island.planner import make_plan

    participants = inv.first_var("preflight_sft_participants")
    if not participants:
        return []
    sft = sorted(inv.members("sft"), key=lambda h: h.name)
    measured = [((h.vars.get("_preflight_facts") or {}).get("facts") or {}).get("cpu", {}).get("usable") for h in sft]
    cpus = [c for c in measured if c]
    per_node = min(cpus) if cpus else max(1, int(profile.roles["kubernetes"].cpu))
    plan = make_plan(int(participants), int(inv.first_var("preflight_sft_conferences", 1)),
                     bool(inv.first_var("preflight_sft_video", False)), per_node)
    ok = len(sft) >= plan.sft_nodes and sum(cpus) >= plan.sft_vcpus
    return [group_check("group.sft.capacity", "pass" if ok else "fail",
                        f"{plan.sft_nodes} SFT nodes, {plan.sft_vcpus} vCPUs",
                        f"{len(sft)} SFT nodes, {sum(cpus)} vCPUs measured",
                        f"{plan.conferences} conference(s) of {plan.participants} (wire-bundle plan; one SFT per node)",
                        [h.name for h in sft])]


def is_waived(check: dict[str, Any], cli_ignores: set[str], inv: Inventory) -> bool:
    if check["id"] in cli_ignores or (check["host"] and f"{check['host']}:{check['id']}" in cli_ignores):
        return True
    subjects = check["subjects"] or list(inv.hosts)
    # An inventory waiver counts when every host the check is about carries it (host_vars or group_vars).
    return bool(subjects) and all(
        check["id"] in (inv.hosts[s].vars.get("preflight_ignore") or []) for s in subjects if s in inv.hosts
    )


def build_report(inv: Inventory, profile: Profile, cli_ignores: list[str] | None = None) -> dict[str, Any]:
    ignores = set(cli_ignores or [])
    checks = host_results(inv) + group_checks(inv, profile) + sft_capacity_checks(inv, profile)
    lists: dict[str, list[dict[str, Any]]] = {"pass": [], "warn": [], "fail": [], "ignored": []}
    for c in checks:
        c["ignored"] = is_waived(c, ignores, inv)
        lists["ignored" if c["ignored"] and c["status"] != "pass" else c["status"]].append(c)
    status = "fail" if lists["fail"] else "warn" if lists["warn"] else "pass"
    hosts = {}
    for h in sorted(inv.hosts.values(), key=lambda h: h.name):
        result = h.vars.get("_preflight_facts") or {}
        hosts[h.name] = {"groups": h.groups, "roles": h.roles, "address": h.address,
                         "facts": result.get("facts"),
                         "ignore": list(h.vars.get("preflight_ignore") or [])}
    return {
        "schema_version": SCHEMA_VERSION,
        "generated": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "profile": profile.name,
        "status": status,
        "exit_code": {"pass": EXIT_PASS, "warn": EXIT_WARN, "fail": EXIT_FAIL}[status],
        "summary": {k: len(v) for k, v in lists.items()},
        "hosts": hosts,
        **lists,
    }
