"""The roles' molecule scenarios against the shared island-lab driver (.config/molecule/config.yml, merged under
every scenario by molecule): static checks, no lab."""

from __future__ import annotations

import pytest
import yaml

from tests.roles.docs import REPO

BASE = yaml.safe_load((REPO / ".config/molecule/config.yml").read_text())
SCENARIOS = sorted(p.parent for p in (REPO / "roles").glob("*/molecule/*/molecule.yml"))


@pytest.mark.parametrize("scenario", SCENARIOS, ids=[f"{s.parts[-3]}/{s.name}" for s in SCENARIOS])
def test_scenario_uses_the_lab_driver_and_its_own_playbooks(scenario):
    conf = yaml.safe_load((scenario / "molecule.yml").read_text())
    playbooks = (conf.get("provisioner") or {}).get("playbooks") or {}
    # The base config names a default for these; a scenario file of that name would silently lose to it.
    for step in BASE["provisioner"]["playbooks"]:
        if (scenario / f"{step}.yml").is_file():
            assert playbooks.get(step) == f"{step}.yml", f"{scenario.name}: name its own {step}.yml in molecule.yml"
    # Nothing of the test suite: a scenario needs its role, its siblings and the lab driver (molecule/).
    for path in scenario.rglob("*.yml"):
        assert "../tests/" not in path.read_text(), path
