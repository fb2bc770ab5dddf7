"""The example inventories (inventory/examples/) load in Ansible, use every group the roles need, and the
bootstrap playbook passes Ansible's syntax check against each."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from bundler.lab.spec import load_spec

REPO = Path(__file__).resolve().parents[2]
EXAMPLES = REPO / "inventory" / "examples"
GROUPS = {"assethost", "cassandra", "cassandra_seed", "elasticsearch", "minio", "restund", "kube_control_plane",
          "kube_node", "sft"}
BIN = Path(sys.executable).parent


def _inventory(path: Path) -> dict:
    proc = subprocess.run([str(BIN / "ansible-inventory"), "-i", str(path), "--list"], capture_output=True,
                          text=True, timeout=120)
    assert proc.returncode == 0 and "WARNING" not in proc.stderr, proc.stderr
    return json.loads(proc.stdout)


@pytest.mark.parametrize("name", ["single-vm", "production"])
def test_inventory_has_every_group_and_one_asset_host(name):
    inv = _inventory(EXAMPLES / name)
    assert set(inv["all"]["children"]) | set(inv) >= GROUPS
    assert len(inv["assethost"]["hosts"]) == 1
    seeds = set(inv["cassandra_seed"]["hosts"])
    assert seeds and seeds <= set(inv["cassandra"]["hosts"])
    asset = inv["assethost"]["hosts"][0]
    hostvars = inv["_meta"]["hostvars"][asset]
    assert hostvars["wire_asset_host"] == hostvars["ansible_host"]


@pytest.mark.parametrize("name", ["single-vm", "production"])
def test_bootstrap_passes_the_syntax_check(name):
    proc = subprocess.run([str(BIN / "ansible-playbook"), "--syntax-check", "-i", str(EXAMPLES / name),
                           str(REPO / "playbooks" / "bootstrap.yml")], capture_output=True, text=True, timeout=120,
                          env={"ANSIBLE_ROLES_PATH": str(REPO / "roles"), "PATH": f"{BIN}:/usr/bin:/bin"})
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_lab_example_is_a_valid_lab_spec():
    spec = load_spec(EXAMPLES / "lab" / "lab.yaml")
    groups = [g for h in spec.hosts for g in h.groups]
    assert groups.count("assethost") == 1
    extra = yaml.safe_load((EXAMPLES / "lab" / "group_vars" / "all.yml").read_text())
    assert extra == {"timesync_control_clock": False, "asset_host_time_control_clock": False}
