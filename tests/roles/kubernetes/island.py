"""The Kubernetes test island: a bundle built by the real CLI with Debian's containerd (debs kind) and the node
files (files kind), unpacked, and served like the asset host serves it (tests/roles/services/island.py's
AssetServer and IslandRegistry on the lab bridge).

Node files, at the paths of examples/wire.yaml: kubelet, kubeadm and kubectl are stand-ins (standins/);
crictl is a stand-in script in a tarball; the CNI plugins tarball holds Debian's real `loopback` plugin
(containernetworking-plugins, from this machine); the CNI manifest is a small stand-in for calico.yaml.
"""

from __future__ import annotations

import functools
import gzip
import hashlib
import io
import os
import subprocess
import sys
import tarfile
from pathlib import Path

import yaml

from tests.roles.services.island import CACHE, SOURCES
from tests.support.fileserver import FileServer

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


def _tgz(members: dict[str, tuple[bytes, int]]) -> bytes:
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w") as tar:
        for name, (data, mode) in members.items():
            ti = tarfile.TarInfo(name)
            ti.size, ti.mode, ti.mtime = len(data), mode, 1700000000
            tar.addfile(ti, io.BytesIO(data))
    # Reproducible bytes (gzip's header holds a time): the role's checksums are computed separately.
    return gzip.compress(raw.getvalue(), mtime=0)


@functools.cache
def node_files() -> dict[str, bytes]:
    """Bundle path -> content."""
    return {
        "kubernetes/v1.29.10/kubelet": (STANDINS / "kubelet").read_bytes(),
        "kubernetes/v1.29.10/kubeadm": (STANDINS / "kubeadm").read_bytes(),
        "kubernetes/v1.29.10/kubectl": (STANDINS / "kubectl").read_bytes(),
        "kubernetes/crictl-v1.29.0-linux-amd64.tar.gz": _tgz({"crictl": (CRICTL.encode(), 0o755)}),
        "kubernetes/cni-plugins-linux-amd64-v1.3.0.tgz": _tgz({"./loopback": (CNI_PLUGIN.read_bytes(), 0o755)}),
        "kubernetes/calico-v3.26.4.yaml": CNI_MANIFEST.encode(),
    }


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


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
    files = node_files()
    with FileServer({"/" + p: d for p, d in files.items()}) as server:
        spec = {"version": 1, "name": "kubernetes-test",
                "debs": {"targets": [{"name": "bookworm", "suite": "bookworm", "sources": SOURCES}],
                         "packages": ["containerd"]},
                "files": [{"url": f"{server.url}/{p}", "path": p, "sha256": sha256(d)}
                          for p, d in sorted(files.items())]}
        spec_path = workdir / "kubernetes-test.yaml"
        spec_path.write_text(yaml.safe_dump(spec, sort_keys=False))
        archive = workdir / "kubernetes-test.tar.zst"
        r = subprocess.run([sys.executable, "-m", "bundler.cli", "build", str(spec_path), "-o", str(archive),
                            "--cache-dir", str(CACHE / "debs-cache"), "-q"], capture_output=True, text=True,
                           timeout=1800)
        if r.returncode != 0:
            raise RuntimeError(f"wire-bundle build failed: {r.stderr[-3000:]}")
    unpacked = workdir / "bundle"
    r = subprocess.run([sys.executable, "-m", "bundler.cli", "unpack", str(archive), "--to", str(unpacked)],
                       capture_output=True, text=True, timeout=600)
    if r.returncode != 0:
        raise RuntimeError(f"wire-bundle unpack failed: {r.stderr[-3000:]}")
    for p in [unpacked, *unpacked.rglob("*")]:
        if p.is_dir():
            os.chmod(p, 0o755)
    return unpacked

