"""End to end on the island lab: the data stage of site.yml, in its order, against VMs that reach only the test
island, after `wire-bundle values` has written the Helm values and secrets from the same inventory.

One lab (module scope): 3 Cassandra (2 seeds), 3 Elasticsearch, 3 MinIO, 3 PostgreSQL (repmgr), 3 RabbitMQ and
2 TURN VMs. The asset host is the machine side of the lab bridge serving the unpacked test bundle (see
island.py). The inventory and the values sit in one directory, as on the admin host, so the postgresql and
rabbitmq playbooks find the passwords the values generator made where they look by default. Order matters: the
tests run top to bottom on the same lab.
"""

from __future__ import annotations

import os
import re
import time
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

from bundler.lab import Lab
from tests.fixtures.lab import HostSpec
from tests.island.values.conftest import make_cert
from tests.roles.services.island import role_overrides, services_bundle
from tests.roles.services.standins.restund_image import build_and_push
from tests.support.cli import run_cli
from tests.support.island import serve_island
from tests.support.registry import Registry

pytestmark = [pytest.mark.lab, pytest.mark.slow]

REPO = Path(__file__).resolve().parents[3]
SITE = REPO / "playbooks" / "site.yml"


def site_stage(tag: str) -> list[str]:
    """The playbooks of one stage of site.yml, in site.yml's order: the test runs what the site runs."""
    return [f"playbooks/{play['import_playbook']}" for play in yaml.safe_load(SITE.read_text())
            if "import_playbook" in play and tag in play.get("tags", [])]


PLAYBOOKS = site_stage("data")
HOSTS = [
    HostSpec("cass1", groups=["cassandra", "cassandra_seed"]),
    HostSpec("cass2", groups=["cassandra", "cassandra_seed"]),
    HostSpec("cass3", groups=["cassandra"]),
    # es1 is also where Wire's pods would run (the values generator needs a Kubernetes node, and pg_hba admits
    # only those and the cluster's own nodes): the client of PostgreSQL and RabbitMQ below. No kubelet runs here.
    HostSpec("es1", groups=["elasticsearch", "turnclients", "kube_control_plane", "kube_node"]),
    HostSpec("es2", groups=["elasticsearch"]),
    HostSpec("es3", groups=["elasticsearch"]),
    HostSpec("minio1", groups=["minio"]),
    HostSpec("minio2", groups=["minio"]),
    HostSpec("minio3", groups=["minio"]),
    HostSpec("pg1", groups=["postgresql", "postgresql_rw"]),
    HostSpec("pg2", groups=["postgresql", "postgresql_ro"]),
    HostSpec("pg3", groups=["postgresql", "postgresql_ro"]),
    HostSpec("rmq1", groups=["rabbitmq"]),
    HostSpec("rmq2", groups=["rabbitmq"]),
    HostSpec("rmq3", groups=["rabbitmq"]),
    HostSpec("turn1", groups=["restund"]),
    HostSpec("turn2", groups=["restund"]),
]
VAULT_PASSWORD = "services e2e vault password"
# The operator's wire_* choices (group_vars/all), as few as `wire-bundle values` needs; no SFT hosts here.
WIRE_SETTINGS = {
    "wire_domain": "wire.example.org",
    "wire_tls_cert_file": "wildcard.crt",
    "wire_tls_key_file": "wildcard.key",
    "wire_smtp": {"host": "smtp.wire.example.org", "sender": "noreply@wire.example.org"},
    "wire_sft_enabled": False,
}
TIMINGS: dict[str, float] = {}


