"""The inventory as the values generator sees it: host addresses per group, and the operator's `wire_*` choices.

Ansible parses the inventory itself (YAML, INI, a directory with group_vars/host_vars, `!vault` values), so
whatever `ansible-playbook` accepts, this accepts. Settings are global: a `wire_*` variable that has different
values on different hosts is an error, since one Wire installation has one configuration.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bundler.bundle.yamlsrc import check_inventory
from bundler.island.values.defaults import data
from bundler.island.values.errors import ValuesError

IMPLICIT = {"all", "ungrouped"}


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


def _plain(value: Any) -> Any:
    """Ansible's wrapped strings and vault values as plain Python data."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, bool) or value is None:
        return value
    if type(value).__name__ in ("EncryptedString", "AnsibleVaultEncryptedUnicode"):
        value = str(value)  # decrypts with the vault secrets given to load()
    if isinstance(value, str):
        return value.encode().decode()  # a plain str, whatever subclass str() handed back
    # Ansible hands out tagged subclasses of str/int/float (with origin data); YAML dumpers refuse them.
    for plain in (int, float):
        if isinstance(value, plain):
            return plain(value)
    return value


def load(path: str | Path, vault_password: bytes | None = None) -> Inventory:
    path = Path(path)
    if not path.exists():
        raise ValuesError(f"inventory {path}: no such file or directory")
    check_inventory(path, ValuesError)  # bounded, and an invalid YAML file named with its line (not "no hosts")
    from ansible.errors import AnsibleError
    from ansible.inventory.manager import InventoryManager
    from ansible.parsing.dataloader import DataLoader
    from ansible.parsing.vault import VaultSecret
    from ansible.vars.manager import VariableManager

    loader = DataLoader()
    if vault_password:
        vault_secrets = [("default", VaultSecret(vault_password))]
        loader.set_vault_secrets(vault_secrets)
        _activate_vault_secrets(vault_secrets)
    try:
        manager = InventoryManager(loader=loader, sources=[str(path)])
        if not manager.hosts:
            raise ValuesError(f"inventory {path}: no hosts found (is it an Ansible inventory?)")
        variables = VariableManager(loader=loader, inventory=manager)
        hosts: dict[str, Host] = {}
        settings: dict[str, Any] = {}
        origin: dict[str, str] = {}
        for host in manager.get_hosts():
            hv = variables.get_vars(host=host, include_hostvars=False)
            groups = tuple(sorted(g.name for g in host.get_groups() if g.name not in IMPLICIT))
            address = str(hv.get("ansible_host") or host.name)
            external = hv.get("wire_external_ip")
            hosts[host.name] = Host(host.name, address, str(external) if external else None, groups)
            for key, value in hv.items():
                if not key.startswith("wire_") or key == "wire_external_ip":
                    continue
                value = _plain(value)
                if key in settings and settings[key] != value:
                    raise ValuesError(f"{key}: set to different values on hosts {origin[key]} and {host.name}; "
                                      "it is one setting for the whole installation (put it in group_vars/all)")
                settings.setdefault(key, value)
                origin.setdefault(key, host.name)
    except AnsibleError as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ValuesError(f"inventory {path}: {first}") from None
    inv = Inventory(path, hosts, settings, origin)
    _check_addresses(inv)
    return inv


def _activate_vault_secrets(vault_secrets: list) -> None:
    """ansible-core >= 2.19 decrypts `!vault` values lazily through a process-wide context, not the loader."""
    try:
        from ansible.parsing.vault import VaultSecretsContext
    except ImportError:  # older ansible-core: the loader's secrets are enough
        return
    current = VaultSecretsContext.current(optional=True)
    if current is None:
        VaultSecretsContext.initialize(VaultSecretsContext(vault_secrets))
    else:
        current.secrets = vault_secrets


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
