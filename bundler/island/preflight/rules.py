"""The pre-flight's data: Wire's sizing table (sizing.yaml) and the host and group rules (preflight.yaml)."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cache
from typing import Any

import yaml

from bundler import paths
from bundler.errors import BundleError

DATA = paths.DATA
FIGURES = ("count", "cpu", "memory_gb", "disk_gb")


class PreflightError(BundleError):
    """Bad pre-flight input: unknown profile, malformed override, unreadable inventory."""


@dataclass(frozen=True)
class RoleSize:
    name: str
    count: int
    cpu: float  # vCPUs; fractions let small lab roles share a VM
    memory_gb: float
    disk_gb: float
    odd: bool = False


@dataclass(frozen=True)
class Profile:
    name: str
    description: str
    dedicated_hosts: bool
    roles: dict[str, RoleSize]
    slack_pct: float
    totals: dict[str, dict[str, Any]] = field(default_factory=dict)

    def role(self, name: str) -> RoleSize:
        return self.roles[name]


@cache
def _load(name: str) -> dict[str, Any]:
    with open(DATA / name, encoding="utf-8") as fh:
        return yaml.safe_load(fh)


def sizing_data() -> dict[str, Any]:
    return _load("sizing.yaml")


def rules() -> dict[str, Any]:
    return _load("preflight.yaml")


def profile_names() -> list[str]:
    data = sizing_data()
    return sorted(list(data["profiles"]) + list(data.get("aliases", {})))


def _role_size(role: str, figures: dict[str, Any], where: str) -> RoleSize:
    try:
        return RoleSize(
            name=role,
            count=int(figures["count"]),
            cpu=float(figures["cpu"]),
            memory_gb=float(figures["memory_gb"]),
            disk_gb=float(figures["disk_gb"]),
            odd=bool(figures.get("odd", False)),
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise PreflightError(f"{where}: sizing of role {role!r} needs numeric {', '.join(FIGURES)} ({exc})") from exc


def load_profile(name: str, overrides: dict[str, dict[str, Any]] | None = None) -> Profile:
    """The named profile, with per-role overrides (`preflight_sizing_<role>` from the inventory) applied."""
    data = sizing_data()
    real = data.get("aliases", {}).get(name, name)
    if real not in data["profiles"]:
        raise PreflightError(f"unknown sizing profile {name!r}; known: {', '.join(profile_names())}")
    raw = data["profiles"][real]
    roles = {}
    for role, figures in raw["roles"].items():
        merged = dict(figures)
        extra = (overrides or {}).get(role) or {}
        if not isinstance(extra, dict):
            raise PreflightError(f"preflight_sizing_{role} must be a mapping of {', '.join(FIGURES)}")
        unknown = set(extra) - set(FIGURES) - {"odd"}
        if unknown:
            raise PreflightError(
                f"preflight_sizing_{role}: unknown key(s) {', '.join(sorted(unknown))}; use {', '.join(FIGURES)}"
            )
        merged.update(extra)
        roles[role] = _role_size(role, merged, f"profile {name}")
    return Profile(
        name=name,
        description=raw.get("description", ""),
        dedicated_hosts=bool(raw.get("dedicated_hosts", False)),
        roles=roles,
        slack_pct=float(data.get("slack_pct", 0)),
        totals=raw.get("totals", {}),
    )


def group_rules() -> dict[str, dict[str, Any]]:
    return {name: (spec or {}) for name, spec in rules()["groups"].items()}


def role_of_group(group: str) -> str | None:
    return group_rules().get(group, {}).get("role")


def groups_of_role(role: str) -> list[str]:
    return [g for g, spec in group_rules().items() if spec.get("role") == role]


def parse_port(text: str) -> tuple[str, int]:
    proto, _, port = str(text).partition("/")
    if proto not in ("tcp", "udp") or not port.isdigit():
        raise PreflightError(f"port {text!r} must look like tcp/9042 or udp/3478")
    return proto, int(port)
