"""`molecule test` of roles/kubernetes and roles/sft on the island lab, and of roles/wire_releases on the admin
host (this machine), each scenario through every stage.

The lab scenarios read WIRE_TEST_VARS_FILE: the test island of island.py (containerd from the bundle's apt
repository, the stand-in node files) served on all of the machine's addresses, an island registry holding a
stand-in registry.k8s.io/pause, both reached from the lab VMs as `lab-gateway`. The kubernetes scenario has
three control-plane hosts and a worker: its verify checks from the stand-in kubeadm's recorded argv that cp2
and cp3 joined with --control-plane and the certificate key, node1 as a worker, and that no token or key was
logged; this test checks the same secrets are absent from molecule's whole output. The wire_releases scenario
needs no lab (its platform is the admin host, see its molecule.yml) and renders with real helm.
"""

from __future__ import annotations

import os

import pytest
import yaml

from tests.fixtures.lab import require_lab
from tests.roles.kubernetes.island import kubernetes_bundle, role_overrides
from tests.support.images import ImageFactory
from tests.support.molecule import REPO, assert_stages, island_vars_file, molecule_test, scenario_dir
from tests.support.registry import Registry

HELM = REPO / "tools" / "bin" / "helm"
STAGES = ("destroy", "syntax", "create", "prepare", "converge", "idempotence", "verify", "destroy")
# What the stand-in kubeadm hands out (standins/kubeadm): a bootstrap token and a certificate key.
TOKEN = "abcdef.0123456789abcdef"
CERT_KEY = "c0ffee" * 10 + "abcd"


@pytest.fixture(scope="module")
def island_vars(tmp_path_factory):
    require_lab()
    pushed_to = Registry(tmp_path_factory.mktemp("k8s-registry"), name="push")
    try:
        factory = ImageFactory(seed="k8s-pause")
        factory.push(pushed_to, "registry.k8s.io/pause", factory.simple("pause", size=20_000), tag="3.9")
        yield from island_vars_file(tmp_path_factory, "k8s-molecule", kubernetes_bundle, overrides=role_overrides(),
                                    registry=pushed_to.storage_dir)
    finally:
        pushed_to.stop()


@pytest.mark.lab
@pytest.mark.slow
@pytest.mark.timeout(3000)
@pytest.mark.parametrize("role", ["kubernetes", "sft"])
def test_molecule_scenario_on_the_island_lab(role, island_vars, tmp_path):
    out = molecule_test(role, lab_name=f"m-{role[:8]}-{os.getpid() % 10000}", work=tmp_path, timeout=2700,
                        vars_file=island_vars)
    assert_stages(out, STAGES)
    # Join tokens and the certificate key never reach the output, whatever the stage.
    assert TOKEN not in out and CERT_KEY not in out
    if role == "kubernetes":
        # The joins ran (and were censored) for the three joining hosts: the absence above is not vacuous.
        joins = out.split("TASK [kubernetes : Join the cluster (kubeadm join)]")
        assert len(joins) >= 4, out[-6000:]
        assert all(f"changed: [{h}]" in "".join(j.split("TASK [", 1)[0] for j in joins[1:])
                   for h in ("cp2", "cp3", "node1"))
    else:
        assert "group sft: 1 node(s)" in out and "planned 1 node(s)" in out


@pytest.mark.slow
@pytest.mark.timeout(1200)
@pytest.mark.skipif(not HELM.exists(), reason="tools/bin/helm not installed: run make deps")
def test_molecule_wire_releases_on_the_admin_host(tmp_path):
    out = molecule_test("wire_releases", work=tmp_path, timeout=1100)
    assert_stages(out, STAGES)
    assert not (tmp_path / "ephemeral" / "admin-host").exists(), "molecule destroy must remove the work directory"
    # The scenario's SMTP password reached brig's Secret (its verify checks that) and never the output.
    password = yaml.safe_load((scenario_dir("wire_releases") / "inventory/island.yml").read_text())[
        "all"]["vars"]["wire_smtp_password"]
    assert password not in out
