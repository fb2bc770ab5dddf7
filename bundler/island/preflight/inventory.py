"""The inventory as the pre-flight sees it: hosts, their groups and the few variables it reads."""

from __future__ import annotations

import contextlib
import io
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bundler.bundle.yamlsrc import check_inventory
from bundler.island.preflight.rules import PreflightError, group_rules, role_of_group, rules

# Groups Ansible makes up itself; never judged.
IMPLICIT_GROUPS = {"all", "ungrouped"}


def wanted_var(name: str) -> bool:
    """The variables the pre-flight reads; everything else in the inventory stays where it is."""
    data_vars = {spec.get("var") for spec in rules()["data_paths"].values()}
    return name.startswith("preflight_") or name in data_vars or name in {"ansible_host", "sft_replicas"}


@dataclass
class Host:
    name: str
    groups: list[str]
    vars: dict[str, Any] = field(default_factory=dict)

    @property
    def address(self) -> str:
        return str(self.vars.get("preflight_address") or self.vars.get("ansible_host") or self.name)

    @property
    def roles(self) -> list[str]:
        found: list[str] = []
        for group in self.groups:
            role = role_of_group(group)
            if role and role not in found:
                found.append(role)
        return found


@dataclass
class Inventory:
    hosts: dict[str, Host]

    def members(self, name: str) -> list[Host]:
        """Hosts of a group, of every group carrying a sizing role, or of `all`."""
        if name == "all":
            return list(self.hosts.values())
        if name in group_rules():
            return [h for h in self.hosts.values() if name in h.groups]
        return [h for h in self.hosts.values() if name in h.roles]

    def sizing_overrides(self) -> dict[str, dict[str, Any]]:
        """`preflight_sizing_<role>` as set in the inventory (group_vars apply to every member alike)."""
        found: dict[str, dict[str, Any]] = {}
        for host in sorted(self.hosts.values(), key=lambda h: h.name):
            for key, value in host.vars.items():
                if key.startswith("preflight_sizing_") and key[17:] not in found:
                    found[key[17:]] = value
        return found

    def first_var(self, name: str, default: Any = None) -> Any:
        for host in sorted(self.hosts.values(), key=lambda h: h.name):
            if name in host.vars:
                return host.vars[name]
        return default


def from_hostvars(hostvars: Any, groups: dict[str, list[str]], host_names: list[str] | None = None) -> Inventory:
    """Build from a play's `hostvars` and `groups` (the filter plugins' entry)."""
    names = host_names if host_names is not None else list(groups.get("all", []))
    hosts = {}
    for name in names:
        hv = hostvars[name]
        member_of = [g for g, members in groups.items() if name in members and g not in IMPLICIT_GROUPS]
        hosts[name] = Host(name=name, groups=sorted(member_of),
                           vars={k: hv[k] for k in list(hv.keys()) if wanted_var(k) or k.startswith("_preflight")})
    return Inventory(hosts)


def from_file(path: str | Path) -> Inventory:
    """Parse any inventory Ansible can read (YAML, INI, directory with group_vars)."""
    path = Path(path)
    if not path.exists():
        raise PreflightError(f"inventory {path}: no such file or directory")
    check_inventory(path, PreflightError)
    from ansible.inventory.manager import InventoryManager
    from ansible.parsing.dataloader import DataLoader
    from ansible.vars.manager import VariableManager

    loader = DataLoader()
    # Ansible explains a parse failure in several multi-line warnings; keep them for one line of our own.
    said = io.StringIO()
    with contextlib.redirect_stderr(said):
        manager = InventoryManager(loader=loader, sources=[str(path)])
    if not manager.hosts:
        reasons = [line.strip() for line in said.getvalue().splitlines() if "parsing failed" in line.lower()
                   or "failed to parse" in line.lower()]
        why = reasons[0].removeprefix("[WARNING]: ") if reasons else "no hosts in it"
        raise PreflightError(f"inventory {path}: not usable: {why}")
    variables = VariableManager(loader=loader, inventory=manager)
    hosts = {}
    for host in manager.get_hosts():
        all_vars = variables.get_vars(host=host)
        groups = sorted(g.name for g in host.get_groups() if g.name not in IMPLICIT_GROUPS)
        hosts[host.name] = Host(host.name, groups, {k: v for k, v in all_vars.items() if wanted_var(k)})
    return Inventory(hosts)
