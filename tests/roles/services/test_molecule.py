"""Each service role's molecule scenario (create, prepare, converge, idempotence, verify, destroy) on the
island lab, against a test bundle built and served by this module.

The bundle is served on all of the machine's addresses; lab VMs reach it as `lab-gateway` (their /etc/hosts
names the bridge's machine side so). The roles' artifact paths and checksums point at the stand-ins.
"""

from __future__ import annotations

import os

import pytest

from tests.roles.services.island import role_overrides, services_bundle
from tests.support.molecule import assert_stages, island_vars_file, molecule_test

pytestmark = [pytest.mark.lab, pytest.mark.slow]


@pytest.fixture(scope="module")
def vars_file(tmp_path_factory):
    yield from island_vars_file(tmp_path_factory, "services-molecule", services_bundle, overrides=role_overrides())


@pytest.mark.timeout(1800)
@pytest.mark.parametrize("role", ["cassandra", "elasticsearch", "minio", "restund"])
def test_molecule_scenario(role, vars_file):
    out = molecule_test(role, lab_name=f"m-{role[:8]}-{os.getpid() % 10000}", timeout=1500,
                        vars_file=vars_file)
    # verify is the role's own client-side check.
    assert_stages(out, ("create", "prepare", "converge", "idempotence", "verify", "destroy"))
