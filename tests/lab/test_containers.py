"""containerd and runc run inside a lab host (what the Kubernetes roles will rely on)."""

from __future__ import annotations

from pathlib import Path

import pytest

from bundler.lab import HostSpec

pytestmark = [pytest.mark.lab, pytest.mark.slow]
HERE = Path(__file__).resolve().parent


def test_containerd_runs_a_container_inside_a_lab_host(make_lab):
    lab = make_lab("ct", [HostSpec("node", groups=["k8s"], packages=["containerd", "busybox-static"])])
    assert lab.run("node", "systemctl is-active containerd").stdout.strip() == "active"
    # No registry or network here: a stand-in OCI archive built in the host from its own busybox.
    lab.run("node", "python3 - > /tmp/standin.tar", input=(HERE / "standin_oci.py").read_text(), check=True)
    ref = "lab.local/stand-in/busybox:1"
    # The archive's index.json names the image (org.opencontainers.image.ref.name). Giving the same name again with
    # --index-name made two image records race for it, and half the time the one pointing at the index won: the index
    # is not a blob, so the import failed with "content digest ...: not found".
    imported = lab.run("node", "ctr -n lab image import /tmp/standin.tar", timeout=120)
    assert imported.returncode == 0, imported.stderr
    assert lab.run("node", "ctr -n lab image ls -q", check=True).stdout.split() == [ref]
    # The overlay snapshotter works because /var/lib/containerd is a per-host volume, not on the overlay root.
    out = lab.run("node", f"ctr -n lab run --rm --net-host {ref} c1 /bin/busybox sh -c 'echo hello; hostname'",
                  check=True, timeout=120).stdout.split()
    assert out == ["hello", "node"]
    assert lab.disk_usage()["node"] > 0
