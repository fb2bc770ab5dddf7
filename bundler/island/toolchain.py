"""Install the bundle's admin-host toolchain (wheelhouse + Ansible collections) from an unpacked bundle, offline.

Runs the bundle's own toolchain/install.sh (pip with --no-index --require-hashes, ansible-galaxy --offline), so
the admin host gets exactly the wheels and collections the bundle was built with. A marker in the venv records
which bundle it came from: unpacking the same bundle again does not reinstall.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

from bundler.errors import BundleError

MARKER = ".wire-bundle-toolchain.json"


def install_toolchain(bundle_dir: Path, venv: Path, collections: Path, log=print) -> bool:
    """Install into venv and collections; False when they already hold this bundle's toolchain."""
    script = bundle_dir / "toolchain" / "install.sh"
    if not script.is_file():
        raise BundleError(f"{bundle_dir}: the bundle has no toolchain (toolchain/install.sh missing); build it with "
                          f"a `toolchain:` section in the spec")
    unpacked = json.loads((bundle_dir / ".wire-bundle-unpacked.json").read_text())
    identity = unpacked["identity"]
    venv, collections = venv.absolute(), collections.absolute()
    try:
        if json.loads((venv / MARKER).read_text()).get("identity") == identity:
            log(f"toolchain: {venv} already holds this bundle's toolchain; nothing to do")
            return False
    except (OSError, ValueError):
        pass
    existed = venv.exists()
    proc = subprocess.run(["sh", str(script), str(venv), str(collections)], capture_output=True, text=True)
    if proc.returncode != 0:
        if not existed:
            shutil.rmtree(venv, ignore_errors=True)
        lines = (proc.stderr.strip() or proc.stdout.strip() or f"exited {proc.returncode}").splitlines()
        raise BundleError(f"toolchain install into {venv} failed: {lines[-1]}")
    (venv / MARKER).write_text(json.dumps({"identity": identity, "name": unpacked.get("name")}))
    log(f"toolchain: {venv} (wire-bundle, ansible-core, ansible-runner), collections in {collections}; "
        f"export ANSIBLE_COLLECTIONS_PATH={collections}")
    return True
