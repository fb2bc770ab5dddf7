"""The asset_host and offline_sources molecule scenarios, run for real on the island lab (~10 min each)."""

from __future__ import annotations

import os

import pytest

from tests.support.molecule import assert_stages, molecule_test

pytestmark = [pytest.mark.lab, pytest.mark.slow]


@pytest.mark.parametrize("role", ["asset_host", "offline_sources"])
def test_scenario_converges_is_idempotent_and_verifies(role):
    if os.geteuid() != 0:
        pytest.skip("island lab needs root")
    out = molecule_test(role, lab_name=f"m-{role.replace('_', '-')[:8]}-{os.getpid() % 10000}", timeout=840)
    assert_stages(out, ("prepare", "converge", "idempotence", "verify", "destroy"))
