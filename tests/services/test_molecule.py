"""Each service role's molecule scenario (create, prepare, converge, idempotence, verify, destroy) on the
island lab, against a test bundle built and served by this module.

The bundle is served on all of the machine's addresses; lab VMs reach it as `lab-gateway` (their /etc/hosts
names the bridge's machine side so). The roles' artifact paths and checksums point at the stand-ins.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from bundler.lab.state import read_state
from tests.services.island import AssetServer, role_overrides, services_bundle

REPO = Path(__file__).resolve().parents[2]
pytestmark = [pytest.mark.lab, pytest.mark.slow]


@pytest.fixture(scope="module")
def vars_file(tmp_path_factory):
    if os.geteuid() != 0:
        pytest.skip("island lab needs root")
    work = tmp_path_factory.mktemp("services-molecule")
    server = AssetServer(services_bundle(work), "0.0.0.0")
    port = server.url.rsplit(":", 1)[1]
    path = work / "vars.yml"
    path.write_text(yaml.safe_dump({**role_overrides(), "ansible_pipelining": True, "wire_asset_host": "lab-gateway",
                                    "wire_asset_url": f"http://lab-gateway:{port}"}))
    yield path
    server.close()


@pytest.mark.timeout(1800)
@pytest.mark.parametrize("role", ["cassandra", "elasticsearch", "minio", "restund"])
def test_molecule_scenario(role, vars_file):
    bindir = str(Path(sys.executable).parent)
    lab_name = f"m-{role[:8]}-{os.getpid() % 10000}"
    env = {**os.environ, "PATH": bindir + os.pathsep + os.environ.get("PATH", ""), "MOLECULE_LAB_NAME": lab_name,
           "WIRE_TEST_VARS_FILE": str(vars_file), "ANSIBLE_NOCOLOR": "1", "PY_COLORS": "0",
           "ANSIBLE_FORCE_COLOR": "0"}
    proc = subprocess.run([str(Path(bindir) / "molecule"), "test"], cwd=REPO / "roles" / role, env=env,
                          capture_output=True, text=True, timeout=1500)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out[-6000:]
    # Each stage ran and passed; molecule's idempotence stage itself fails when the second converge changes
    # anything, and verify is the role's own client-side check.
    for stage in ("create", "prepare", "converge", "idempotence", "verify", "destroy"):
        assert f"default > {stage}: Executed: Successful" in out, out[-6000:]
    assert read_state(lab_name) is None, "molecule destroy must tear the lab down"
