"""The one inventory reader of the island side: hosts, their groups and the variables a command asks for.

Ansible parses the inventory itself (YAML, INI, a directory with group_vars/host_vars, `!vault` values), so
whatever `ansible-playbook` accepts, this accepts; the pre-flight and the values generator each build their own
view from these records. What Ansible does not accept is one line naming the file, the line and the cause:
Ansible itself only warns that a source "failed to parse" and goes on with no hosts, which read as
"no hosts found".
"""

from __future__ import annotations

import contextlib
import io
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bundler.bundle.yamlsrc import check_inventory
from bundler.errors import BundleError

# Groups Ansible makes up itself: never a role, never judged.
IMPLICIT_GROUPS = frozenset({"all", "ungrouped"})
_YAML_SUFFIXES = (".yml", ".yaml", ".json")
_UNPARSED = re.compile(r"Unable to parse (.+) as an inventory source")


@dataclass(frozen=True)
class InventoryHost:
    name: str
    groups: tuple[str, ...]  # the groups it is in, sorted, without `all` and `ungrouped`
    vars: dict[str, Any]  # the variables asked for, resolved as Ansible resolves them, as plain Python data


def read(path: str | Path, error: type[BundleError], wanted: Callable[[str], bool],
         vault_password: bytes | None = None) -> list[InventoryHost]:
    """Every host of the inventory at `path`, in inventory order, with the variables `wanted` accepts.

    Bad input raises `error` (the command's own error type) with one line naming the inventory file."""
    path = Path(path)
    if not path.exists():
        raise error(f"inventory {path}: no such file or directory")
    check_inventory(path, error)  # bounded, and an invalid YAML file named with its line
    from ansible.errors import AnsibleError
    from ansible.inventory.manager import InventoryManager
    from ansible.parsing.dataloader import DataLoader
    from ansible.vars.manager import VariableManager

    loader = DataLoader()
    if vault_password:
        _activate_vault(loader, vault_password)
    try:
        # Ansible explains a parse failure in several multi-line warnings: keep them to say it in one line.
        said = io.StringIO()
        with contextlib.redirect_stderr(said):
            manager = InventoryManager(loader=loader, sources=[str(path)])
        _check_parsed(path, said.getvalue(), loader, error)
        if not manager.hosts:
            raise error(f"inventory {path}: not usable: no hosts in it (is it an Ansible inventory?)")
        variables = VariableManager(loader=loader, inventory=manager)
        hosts = []
        for host in manager.get_hosts():
            hv = variables.get_vars(host=host, include_hostvars=False)
            groups = tuple(sorted(g.name for g in host.get_groups() if g.name not in IMPLICIT_GROUPS))
            hosts.append(InventoryHost(host.name, groups, {k: plain(v) for k, v in hv.items() if wanted(k)}))
    except AnsibleError as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise error(f"inventory {path}: {first}") from None
    return hosts


def _check_parsed(path: Path, warnings: str, loader: Any, error: type[BundleError]) -> None:
    """A source Ansible could not parse is an error here, named with its line where the INI parser knows it.

    (A broken file in an inventory directory would otherwise leave its hosts out without a word.)"""
    failed = _UNPARSED.findall(warnings)
    if not failed:
        return
    source = Path(failed[0].strip())
    if source.suffix not in _YAML_SUFFIXES:
        located = _ini_error(source, loader)
        if located:
            raise error(f"inventory {located}")
    causes = [line.strip().removeprefix("[WARNING]: ") for line in warnings.splitlines()
              if "failed to parse" in line.lower()]
    raise error(f"inventory {source}: not usable: {causes[0] if causes else 'Ansible cannot parse it'}")


def _ini_error(source: Path, loader: Any) -> str | None:
    """`FILE:LINE: not a valid INI inventory: CAUSE`, from Ansible's own INI parser told to keep the line
    (ansible-core 2.19 drops it from the error it raises)."""
    from ansible.inventory.data import InventoryData
    from ansible.plugins.inventory.ini import InventoryModule

    class LineKeepingIni(InventoryModule):
        where: int | None = None

        def _parse(self, lines: list[str]) -> None:
            try:
                super()._parse(lines)
            except Exception:
                self.where = getattr(getattr(self, "_origin", None), "line_num", None)
                raise

    parser = LineKeepingIni()
    try:
        parser.parse(InventoryData(), loader, str(source.absolute()))
    except Exception as exc:  # noqa: BLE001 - every parse failure is reported, whatever Ansible raised
        cause = exc.__cause__ or exc
        text = " ".join(str(cause).split())[:200] or type(cause).__name__
        at = f":{parser.where}" if parser.where else ""
        return f"{source}{at}: not a valid INI inventory: {text}"
    return None


def plain(value: Any) -> Any:
    """Ansible's wrapped strings and vault values as plain Python data."""
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [plain(v) for v in value]
    if isinstance(value, bool) or value is None:
        return value
    if type(value).__name__ in ("EncryptedString", "AnsibleVaultEncryptedUnicode"):
        value = str(value)  # decrypts with the vault secrets given to read()
    if isinstance(value, str):
        return value.encode().decode()  # a plain str, whatever subclass str() handed back
    # Ansible hands out tagged subclasses of str/int/float (with origin data); YAML dumpers refuse them.
    for kind in (int, float):
        if isinstance(value, kind):
            return kind(value)
    return value


def _activate_vault(loader: Any, password: bytes) -> None:
    from ansible.parsing.vault import VaultSecret

    secrets = [("default", VaultSecret(password))]
    loader.set_vault_secrets(secrets)
    # ansible-core >= 2.19 decrypts `!vault` values lazily through a process-wide context, not the loader.
    try:
        from ansible.parsing.vault import VaultSecretsContext
    except ImportError:  # older ansible-core: the loader's secrets are enough
        return
    current = VaultSecretsContext.current(optional=True)
    if current is None:
        VaultSecretsContext.initialize(VaultSecretsContext(secrets))
    else:
        current.secrets = secrets
