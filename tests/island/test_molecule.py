"""The asset_host and offline_sources molecule scenarios, run for real on the island lab (~10 min each)."""

from __future__ import annotations

import os

import pytest

from bundler.lab.state import read_state
from tests.lab.test_molecule import run_molecule

pytestmark = [pytest.mark.lab, pytest.mark.slow]


@pytest.mark.parametrize("role", ["asset_host", "offline_sources"])
def test_scenario_converges_is_idempotent_and_verifies(role):
    if os.geteuid() != 0:
        pytest.skip("island lab needs root")
    lab_name = f"m-{role.replace('_', '-')[:8]}-{os.getpid() % 10000}"
    proc = run_molecule(role, lab_name)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out[-4000:]
    for stage in ("prepare", "converge", "idempotence", "verify", "destroy"):
        assert f"[default > {stage}] Executed: Successful" in out
    assert read_state(lab_name) is None, "molecule destroy must tear the lab down"
