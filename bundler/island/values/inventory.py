"""The inventory as the values generator sees it: host addresses per group, and the operator's `wire_*` choices.

Read through the island's one inventory reader (bundler.island.inventory), so whatever `ansible-playbook` accepts,
this accepts. Settings are global: a `wire_*` variable that has different
values on different hosts is an error, since one Wire installation has one configuration.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bundler.island.inventory import read
from bundler.island.values.defaults import data
from bundler.island.values.errors import ValuesError


@dataclass(frozen=True)
class Host:
    name: str
    address: str  # where the cluster reaches it: ansible_host, else the inventory name
    external_ip: str | None  # wire_external_ip: the public address clients use (SFT, TURN)
    groups: tuple[str, ...]


@dataclass
class Inventory:
    path: Path
    hosts: dict[str, Host]
    settings: dict[str, Any] = field(default_factory=dict)
    # where each setting came from (a host that carries it), for error messages
    origin: dict[str, str] = field(default_factory=dict)

    def group(self, key: str) -> list[Host]:
        """Members of the group the data file names for `key`, in inventory order."""
        name = data()["groups"][key]
        return [h for h in self.hosts.values() if name in h.groups]

    def addresses(self, key: str) -> list[str]:
        return [h.address for h in self.group(key)]

    def postgresql(self) -> tuple[list[str], list[str]]:
        """(primary, standbys) addresses: groups postgresql_rw / postgresql_ro where given, else the first
        postgresql host is the primary and the others are standbys."""
        hosts = self.group("postgresql")
        rw = self.group("postgresql_rw") or hosts[:1]
        ro = self.group("postgresql_ro") or [h for h in hosts if h not in rw]
        return [h.address for h in rw], [h.address for h in ro]


def _wanted(name: str) -> bool:
    return name == "ansible_host" or name.startswith("wire_")


def load(path: str | Path, vault_password: bytes | None = None) -> Inventory:
    path = Path(path)
    hosts: dict[str, Host] = {}
    settings: dict[str, Any] = {}
    origin: dict[str, str] = {}
    for host in read(path, ValuesError, _wanted, vault_password):
        hv = host.vars
        address = str(hv.get("ansible_host") or host.name)
        external = hv.get("wire_external_ip")
        hosts[host.name] = Host(host.name, address, str(external) if external else None, host.groups)
        for key, value in hv.items():
            if not key.startswith("wire_") or key == "wire_external_ip":
                continue
            if key in settings and settings[key] != value:
                raise ValuesError(f"{key}: set to different values on hosts {origin[key]} and {host.name}; "
                                  "it is one setting for the whole installation (put it in group_vars/all)")
            settings.setdefault(key, value)
            origin.setdefault(key, host.name)
    inv = Inventory(path, hosts, settings, origin)
    _check_addresses(inv)
    return inv


def _check_addresses(inv: Inventory) -> None:
    """The *-external charts take IPs, not names: every data-service host needs an IP address."""
    for key in ("cassandra", "elasticsearch", "minio", "rabbitmq", "postgresql"):
        for h in inv.group(key):
            try:
                ipaddress.ip_address(h.address)
            except ValueError:
                raise ValuesError(f"ansible_host of {h.name} (group {data()['groups'][key]}): {h.address!r} is not "
                                  f"an IP address; the {key}-external chart needs IPs") from None
    for h in inv.hosts.values():
        if h.external_ip is not None:
            try:
                ipaddress.ip_address(h.external_ip)
            except ValueError:
                raise ValuesError(f"wire_external_ip of {h.name}: {h.external_ip!r} is not an IP address") from None
