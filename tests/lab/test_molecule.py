"""Molecule scenarios run for real against the island lab (default driver, no Docker)."""

from __future__ import annotations

import os

import pytest

from tests.support.molecule import assert_stages, molecule_test

pytestmark = [pytest.mark.lab, pytest.mark.slow]


def test_timesync_scenario_converges_is_idempotent_and_verifies():
    if os.geteuid() != 0:
        pytest.skip("island lab needs root")
    out = molecule_test("timesync", lab_name=f"m-timesync-{os.getpid() % 10000}", timeout=840)
    # verify waits for the client to select the time server.
    assert_stages(out, ("create", "converge", "idempotence", "verify", "destroy"))
