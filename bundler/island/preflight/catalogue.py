"""Every check ID the pre-flight can report, derived from the data files, so `--ignore` can refuse a typo."""

from __future__ import annotations

import fnmatch

from bundler.island.preflight.matrix import check_id
from bundler.island.preflight.rules import PreflightError, group_rules, parse_port, rules, sizing_data


def catalogue() -> list[tuple[str, str]]:
    """(ID or glob, what it checks), in the order the docs list them."""
    data = rules()
    roles = sorted({r for p in sizing_data()["profiles"].values() for r in p["roles"]})
    out = [
        ("host.reachable", "the host answered and the module ran"),
        ("cpu.cores", "usable CPUs (affinity and cgroup quota) >= the sum over the host's roles"),
        ("memory.total", "memory (MemTotal, or a lower cgroup limit) >= the sum over the host's roles, less slack"),
    ]
    for role in roles:
        out.append((f"disk.total.{role}", f"size of the filesystem holding {role}'s data path"))
        out.append((f"disk.free.{role}", "free space there (roles on one filesystem add up)"))
    out += [
        ("os.release", "OS id and version among those the bundle is built for (warning)"),
        ("swap.off", "no active swap (failure on Kubernetes nodes, warning on Cassandra and Elasticsearch)"),
        ("time.sync", "kernel clock synchronised, time daemon named (warning)"),
    ]
    ports = sorted({parse_port(p) for spec in group_rules().values() for p in spec.get("ports", [])})
    out += [(f"port.{proto}{port}", "nothing listens there yet (needed by the host's groups)") for proto, port in ports]
    for role_rules in data.get("host_rules", {}).values():
        features = role_rules.get("kernel_features", {})
        out += [(f"kernel.{name}", "kernel feature present or loadable") for name in features]
        out += [(f"sysctl.{key}", f"sysctl is {spec['value']} (different: warning; absent: failure)")
                for key, spec in role_rules.get("sysctls", {}).items()]
    out += [(check_id(e), f"{e['from']} reaches {e['to']} on {e['port']} (real probe)") for e in data["connectivity"]]
    quorum = {r for p in sizing_data()["profiles"].values() for r, f in p["roles"].items() if f.get("odd")}
    for role in roles:
        out.append((f"group.count.{role}", f"enough {role} VMs for the profile"))
        if role in quorum:
            out.append((f"group.odd.{role}", f"odd {role} count (quorum), as the profile asks"))
    for group, spec in group_rules().items():
        if spec.get("odd"):
            out.append((f"group.odd.{group}", f"odd number of {group} hosts"))
        out += [(f"group.requires.{group}.{r}", f"every {group} host is also in {r}") for r in spec.get("requires", [])]
        out += [(f"group.conflict.{group}.{c}", f"no host in both {group} and {c}") for c in spec.get("conflicts", [])]
    out += [
        ("group.unknown.*", "a host is in a group wire-bundle does not use (warning)"),
        ("group.dedicated", "roles share a VM where the profile sizes one VM per role (warning)"),
        ("group.sft.per_node", "sft_replicas <= SFT nodes (hostNetwork: one SFT per node)"),
        ("group.sft.capacity", "SFT nodes and their measured vCPUs cover preflight_sft_participants (planner)"),
    ]
    seen, unique = set(), []
    for entry in out:
        if entry[0] not in seen:
            seen.add(entry[0])
            unique.append(entry)
    return unique


def check_ignores(ignores: list[str]) -> None:
    """Refuse waivers that name no check, so a typo cannot silently waive nothing."""
    known = [pattern for pattern, _ in catalogue()]
    for item in ignores:
        check = item.split(":", 1)[1] if ":" in item else item
        if not any(fnmatch.fnmatchcase(check, pattern) for pattern in known):
            raise PreflightError(f"--ignore {item}: no check has the ID {check!r} "
                                 "(`wire-bundle preflight --list-checks` lists them)")
