"""What a lab consists of: hosts with groups and extra packages, read from Python or a YAML file.

A spec file looks like an Ansible inventory reduced to what the lab needs:

    name: demo              # optional: lab name (the CLI's --name wins)
    suite: bookworm         # optional
    hosts:
      asset:  {groups: [assethost], packages: [nginx]}
      kube1:  {groups: [k8s, k8s_control], memory: 2G, cpus: 1}

`hosts` may also be a list of mappings with a `name` key.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import cast

import yaml

from bundler.lab.errors import LabError

# Lab and host names end up in hostnames, netns names, cgroup names and file names.
NAME_RE = re.compile(r"^[a-z][a-z0-9-]{0,30}$")
LAB_NAME_RE = re.compile(r"^[a-z][a-z0-9-]{0,23}$")
PACKAGE_RE = re.compile(r"^[a-z0-9][a-z0-9+.-]+$")
GROUP_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
MEMORY_RE = re.compile(r"^(\d+)([KMG]?)$")
HOST_KEYS = {"name", "groups", "packages", "memory", "cpus"}


@dataclass(frozen=True)
class HostSpec:
    """One simulated VM: its hostname, Ansible groups and extra Debian packages in its base root.

    `memory` ("512M", "2G") and `cpus` (float) become cgroup limits on the host's processes. They limit
    what the host can use; they do not change what /proc/meminfo or nproc report inside (see
    docs/testing.md, "Island lab").
    """

    name: str
    groups: list[str] = field(default_factory=list)
    packages: list[str] = field(default_factory=list)
    memory: str | None = None
    cpus: float | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not NAME_RE.match(self.name):
            raise LabError(f"lab host name {self.name!r} is invalid: use 1-31 of a-z, 0-9, '-' starting with a letter")
        for g in self.groups:
            if not isinstance(g, str) or not GROUP_RE.match(g) or g in ("all", "ungrouped"):
                raise LabError(f"lab host {self.name}: group {g!r} is not a valid Ansible group name")
        for p in self.packages:
            if not isinstance(p, str) or not PACKAGE_RE.match(p):
                raise LabError(f"lab host {self.name}: package {p!r} is not a Debian package name")
        if self.memory is not None and not MEMORY_RE.match(str(self.memory)):
            raise LabError(f"lab host {self.name}: memory {self.memory!r} must look like 512M or 2G")
        if self.cpus is not None and not (isinstance(self.cpus, int | float) and self.cpus > 0):
            raise LabError(f"lab host {self.name}: cpus {self.cpus!r} must be a positive number")

    def memory_bytes(self) -> int | None:
        if self.memory is None:
            return None
        m = MEMORY_RE.match(str(self.memory))
        if m is None:  # __post_init__ refused it already
            raise LabError(f"lab host {self.name}: memory {self.memory!r} must look like 512M or 2G")
        num, unit = m.groups()
        return int(num) * {"": 1, "K": 1 << 10, "M": 1 << 20, "G": 1 << 30}[unit]

    def to_dict(self) -> dict:
        return {"name": self.name, "groups": list(self.groups), "packages": sorted(self.packages),
                "memory": self.memory, "cpus": self.cpus}

    @classmethod
    def from_dict(cls, data: dict, where: str = "spec") -> HostSpec:
        unknown = set(data) - HOST_KEYS
        if unknown:
            raise LabError(f"{where}: host {data.get('name')!r} has unknown key(s) {', '.join(sorted(unknown))}; "
                           f"allowed: {', '.join(sorted(HOST_KEYS))}")
        # Any value: __post_init__ refuses what is not a valid host name, naming it.
        return cls(name=cast(str, data.get("name")), groups=list(data.get("groups") or []),
                   packages=list(data.get("packages") or []), memory=data.get("memory"), cpus=data.get("cpus"))


def check_lab_name(name: str) -> str:
    if not isinstance(name, str) or not LAB_NAME_RE.match(name):
        raise LabError(f"lab name {name!r} is invalid: use 1-24 of a-z, 0-9, '-' starting with a letter")
    return name


def check_hosts(hosts: list[HostSpec]) -> list[HostSpec]:
    if not hosts:
        raise LabError("a lab needs at least one host")
    seen: set[str] = set()
    for h in hosts:
        if not isinstance(h, HostSpec):
            raise LabError(f"lab hosts must be HostSpec objects, got {type(h).__name__}")
        if h.name in seen:
            raise LabError(f"lab host name {h.name!r} appears twice")
        seen.add(h.name)
    if len(hosts) > 200:
        raise LabError(f"a lab holds at most 200 hosts (one /24), got {len(hosts)}")
    return hosts


@dataclass
class LabFile:
    name: str | None
    suite: str | None
    hosts: list[HostSpec]


def load_spec(path: Path) -> LabFile:
    """Read a lab spec file; errors name the file and the offending host or key."""
    try:
        data = yaml.safe_load(Path(path).read_text())
    except OSError as exc:
        raise LabError(f"lab spec {path}: cannot read: {exc.strerror}") from exc
    except yaml.YAMLError as exc:
        raise LabError(f"lab spec {path}: not valid YAML: {exc}") from exc
    if not isinstance(data, dict) or "hosts" not in data:
        raise LabError(f"lab spec {path}: expected a mapping with a 'hosts' key")
    unknown = set(data) - {"name", "suite", "hosts"}
    if unknown:
        raise LabError(f"lab spec {path}: unknown key(s) {', '.join(sorted(unknown))}; allowed: name, suite, hosts")
    raw_hosts = data["hosts"]
    if isinstance(raw_hosts, dict):
        items = [{"name": k, **(v or {})} for k, v in raw_hosts.items()]
    elif isinstance(raw_hosts, list):
        items = raw_hosts
    else:
        raise LabError(f"lab spec {path}: 'hosts' must be a mapping or a list")
    hosts = []
    for item in items:
        if not isinstance(item, dict):
            raise LabError(f"lab spec {path}: each host must be a mapping, got {item!r}")
        hosts.append(HostSpec.from_dict(item, where=f"lab spec {path}"))
    name = data.get("name")
    if name is not None:
        check_lab_name(name)
    return LabFile(name=name, suite=data.get("suite"), hosts=check_hosts(hosts))