@dataclass
class Island:
    lab: Lab
    extravars: dict
    site: Path  # the admin host's directory: inventory.yml, values/, group_vars/ (PostgreSQL's vault file)

    @property
    def inventory(self) -> Path:
        return self.site / "inventory.yml"

    def values(self, release: str) -> dict:
        return yaml.safe_load((self.site / "values" / f"{release}.yaml").read_text())

    def secrets(self) -> dict:
        from ansible.parsing.vault import VaultLib, VaultSecret  # noqa: PLC0415 (ansible is heavy; only here)

        vault = VaultLib([("default", VaultSecret(VAULT_PASSWORD.encode()))])
        return yaml.safe_load(vault.decrypt((self.site / "values" / "secrets.vault.yaml").read_bytes()))


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
        # The admin host's directory: the lab's inventory with the operator's settings, then `wire-bundle values`
        # beside it (values/secrets.vault.yaml holds the passwords of PostgreSQL's and RabbitMQ's Wire user).
        site = tmp_path_factory.mktemp("island-site")
        make_cert(site, ["*." + WIRE_SETTINGS["wire_domain"], WIRE_SETTINGS["wire_domain"]])
        inventory = yaml.safe_load(lab.inventory_path.read_text())
        inventory["all"]["vars"].update(WIRE_SETTINGS)
        (site / "inventory.yml").write_text(yaml.safe_dump(inventory, sort_keys=False))
        vault_pass = site / "vault-pass"
        vault_pass.write_text(VAULT_PASSWORD + "\n")
        vault_pass.chmod(0o600)
        started = time.monotonic()
        r = run_cli("values", "-i", site / "inventory.yml", "-o", site / "values", "--vault-password-file",
                    vault_pass, timeout=1800)
        assert r.returncode == 0, r.stderr
        TIMINGS["values"] = time.monotonic() - started
        # The playbooks decrypt the values' secrets file and write their own vault file with this password.
        old_vault_env = os.environ.get("ANSIBLE_VAULT_PASSWORD_FILE")
        os.environ["ANSIBLE_VAULT_PASSWORD_FILE"] = str(vault_pass)
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
            # Small figures for lab VMs, which see the whole machine's memory (the role sizes from it otherwise).
            "postgresql_shared_buffers_mb": 128,
            "postgresql_effective_cache_size_mb": 256,
            "postgresql_wal_keep_size": "64MB",
        }
        yield Island(lab, extravars, site)
        if old_vault_env is None:
            os.environ.pop("ANSIBLE_VAULT_PASSWORD_FILE", None)
        else:
            os.environ["ANSIBLE_VAULT_PASSWORD_FILE"] = old_vault_env
    pushed_to.stop()
    print("\nservices e2e timings: " + ", ".join(f"{k} {v:.0f}s" for k, v in TIMINGS.items()))


def changed_hosts(result) -> set[str]:
    return {h for h, n in result.stats.get("changed", {}).items() if n}


def run(run_playbook, island: Island, playbook, **kw):
    started = time.monotonic()
    result = run_playbook(playbook, island.inventory, extravars=island.extravars, **kw)
    TIMINGS[f"{playbook.split('/')[-1]}#{sum(k.startswith(playbook.split('/')[-1]) for k in TIMINGS)}"] = \
        time.monotonic() - started
    assert result.rc == 0 and not result.failed_hosts(), result.stdout[-6000:]
    return result


@pytest.mark.timeout(1800)
def test_vms_use_the_island_repository(island, run_playbook):
    run(run_playbook, island, "tests/roles/services/sources.yml")
    run(run_playbook, island, "tests/roles/services/prepare.yml")
    out = island.lab.run("cass1", "apt-cache policy openjdk-17-jre-headless", check=True).stdout
    assert island.extravars["wire_asset_url"] in out, out


@pytest.mark.timeout(3000)
def test_playbooks_converge_and_services_verify(island, run_playbook):
    lab = island.lab
    # site.yml's order: the data services (PostgreSQL and RabbitMQ among them) before the Wire releases.
    stages = site_stage("data") + site_stage("wire")
    assert {"playbooks/postgresql.yml", "playbooks/rabbitmq.yml"} <= set(PLAYBOOKS), PLAYBOOKS
    assert stages.index("playbooks/wire.yml") > max(stages.index(p) for p in PLAYBOOKS), stages
    for playbook in PLAYBOOKS:
        run(run_playbook, island, playbook)
    run(run_playbook, island, "tests/roles/services/verify.yml")
    # Real software underneath the stand-ins: the JRE from the bundle runs, coturn is Debian's.
    assert "openjdk" in lab.run("cass2", "java -version 2>&1", check=True).stdout.lower()
    assert "coturn" in lab.run("turn1", "dpkg-query -W coturn", check=True).stdout
    assert "quay.io/wire/restund" in lab.run("turn2", "ctr -n wire containers list", check=True).stdout
    # repmgr's own view: pg1 the primary, the two standbys following it, all running.
    show = lab.run("pg2", "runuser -u postgres -- repmgr -f /etc/repmgr.conf cluster show --compact",
                   check=True).stdout
    for name, part in (("pg1", "primary"), ("pg2", "standby"), ("pg3", "standby")):
        assert re.search(rf"^\s*\d+\s*\|\s*{name}\s*\|\s*{part}\s*\|\s*(\* )?running\s*\|", show, re.M), show


def _as_client(island: Island, script: str, secret: str) -> str:
    """Run `script` on es1 (the Kubernetes node) with SECRET in its environment, read from stdin: never on a
    command line or in the output."""
    r = island.lab.run("es1", f"read -r SECRET; export SECRET; {script}", input=secret + "\n", timeout=120)
    assert r.returncode == 0, r.stderr[-2000:]
    return r.stdout


