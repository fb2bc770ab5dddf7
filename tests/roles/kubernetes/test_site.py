"""End to end: playbooks/site.yml on a two-VM lab island, as far as this machine allows, then again with
changed=0 on every host.

The bundle is built by the real CLI: Debian's nginx, docker-registry, chrony and containerd (debs kind), a
stand-in image named registry.k8s.io/pause (images kind) and the Kubernetes node files of island.py (stand-in
kubelet/kubeadm/kubectl). It is copied into the asset host VM and unpacked there. Stages and what runs:
  preflight   real (lab sizing profile; groups this island lacks have count 0)
  bootstrap   real: asset_host (nginx, registry seeded from the bundle, chrony) and offline_sources on kube1
  data        no hosts in these groups here: the plays match nothing (the services have their own e2e test)
  kubernetes  real tasks, containerd from the asset host; stand-in kubeadm/kubelet/kubectl
  sft         real tasks; labels through the stand-in kubectl
  wire        template mode (no cluster): real helm renders the Wire-shaped stand-in charts in install order
              with values `wire-bundle values` made for a separate full-size inventory (this one has no data
              hosts, which values requires)
"""

from __future__ import annotations

import json
import shutil
import time

import pytest

from tests.fixtures.lab import HostSpec
from tests.island.values.conftest import CHARTS, Site
from tests.roles.kubernetes.island import node_files, role_overrides
from tests.roles.kubernetes.playbook import REPO, ansible_playbook
from tests.support.cli import run_cli
from tests.support.images import ImageFactory
from tests.support.island import build_bundle

pytestmark = [pytest.mark.lab, pytest.mark.slow]
PACKAGES = ["nginx", "docker-registry", "chrony", "containerd"]
PAUSE = "registry.k8s.io/pause:3.9"
TIMINGS: dict[str, float] = {}


@pytest.fixture(scope="module")
def island(make_lab, registry, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("site")
    started = time.monotonic()
    factory = ImageFactory(seed="site-pause")
    factory.push(registry, "pause", factory.simple("pause", size=50_000), tag="3.9")
    build_bundle(tmp, "site-test", packages=PACKAGES, files=node_files(), images={"refs": [PAUSE]},
                 registries={"registry.k8s.io": {"mirror": registry.host}, registry.host: {"insecure": True}})
    TIMINGS["bundle"] = time.monotonic() - started
    (tmp / "values-site").mkdir()
    values = Site(tmp / "values-site")
    values.write(wire_sft_enabled=True, wire_s3_backend="minio")
    values.run()
    started = time.monotonic()
    lab = make_lab("site", [HostSpec("asset", groups=["assethost"]),
                            HostSpec("kube1", groups=["kube_control_plane", "kube_node", "sft"], packages=["procps"])])
    TIMINGS["lab up"] = time.monotonic() - started
    root = lab.host("asset").root
    shutil.copyfile(tmp / "site-test.tar.zst", root / "root" / "site.tar.zst")
    r = run_cli("unpack", root / "root" / "site.tar.zst", "--to", root / "srv" / "wire-bundle")
    assert r.rc == 0, r.err

    extravars = {
        **role_overrides(),
        "ansible_pipelining": True,
        # The lab shares the machine's clock: measure and serve time, never set it.
        "timesync_control_clock": False, "asset_host_time_control_clock": False,
        "preflight_profile": "lab",
        **{f"preflight_sizing_{g}": {"count": 0} for g in ("cassandra", "elasticsearch", "minio", "restund")},
        "kubernetes_admin_kubeconfig": str(tmp / "artifacts" / "admin.conf"),
        "wire_releases_mode": "template", "wire_releases_values_dir": str(values.out),
        "wire_releases_charts_dir": str(CHARTS), "wire_releases_rendered_dir": str(tmp / "rendered"),
        "wire_releases_helm": str(REPO / "tools" / "bin" / "helm"),
    }
    env = {"ANSIBLE_VAULT_PASSWORD_FILE": str(values.password_file), "ANSIBLE_FORKS": "2"}
    yield lab, extravars, env, tmp


def site(lab, extravars, env, label):
    started = time.monotonic()
    r = ansible_playbook("site.yml", lab.inventory_path, extravars, env=env, timeout=2400)
    TIMINGS[label] = time.monotonic() - started
    return r


def test_site_runs_every_stage(island):
    lab, extravars, env, tmp = island
    r = site(lab, extravars, env, "site first run")
    assert r.rc == 0, r.out[-8000:]
    for stage in ("Pre-flight every host", "Asset host", "Every other VM follows the asset host",
                  "Kubernetes, first control-plane host", "SFT calling nodes", "Wire Helm releases"):
        assert f"PLAY [{stage}" in r.out, stage
    assert lab.run("kube1", "cat /var/lib/wire-bundle/site/preflight.passed", check=True).stdout.strip() == "passed"
    # containerd came from the asset host's apt repository and pulls the bundle's image by its original name.
    asset = lab.host("asset").address
    assert f"http://{asset}/debs" in lab.run("kube1", "apt-cache policy containerd", check=True).stdout
    pulled = lab.run("kube1", f"ctr -n k8s.io images pull --hosts-dir /etc/containerd/certs.d {PAUSE}", timeout=300)
    assert pulled.returncode == 0, pulled.stdout + pulled.stderr
    assert json.loads(lab.run("kube1", "cat /var/lib/kube-standin/cluster.json", check=True).stdout)[
        "nodes"]["kube1"]["labels"]["wire.com/role"] == "sftd"
    rendered = sorted(p.name for p in (tmp / "rendered").glob("*.yaml"))
    assert rendered[0] == "01-cassandra-external.yaml" and rendered[-1].endswith("-sftd.yaml")


def test_site_again_changes_nothing_and_skips_the_passed_preflight(island):
    lab, extravars, env, _ = island
    r = site(lab, extravars, env, "site second run")
    assert r.rc == 0, r.out[-8000:]
    assert {h: s["changed"] for h, s in r.recap().items() if s["changed"]} == {}, r.out[-8000:]
    assert "wire_preflight" not in r.out.split("PLAY [Pre-flight every host")[1].split("PLAY [")[0] or \
        "skipping" in r.out.split("PLAY [Pre-flight every host")[1].split("PLAY [")[0]
    print("\nsite timings: " + ", ".join(f"{k} {v:.0f}s" for k, v in TIMINGS.items()))


def test_site_from_the_kubernetes_stage(island):
    lab, extravars, env, _ = island
    r = ansible_playbook("site.yml", lab.inventory_path, extravars, env=env, args=["--tags", "kubernetes,sft"],
                         timeout=1200)
    assert r.rc == 0 and r.changed() == 0, r.out[-6000:]
    # Only the asset host role's argument check runs (Ansible tags it always); none of its work does.
    asset_tasks = [line for line in r.out.splitlines() if line.startswith("TASK [asset_host")]
    assert all("Validating arguments against arg spec" in line for line in asset_tasks), asset_tasks
