"""The pre-flight rows for PostgreSQL and RabbitMQ: sizing, counts, group combinations, data paths, ports and the
connectivity matrix, on real Ansible inventories parsed by Ansible (no lab needed)."""

from __future__ import annotations

from bundler.island.preflight.groups import group_checks
from bundler.island.preflight.inventory import from_file
from bundler.island.preflight.matrix import listen_ports, probe_targets
from bundler.island.preflight.requirements import host_requirements
from bundler.island.preflight.rules import load_profile
from tests.island.preflight.test_rules_groups import PRODUCTION, inventory, statuses


def test_production_rows_carry_wires_postgresql_figures_and_our_rabbitmq_figures():
    roles = load_profile("production").roles
    assert (roles["postgresql"].count, roles["postgresql"].cpu, roles["postgresql"].memory_gb,
            roles["postgresql"].disk_gb) == (2, 2, 2, 50)
    assert (roles["rabbitmq"].count, roles["rabbitmq"].odd) == (3, True)
    # The lab checks their size where present but does not demand them.
    lab = load_profile("lab").roles
    assert lab["postgresql"].count == lab["rabbitmq"].count == 0


def test_postgresql_needs_two_nodes_and_rabbitmq_an_odd_three_or_more(tmp_path):
    def got(**changes):
        layout = {k: v for k, v in {**PRODUCTION, **changes}.items() if v is not None}
        return statuses(group_checks(from_file(inventory(tmp_path, layout)), load_profile("production")))

    assert got()["group.count.postgresql"] == got()["group.count.rabbitmq"] == got()["group.odd.rabbitmq"] == "pass"
    missing = got(postgresql=None, postgresql_rw=None, postgresql_ro=None, rabbitmq=None)
    assert (missing["group.count.postgresql"], missing["group.count.rabbitmq"]) == ("fail", "fail")
    assert got(postgresql=["p1"], postgresql_rw=["p1"], postgresql_ro=None)["group.count.postgresql"] == "fail"
    assert got(postgresql=["p1", "p2"], postgresql_ro=["p2"])["group.count.postgresql"] == "pass"
    two = got(rabbitmq=["r1", "r2"])
    assert (two["group.count.rabbitmq"], two["group.odd.rabbitmq"]) == ("fail", "fail")
    four = got(rabbitmq=["r1", "r2", "r3", "r4"])
    assert (four["group.count.rabbitmq"], four["group.odd.rabbitmq"]) == ("pass", "fail")


def test_wires_postgresql_groups_must_be_consistent(tmp_path):
    layout = dict(PRODUCTION, postgresql_rw=["p1", "x1"], postgresql_ro=["p1", "p2"])
    checks = {c["id"]: c for c in group_checks(from_file(inventory(tmp_path, layout)), load_profile("production"))
              if c["status"] != "pass"}
    assert set(checks) == {"group.requires.postgresql_rw.postgresql", "group.conflict.postgresql_ro.postgresql_rw"}
    assert checks["group.requires.postgresql_rw.postgresql"]["found"] == "not in postgresql: x1"
    assert checks["group.conflict.postgresql_ro.postgresql_rw"]["found"] == "in both: p1"


def test_data_paths_are_the_ones_the_roles_write(tmp_path):
    inv = from_file(inventory(tmp_path, PRODUCTION, host_vars={"p2": {"postgresql_data_dir": "/data/pg/15/main"}}))
    profile = load_profile("production")
    assert host_requirements(inv.hosts["p1"], profile)["disks"] == [
        {"role": "postgresql", "path": "/var/lib/postgresql", "required_gib": 50.0}]
    assert host_requirements(inv.hosts["p2"], profile)["disks"][0]["path"] == "/data/pg/15/main"
    req = host_requirements(inv.hosts["r1"], profile)
    assert req["disks"] == [{"role": "rabbitmq", "path": "/var/lib/rabbitmq", "required_gib": 20.0}]
    assert (req["cpu"], req["memory_mib"]) == (1, 2048)


def test_ports_and_the_connectivity_matrix(tmp_path):
    inv = from_file(inventory(tmp_path, PRODUCTION))
    assert listen_ports(inv, "p1") == [{"proto": "tcp", "port": 5432}]
    assert {p["port"] for p in listen_ports(inv, "r1")} == {5672, 4369, 25672, 15672}

    def reached(source):
        return {(t["host"], t["port"]) for t in probe_targets(inv, source)}

    kube = reached("k1")
    assert {("p1", 5432), ("p2", 5432), ("p3", 5432), ("r1", 5672), ("r3", 15672)} <= kube
    assert not {(h, p) for h, p in kube if p in (4369, 25672)}  # Erlang's ports stay inside the cluster
    assert {(h, p) for h, p in reached("p1") if p == 5432} == {("p2", 5432), ("p3", 5432)}
    rabbit = reached("r2")
    assert {("r1", 4369), ("r3", 4369), ("r1", 25672), ("r3", 25672)} <= rabbit
    assert not {h for h, _ in rabbit if h.startswith("p")}
    assert not {(h, p) for h, p in reached("c1") if p in (5432, 5672)}  # Cassandra is no client of either
