"""The rabbitmq role's molecule scenario (create, prepare, converge, idempotence, verify, destroy) on a three-VM
island lab, against the services test bundle (Debian's rabbitmq-server, Erlang and amqp-tools among its real
packages) served to the lab as `lab-gateway`.

Nothing here is a stand-in: the VMs run Debian's RabbitMQ, form the cluster, and the verify publishes and consumes
with amqp-tools across nodes, stops the quorum queue's leader and starts it again.
"""

from __future__ import annotations

import os

import pytest

from tests.roles.services.island import services_bundle
from tests.support.molecule import assert_stages, island_vars_file, molecule_test

pytestmark = [pytest.mark.lab, pytest.mark.slow]


@pytest.fixture(scope="module")
def vars_file(tmp_path_factory):
    yield from island_vars_file(tmp_path_factory, "rabbitmq-molecule", services_bundle)


@pytest.mark.timeout(3000)
def test_molecule_scenario(vars_file, tmp_path):
    out = molecule_test("rabbitmq", lab_name=f"m-rabbitmq-{os.getpid() % 10000}", timeout=2700, work=tmp_path,
                        vars_file=vars_file)
    assert_stages(out, ("create", "prepare", "converge", "idempotence", "verify", "destroy"))
    # The verify's own steps, named so a scenario that silently stopped running them fails here.
    for step in ("The vhost made it a quorum queue", "Stop the queue's leader",
                 "Publish and consume with the leader down", "Publish and consume through the node that came back"):
        assert f"TASK [rabbitmq : {step}]" in out, step
    assert "fatal:" not in out
