"""The asset host role's seeding module, loaded from the role, for the island tests (which serve what it seeds
with tests/support/registry.py's ReadOnlyRegistry, the way the role configures docker-registry)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
MODULE = REPO / "roles" / "asset_host" / "library" / "wire_registry_seed.py"


def seed_module():
    spec = importlib.util.spec_from_file_location("wire_registry_seed", MODULE)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod
