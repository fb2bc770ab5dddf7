"""The kubernetes and sft roles on the island lab (playbooks/kubernetes.yml, playbooks/sft.yml).

Two VMs: cp1 (kube_control_plane, kube_node) and node1 (kube_node, sft). The asset host is the machine side of
the lab bridge serving the unpacked test bundle (island.py). Real: containerd from the bundle's apt repository,
its registry mirrors (a stand-in image pulled by its original registry.k8s.io name and digest from the island
registry), the kernel settings, the downloads with their checksums, the Debian CNI plugin, systemd units, the
fetched kubeconfig, every Ansible task and its idempotence. Stand-ins: kubeadm, kubelet, kubectl (standins/).
The tests run top to bottom on the same lab.
"""

from __future__ import annotations

import json
import time

import pytest

from tests.fixtures.lab import HostSpec
from tests.roles.kubernetes.island import kubernetes_bundle, node_files, role_overrides, sha256
from tests.support.images import ImageFactory
from tests.support.island import serve_island
from tests.support.registry import Registry

pytestmark = [pytest.mark.lab, pytest.mark.slow]
HOSTS = [HostSpec("cp1", groups=["kube_control_plane", "kube_node"], packages=["procps"]),
         HostSpec("node1", groups=["kube_node", "sft"], packages=["procps"])]
TOKEN = "abcdef.0123456789abcdef"  # what the stand-in kubeadm hands out
TIMINGS: dict[str, float] = {}


@pytest.fixture(scope="module")
def island(make_lab, tmp_path_factory):
    started = time.monotonic()
    bundle = kubernetes_bundle(tmp_path_factory.mktemp("k8s-bundle"))
    TIMINGS["bundle"] = time.monotonic() - started
    started = time.monotonic()
    lab = make_lab("k8s", HOSTS)
    TIMINGS["lab up"] = time.monotonic() - started
    work = tmp_path_factory.mktemp("k8s-registry")
    pushed_to = Registry(work, name="push")
    pause = ImageFactory(seed="k8s-pause").push(pushed_to, "registry.k8s.io/pause",
                                                ImageFactory(seed="k8s-pause").simple("pause", size=20_000), tag="3.9")
    artifacts = tmp_path_factory.mktemp("k8s-artifacts")
    with serve_island(bundle, lab.host_address_on_bridge, registry=pushed_to.storage_dir, registry_port=5001,
                      workdir=work) as asset_vars:
        extravars = {
            **role_overrides(),
            **asset_vars,
            "kubernetes_admin_kubeconfig": str(artifacts / "admin.conf"),
            # Labels and annotations as an inventory would give them per host.
            "kubernetes_node_labels": "{{ {'wire.com/zone': 'zone-' ~ inventory_hostname} }}",
            "kubernetes_node_annotations": "{{ {'wire.com/rack': 'r1'} }}",
            "wire_external_ip": "{{ '203.0.113.7' if inventory_hostname == 'node1' else omit }}",
            "sft_planned_participants": 40,
            # Not the kernel's default (32768 60999), so the role has to write the running value.
            "sft_port_range": "33000 60000",
        }
        yield lab, extravars, pause.digest, artifacts
    pushed_to.stop()
    print("\nkubernetes lab timings: " + ", ".join(f"{k} {v:.0f}s" for k, v in TIMINGS.items()))


def run(run_playbook, lab, extravars, playbook):
    started = time.monotonic()
    result = run_playbook(playbook, lab.inventory_path, extravars=extravars)
    name = playbook.split("/")[-1]
    TIMINGS[f"{name}#{sum(k.startswith(name) for k in TIMINGS)}"] = time.monotonic() - started
    assert result.rc == 0 and not result.failed_hosts(), result.stdout[-6000:]
    return result


def kubectl_state(lab) -> dict:
    return json.loads(lab.run("cp1", "cat /var/lib/kube-standin/cluster.json", check=True).stdout)


def kubeadm_calls(lab, host) -> list[list[str]]:
    out = lab.run(host, "cat /var/log/kubeadm-standin.log", check=True).stdout
    return [json.loads(ln) for ln in out.splitlines() if ln]


