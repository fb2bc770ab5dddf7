"""The Kubernetes test island: a bundle built by the real CLI with Debian's containerd (debs kind) and the node
files (files kind), unpacked, and served like the asset host serves it (`serve_island` on the lab bridge,
tests/support/island.py).

Node files, at the paths of examples/wire.yaml: kubelet, kubeadm and kubectl are stand-ins (standins/);
crictl is a stand-in script in a tarball; the CNI plugins tarball holds Debian's real `loopback` plugin
(containernetworking-plugins, from this machine); the CNI manifest is a small stand-in for calico.yaml.
"""

from __future__ import annotations

import functools
from pathlib import Path

import yaml

from tests.support.archive import tgz
from tests.support.island import build_island
from tests.support.specs import sha256

STANDINS = Path(__file__).resolve().parent / "standins"
CNI_PLUGIN = Path("/usr/lib/cni/loopback")
CRICTL = "#!/bin/sh\n# stand-in crictl (never shipped)\necho 'crictl version v1.29.0 (stand-in)'\n"
CNI_MANIFEST = """# Stand-in for Calico's calico.yaml (never shipped): one DaemonSet naming the bundle's Calico image.
apiVersion: apps/v1
kind: DaemonSet
metadata: {name: calico-node, namespace: kube-system}
spec:
  selector: {matchLabels: {k8s-app: calico-node}}
  template:
    metadata: {labels: {k8s-app: calico-node}}
    spec:
      hostNetwork: true
      containers: [{name: calico-node, image: "quay.io/calico/node:v3.26.4"}]
"""


@functools.cache
def node_files() -> dict[str, bytes]:
    """Bundle path -> content."""
    return {
        "kubernetes/v1.29.10/kubelet": (STANDINS / "kubelet").read_bytes(),
        "kubernetes/v1.29.10/kubeadm": (STANDINS / "kubeadm").read_bytes(),
        "kubernetes/v1.29.10/kubectl": (STANDINS / "kubectl").read_bytes(),
        "kubernetes/crictl-v1.29.0-linux-amd64.tar.gz": tgz({"crictl": (CRICTL.encode(), 0o755)}),
        "kubernetes/cni-plugins-linux-amd64-v1.3.0.tgz": tgz({"./loopback": (CNI_PLUGIN.read_bytes(), 0o755)}),
        "kubernetes/calico-v3.26.4.yaml": CNI_MANIFEST.encode(),
    }


def role_overrides() -> dict:
    """kubernetes_files and the CNI manifest pointed at the stand-ins (paths as in examples/wire.yaml)."""
    f = node_files()
    files = yaml.safe_load((Path(__file__).resolve().parents[3] / "roles/kubernetes/defaults/main.yml")
                           .read_text())["kubernetes_files"]
    for entry in files.values():
        entry["sha256"] = sha256(f[entry["path"]])
    return {"kubernetes_files": files,
            "kubernetes_cni_manifest": {"path": "kubernetes/calico-v3.26.4.yaml",
                                        "sha256": sha256(f["kubernetes/calico-v3.26.4.yaml"])}}


def kubernetes_bundle(workdir: Path) -> Path:
    """Build (debs cached across runs) and unpack the test bundle; returns the unpacked directory."""
    return build_island(workdir, "kubernetes-test", packages=["containerd"], files=node_files())