@pytest.mark.timeout(600)
def test_wire_server_values_reach_the_islands_postgresql_and_rabbitmq(island):
    """What `wire-bundle values` gave wire-server (hosts, users, passwords) and the *-external releases (the
    island's addresses behind those hosts) is what the island's PostgreSQL and RabbitMQ serve, used from a
    Kubernetes node as Wire's pods would use it."""
    addr = {h.name: h.address for h in island.lab.hosts}
    pg_ext, mq_ext, ws = (island.values(r) for r in ("postgresql-external", "rabbitmq-external", "wire-server"))
    assert pg_ext["RWIPs"] == [addr["pg1"]] and pg_ext["ROIPs"] == [addr["pg2"], addr["pg3"]], pg_ext
    assert mq_ext["IPs"] == [addr["rmq1"], addr["rmq2"], addr["rmq3"]], mq_ext
    for svc in ("brig", "galley"):
        assert ws[svc]["config"]["postgresql"]["host"] == "postgresql-external-rw", ws[svc]["config"]
    for svc in ("brig", "galley", "gundeck", "cannon", "background-worker"):
        assert ws[svc]["config"]["rabbitmq"]["host"] == "rabbitmq-external", ws[svc]["config"]
    pg, mq = ws["brig"]["config"]["postgresql"], ws["brig"]["config"]["rabbitmq"]
    brig_secrets = island.secrets()["releases"]["wire-server"]["brig"]["secrets"]
    token = os.urandom(8).hex()

    # PostgreSQL: write through the primary's address as Wire's user with Wire's password, read on each standby.
    conn = f"port={pg['port']} user={pg['user']} dbname={pg['dbname']} connect_timeout=5"
    script = (f"PGPASSWORD=$SECRET psql 'host={pg_ext['RWIPs'][0]} {conn}' -XAtq -v ON_ERROR_STOP=1 -c "
              f"\"create table if not exists e2e_rows (token text primary key); insert into e2e_rows values "
              f"('{token}')\"")
    for ro in pg_ext["ROIPs"]:
        script += (f" && for i in $(seq 20); do n=$(PGPASSWORD=$SECRET psql 'host={ro} {conn}' -XAtqc "
                   f"\"select count(*) from e2e_rows where token = '{token}'\"); [ \"$n\" = 1 ] && break; "
                   f"sleep 0.5; done && echo {ro}=$n")
    out = _as_client(island, script, brig_secrets["pgPassword"])
    assert out.split() == [f"{ro}=1" for ro in pg_ext["ROIPs"]], out

    # RabbitMQ: through every node of rabbitmq-external, as Wire's user with Wire's password; a message
    # published through one node is consumed through the next.
    user = ws["brig"]["secrets"]["rabbitmq"]["username"]
    vhost = mq["vHost"].replace("/", "%2F")
    ips = mq_ext["IPs"]
    url = "amqp://{user}:$SECRET@{ip}:{port}/{vhost}"
    script = ""
    for i, ip in enumerate(ips):
        nxt = ips[(i + 1) % len(ips)]
        queue = f"e2e-{token}-{i}"
        send = url.format(user=user, ip=ip, port=mq["port"], vhost=vhost)
        recv = url.format(user=user, ip=nxt, port=mq["port"], vhost=vhost)
        script += (f"amqp-declare-queue --url \"{send}\" --durable --queue {queue} >/dev/null && "
                   f"amqp-publish --url \"{send}\" --routing-key {queue} --persistent --body {ip}-to-{nxt} && "
                   f"amqp-get --url \"{recv}\" --queue {queue} && echo && "
                   f"amqp-delete-queue --url \"{recv}\" --queue {queue} >/dev/null && ")
    out = _as_client(island, script + "true", brig_secrets["rabbitmq"]["password"])
    assert out.split() == [f"{ip}-to-{ips[(i + 1) % len(ips)]}" for i, ip in enumerate(ips)], out


@pytest.mark.timeout(1800)
def test_second_run_changes_nothing(island, run_playbook):
    # sources.yml too: its containerd mirror files and the restund role's are the same files.
    seen: set[str] = set()
    for playbook in ["tests/roles/services/sources.yml", *PLAYBOOKS]:
        result = run(run_playbook, island, playbook)
        assert changed_hosts(result) == set(), (playbook, result.stats.get("changed"))
        seen |= set(result.stats.get("ok", {}))
    # Every VM (the six PostgreSQL and RabbitMQ ones too) and the admin host ran and changed nothing.
    assert seen == {h.name for h in HOSTS} | {"localhost"}, seen


@pytest.mark.timeout(1200)
def test_stopped_cassandra_node_is_brought_back_alone(island, run_playbook):
    lab = island.lab
    lab.run("cass3", "systemctl stop cassandra", check=True)
    down = ""
    for _ in range(20):  # gossip notices within a few seconds
        down = lab.run("cass1", "CASSANDRA_CONF=/etc/cassandra /opt/cassandra/bin/nodetool status").stdout
        if any(line.startswith("DN") and lab.host("cass3").address in line for line in down.splitlines()):
            break
        time.sleep(1)
    else:
        pytest.fail(f"cass1 never saw cass3 down:\n{down}")
    result = run(run_playbook, island, "playbooks/cassandra.yml")
    assert changed_hosts(result) == {"cass3"}, result.stats.get("changed")
    run(run_playbook, island, "tests/roles/services/verify.yml", limit="cassandra")
