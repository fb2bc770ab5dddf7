"""What one host must have, from its groups and the profile: the `requirements` the Ansible module judges."""

from __future__ import annotations

from typing import Any

from bundler.island.preflight.inventory import Host
from bundler.island.preflight.rules import Profile, group_rules, parse_port, rules

SEVERITY_ORDER = {"warn": 1, "fail": 2}


def data_path(host: Host, role: str) -> str:
    spec = rules()["data_paths"][role]
    value = host.vars.get(spec.get("var", "")) or spec["path"]
    return str(value[0] if isinstance(value, list | tuple) and value else value)


def host_ports(host: Host) -> list[dict[str, Any]]:
    ports: dict[tuple[str, int], list[str]] = {}
    for group in host.groups:
        for text in group_rules().get(group, {}).get("ports", []):
            ports.setdefault(parse_port(text), []).append(group)
    return [{"proto": p, "port": n, "groups": g} for (p, n), g in sorted(ports.items())]


def host_requirements(host: Host, profile: Profile) -> dict[str, Any]:
    data = rules()
    roles = [r for r in host.roles if r in profile.roles]
    swap = None
    features: dict[str, Any] = {}
    sysctls: dict[str, Any] = {}
    for role in roles:
        rule = data.get("host_rules", {}).get(role, {})
        severity = rule.get("swap_off")
        if severity and SEVERITY_ORDER[severity] > SEVERITY_ORDER.get(swap or "", 0):
            swap = severity
        features.update(rule.get("kernel_features", {}))
        sysctls.update(rule.get("sysctls", {}))
    return {
        "profile": profile.name,
        "roles": roles,
        "slack_pct": profile.slack_pct,
        "cpu": round(sum(profile.roles[r].cpu for r in roles), 2),
        "memory_mib": int(round(sum(profile.roles[r].memory_gb for r in roles) * 1024)),
        "disks": [{"role": r, "path": data_path(host, r), "required_gib": profile.roles[r].disk_gb} for r in roles],
        "ports": host_ports(host),
        "swap_off": swap,
        "kernel_features": features,
        "sysctls": sysctls,
        "os_supported": data.get("os_supported", []),
        "time_sync": data.get("time_sync"),
    }