def test_sources_then_kubernetes_converges(island, run_playbook):
    lab, extravars, digest, artifacts = island
    run(run_playbook, lab, extravars, "tests/roles/kubernetes/sources.yml")
    # A fresh network namespace forwards nothing: the role has to write the running value, not only the file.
    assert lab.run("cp1", "sysctl -n net.ipv4.ip_forward", check=True).stdout.strip() == "0"
    result = run(run_playbook, lab, extravars, "playbooks/kubernetes.yml")
    # Join tokens and the certificate key never reach the log.
    assert TOKEN not in result.stdout and "c0ffee" not in result.stdout

    for host in ("cp1", "node1"):
        assert lab.run(host, "systemctl is-active containerd kubelet", check=True).stdout.split() == ["active"] * 2
        assert lab.run(host, "sysctl -n net.ipv4.ip_forward net.bridge.bridge-nf-call-iptables",
                       check=True).stdout.split() == ["1", "1"]
        assert "br_netfilter" in lab.run(host, "cat /etc/modules-load.d/wire-kubernetes.conf", check=True).stdout
        installed = lab.run(host, "sha256sum /usr/local/bin/kubelet /usr/local/bin/kubeadm", check=True).stdout
        assert sha256(node_files()["kubernetes/v1.29.10/kubelet"]) in installed
        # The real CNI plugin from the bundle's tarball runs.
        assert "cniVersion" in lab.run(host, "CNI_COMMAND=VERSION /opt/cni/bin/loopback", check=True).stdout
        assert "containerd.sock" in lab.run(host, "/usr/local/bin/crictl --version; cat /etc/crictl.yaml",
                                            check=True).stdout
    # containerd from the bundle, configured for the island registry's mirrors.
    assert lab.run("node1", "apt-cache policy containerd", check=True).stdout.count(extravars["wire_asset_url"]) >= 1
    assert 'config_path = "/etc/containerd/certs.d"' in lab.run("node1", "cat /etc/containerd/config.toml",
                                                                check=True).stdout

    calls = kubeadm_calls(lab, "cp1")
    assert calls[0][:3] == ["init", "--config", "/etc/kubernetes/kubeadm-config.yaml"]
    config = lab.run("cp1", "cat /etc/kubernetes/kubeadm-config.yaml", check=True).stdout
    assert "kubernetesVersion: \"v1.29.10\"" in config and "cgroupDriver: systemd" in config
    joins = kubeadm_calls(lab, "node1")
    assert len(joins) == 1 and joins[0][0] == "join" and joins[0][-2:] == ["--node-name", "node1"]
    assert "--control-plane" not in joins[0]

    state = kubectl_state(lab)
    assert state["nodes"]["node1"]["labels"]["wire.com/zone"] == "zone-node1"
    assert state["nodes"]["cp1"]["annotations"]["wire.com/rack"] == "r1"
    assert list(state["applied"]) == ["/etc/kubernetes/wire-cni.yaml"]
    # The admin kubeconfig is on the admin host, private.
    conf = artifacts / "admin.conf"
    assert conf.is_file() and conf.stat().st_mode & 0o077 == 0 and "kubernetes-admin" in conf.read_text()


def test_containerd_pulls_by_original_name_and_digest_from_the_island_registry(island):
    lab, _, digest, _ = island
    ref = f"registry.k8s.io/pause@{digest}"
    r = lab.run("node1", f"ctr -n k8s.io images pull --hosts-dir /etc/containerd/certs.d {ref}", timeout=300)
    assert r.returncode == 0, r.stdout + r.stderr
    assert digest in lab.run("node1", "ctr -n k8s.io images list -q", check=True).stdout or \
        ref in lab.run("node1", "ctr -n k8s.io images list -q", check=True).stdout


def test_sft_labels_annotates_and_opens_the_media_range(island, run_playbook):
    lab, extravars, _, _ = island
    before = lab.run("node1", "sysctl -n net.ipv4.ip_local_port_range", check=True).stdout.split()
    result = run(run_playbook, lab, extravars, "playbooks/sft.yml")
    assert "planned 1 node(s)" in result.stdout
    node = kubectl_state(lab)["nodes"]["node1"]
    assert node["labels"]["wire.com/role"] == "sftd"
    assert node["annotations"]["wire.com/external-ip"] == "203.0.113.7"
    assert "wire.com/role" not in kubectl_state(lab)["nodes"]["cp1"]["labels"]
    assert before != ["33000", "60000"]
    assert lab.run("node1", "sysctl -n net.ipv4.ip_local_port_range", check=True).stdout.split() == ["33000", "60000"]
    assert "33000 60000" in lab.run("node1", "cat /etc/sysctl.d/91-wire-sft.conf", check=True).stdout


def test_second_run_changes_nothing(island, run_playbook):
    lab, extravars, _, _ = island
    for playbook in ("playbooks/kubernetes.yml", "playbooks/sft.yml"):
        result = run(run_playbook, lab, extravars, playbook)
        changed = {h: n for h, n in result.stats.get("changed", {}).items() if n}
        assert changed == {}, (playbook, changed, result.stdout[-4000:])
    joins = lab.run("node1", "cat /var/log/kubeadm-standin.log", check=True).stdout.strip().split("\n")
    assert len(joins) == 1
