"""Checks over the whole inventory: VM counts per role, quorum sizes and which groups may share a host."""

from __future__ import annotations

from typing import Any

from bundler.island.preflight.inventory import Inventory
from bundler.island.preflight.rules import Profile, group_rules


def group_check(check_id: str, status: str, required: Any, found: Any, message: str,
                subjects: list[str]) -> dict[str, Any]:
    return {"id": check_id, "scope": "group", "host": None, "status": status, "required": required,
            "found": found, "message": message, "subjects": sorted(subjects)}


def _names(hosts) -> list[str]:
    return sorted(h.name for h in hosts)


def count_checks(inv: Inventory, profile: Profile) -> list[dict[str, Any]]:
    out = []
    for role, size in profile.roles.items():
        members = _names(inv.members(role))
        subjects = members or _names(inv.hosts.values())
        if size.count:
            ok = len(members) >= size.count
            out.append(group_check(f"group.count.{role}", "pass" if ok else "fail", f">= {size.count}",
                                   len(members), f"{role} VMs: {', '.join(members) or 'none'}", subjects))
        if size.odd and members:
            odd = len(members) % 2 == 1
            out.append(group_check(f"group.odd.{role}", "pass" if odd else "fail", "odd", len(members),
                                   f"{role} needs an odd count for quorum", subjects))
    for group, spec in group_rules().items():
        members = _names(inv.members(group))
        if spec.get("odd") and members:
            odd = len(members) % 2 == 1
            out.append(group_check(f"group.odd.{group}", "pass" if odd else "fail", "odd", len(members),
                                   f"{group} needs an odd count (etcd quorum)", members))
    return out


def combination_checks(inv: Inventory, profile: Profile) -> list[dict[str, Any]]:
    out = []
    known = group_rules()
    for group, spec in known.items():
        members = inv.members(group)
        if not members:
            continue
        for required in spec.get("requires", []):
            missing = _names(h for h in members if required not in h.groups)
            out.append(group_check(f"group.requires.{group}.{required}", "fail" if missing else "pass",
                                   f"every {group} host in {required}",
                                   f"not in {required}: {', '.join(missing)}" if missing else "all are",
                                   f"{group} hosts must also be {required} hosts", _names(members) or []))
        for other in spec.get("conflicts", []):
            both = _names(h for h in members if other in h.groups)
            out.append(group_check(f"group.conflict.{group}.{other}", "fail" if both else "pass",
                                   f"no host in both {group} and {other}",
                                   f"in both: {', '.join(both)}" if both else "none",
                                   f"{group} and {other} must not share a VM", _names(members) or []))
    for host in inv.hosts.values():
        for group in host.groups:
            if group not in known:
                out.append(group_check(f"group.unknown.{group}", "warn", ", ".join(sorted(known)), group,
                                       f"{host.name} is in {group}, a group wire-bundle does not use (typo?)",
                                       [host.name]))
        if profile.dedicated_hosts and len(host.roles) > 1:
            out.append(group_check("group.dedicated", "warn", "one sized role per VM", ", ".join(host.roles),
                                   f"profile {profile.name} sizes each role on its own VM; {host.name} "
                                   "carries several", [host.name]))
    return out


def sft_checks(inv: Inventory) -> list[dict[str, Any]]:
    nodes = _names(inv.members("sft"))
    replicas = inv.first_var("sft_replicas")
    if replicas is None:
        return []
    ok = int(replicas) <= len(nodes)
    return [group_check("group.sft.per_node", "pass" if ok else "fail", f">= {replicas} sft nodes", len(nodes),
                        "SFT runs in hostNetwork: one instance per node, so sft_replicas needs as many nodes",
                        nodes)]


def group_checks(inv: Inventory, profile: Profile) -> list[dict[str, Any]]:
    return count_checks(inv, profile) + combination_checks(inv, profile) + sft_checks(inv)
