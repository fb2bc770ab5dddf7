"""Lab defaults from bundler/data/lab.yaml and the paths derived from them."""

from __future__ import annotations

import os
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import yaml

from bundler import paths

DATA_FILE = paths.DATA / "lab.yaml"


@dataclass(frozen=True)
class LabDefaults:
    suite: str
    base_packages: tuple[str, ...]
    cache_dir: Path
    home: Path
    subnet_pool: str
    first_host_offset: int
    boot_timeout: float
    kill_timeout: float
    gateway_name: str
    host_volumes: tuple[str, ...]

    @property
    def state_dir(self) -> Path:
        return self.home / "state"

    @property
    def labs_dir(self) -> Path:
        return self.home / "labs"


@cache
def defaults() -> LabDefaults:
    raw = yaml.safe_load(DATA_FILE.read_text())
    home = Path(os.environ.get("WIRE_BUNDLE_LAB_HOME", raw["home"]))
    cache_dir = Path(os.environ.get("WIRE_BUNDLE_LAB_CACHE", raw["cache_dir"]))
    return LabDefaults(
        suite=raw["suite"],
        base_packages=tuple(raw["base_packages"]),
        cache_dir=cache_dir,
        home=home,
        subnet_pool=raw["subnet_pool"],
        first_host_offset=int(raw["first_host_offset"]),
        boot_timeout=float(raw["boot_timeout"]),
        kill_timeout=float(raw["kill_timeout"]),
        gateway_name=raw["gateway_name"],
        host_volumes=tuple(raw.get("host_volumes") or ()),
    )
