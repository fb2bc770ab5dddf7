"""End to end on the island lab: the four service playbooks against VMs that reach only the test island.

One lab (module scope): 3 Cassandra (2 seeds), 3 Elasticsearch, 3 MinIO, 2 TURN VMs. The asset host is the
machine side of the lab bridge serving the unpacked test bundle (see island.py). Order matters: the tests
run top to bottom on the same lab.
"""

from __future__ import annotations

import os
import time

import pytest

from tests.fixtures.lab import HostSpec
from tests.roles.services.island import role_overrides, services_bundle
from tests.roles.services.standins.restund_image import build_and_push
from tests.support.island import serve_island
from tests.support.registry import Registry

pytestmark = [pytest.mark.lab, pytest.mark.slow]

PLAYBOOKS = ["playbooks/cassandra.yml", "playbooks/elasticsearch.yml", "playbooks/minio.yml",
             "playbooks/restund.yml"]
HOSTS = [
    HostSpec("cass1", groups=["cassandra", "cassandra_seed"]),
    HostSpec("cass2", groups=["cassandra", "cassandra_seed"]),
    HostSpec("cass3", groups=["cassandra"]),
    HostSpec("es1", groups=["elasticsearch", "turnclients"]),
    HostSpec("es2", groups=["elasticsearch"]),
    HostSpec("es3", groups=["elasticsearch"]),
    HostSpec("minio1", groups=["minio"]),
    HostSpec("minio2", groups=["minio"]),
    HostSpec("minio3", groups=["minio"]),
    HostSpec("turn1", groups=["restund"]),
    HostSpec("turn2", groups=["restund"]),
]
TIMINGS: dict[str, float] = {}


@pytest.fixture(scope="module")
def island(make_lab, tmp_path_factory):
    started = time.monotonic()
    bundle = services_bundle(tmp_path_factory.mktemp("services-bundle"))
    TIMINGS["bundle"] = time.monotonic() - started
    os.environ.setdefault("ANSIBLE_FORKS", str(len(HOSTS)))
    started = time.monotonic()
    lab = make_lab("svc", HOSTS)
    TIMINGS["lab up"] = time.monotonic() - started
    # Wire's restund image as a stand-in (coturn's turnserver behind restund.conf), pushed under the
    # upstream name and served on the bridge like the asset host's registry: quay.io/... via certs.d.
    work = tmp_path_factory.mktemp("restund-image")
    pushed_to = Registry(work, name="push")
    build_and_push(work, pushed_to.host, "quay.io/wire/restund", "v0.6.0-rc.2")
    with serve_island(bundle, lab.host_address_on_bridge, registry=pushed_to.storage_dir, workdir=work) as asset_vars:
        addr = {h.name: h.address for h in lab.hosts}
        extravars = {
            **role_overrides(),
            # ansible_pipelining among them: one SSH round trip per task, the lab shares 2 cores with everything else.
            **asset_vars,
            # turn1 runs coturn (Debian), turn2 restund as Wire runs it: the (stand-in) image through containerd.
            "restund_implementation": "{{ 'restund' if inventory_hostname == 'turn2' else 'coturn' }}",
            "restund_container_args": ["/standin/restund.sh"],
            "restund_zrest_secret": os.urandom(16).hex(),
            # es1 is the TURN client (from another VM) and the peer the operator allows; cass1 is a forbidden peer.
            "restund_allowed_peer_ranges": [f"{addr['es1']}/32"],
            "restund_verify_client": "es1",
            "restund_verify_allowed_peer": "es1",
            "restund_verify_forbidden_peer": "cass1",
            "minio_root_user": "wire-root",
            "minio_root_password": os.urandom(12).hex(),
            "minio_cargohold_access_key": "cargohold",
            "minio_cargohold_secret_key": os.urandom(12).hex(),
        }
        yield lab, extravars
    pushed_to.stop()
    print("\nservices e2e timings: " + ", ".join(f"{k} {v:.0f}s" for k, v in TIMINGS.items()))


def changed_hosts(result) -> set[str]:
    return {h for h, n in result.stats.get("changed", {}).items() if n}


def run(run_playbook, lab, extravars, playbook, **kw):
    started = time.monotonic()
    result = run_playbook(playbook, lab.inventory_path, extravars=extravars, **kw)
    TIMINGS[f"{playbook.split('/')[-1]}#{sum(k.startswith(playbook.split('/')[-1]) for k in TIMINGS)}"] = \
        time.monotonic() - started
    assert result.rc == 0 and not result.failed_hosts(), result.stdout[-6000:]
    return result


@pytest.mark.timeout(1800)
def test_vms_use_the_island_repository(island, run_playbook):
    lab, extravars = island
    run(run_playbook, lab, extravars, "tests/roles/services/sources.yml")
    run(run_playbook, lab, extravars, "tests/roles/services/prepare.yml")
    out = lab.run("cass1", "apt-cache policy openjdk-17-jre-headless", check=True).stdout
    assert extravars["wire_asset_url"] in out, out


@pytest.mark.timeout(3000)
def test_playbooks_converge_and_services_verify(island, run_playbook):
    lab, extravars = island
    for playbook in PLAYBOOKS:
        run(run_playbook, lab, extravars, playbook)
    run(run_playbook, lab, extravars, "tests/roles/services/verify.yml")
    # Real software underneath the stand-ins: the JRE from the bundle runs, coturn is Debian's.
    assert "openjdk" in lab.run("cass2", "java -version 2>&1", check=True).stdout.lower()
    assert "coturn" in lab.run("turn1", "dpkg-query -W coturn", check=True).stdout
    assert "quay.io/wire/restund" in lab.run("turn2", "ctr -n wire containers list", check=True).stdout


@pytest.mark.timeout(1800)
def test_second_run_changes_nothing(island, run_playbook):
    lab, extravars = island
    # sources.yml too: its containerd mirror files and the restund role's are the same files.
    for playbook in ["tests/roles/services/sources.yml", *PLAYBOOKS]:
        result = run(run_playbook, lab, extravars, playbook)
        assert changed_hosts(result) == set(), (playbook, result.stats.get("changed"))


@pytest.mark.timeout(1200)
def test_stopped_cassandra_node_is_brought_back_alone(island, run_playbook):
    lab, extravars = island
    lab.run("cass3", "systemctl stop cassandra", check=True)
    down = ""
    for _ in range(20):  # gossip notices within a few seconds
        down = lab.run("cass1", "CASSANDRA_CONF=/etc/cassandra /opt/cassandra/bin/nodetool status").stdout
        if any(line.startswith("DN") and lab.host("cass3").address in line for line in down.splitlines()):
            break
        time.sleep(1)
    else:
        pytest.fail(f"cass1 never saw cass3 down:\n{down}")
    result = run(run_playbook, lab, extravars, "playbooks/cassandra.yml")
    assert changed_hosts(result) == {"cass3"}, result.stats.get("changed")
    run(run_playbook, lab, extravars, "tests/roles/services/verify.yml", limit="cassandra")
