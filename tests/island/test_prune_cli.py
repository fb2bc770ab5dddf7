"""`wire-bundle prune` through real ansible-runner and ansible-playbook on this machine (connection local), for
what needs no lab: its bad input and an island with nothing to prune. The prune itself, on the island lab after an
upgrade, is in test_island_lab.py; the module's decisions on files in test_seed.py."""

from __future__ import annotations

import json

import pytest

from tests.island.seeding import seed_module
from tests.support.cli import run_cli

LOCAL = {"ansible_connection": "local", "ansible_python_interpreter": "{{ ansible_playbook_python }}",
         "ansible_become": False}


@pytest.fixture
def asset(tmp_path):
    """A served bundle with no images (a marker is what prune reads of it), recorded by the seeding module."""
    bundle = tmp_path / "srv" / "wire-bundle"
    bundle.mkdir(parents=True)
    (bundle / ".wire-bundle-unpacked.json").write_text(json.dumps({"name": "only", "content_digest":
                                                                   "sha256:" + "a" * 64}))
    seed_module().keep_served(str(bundle), str(tmp_path / "srv" / "wire-bundle-served"))
    host = {**LOCAL, "asset_host_bundle_dir": str(bundle)}
    inv = tmp_path / "inventory.yml"
    inv.write_text(json.dumps({"all": {"children": {"assethost": {"hosts": {"asset": host}}}}}))
    return tmp_path


def _prune(tmp_path, *args):
    return run_cli("prune", "-i", tmp_path / "inventory.yml", "--run-dir", tmp_path / "run", *args, timeout=300)


def test_nothing_to_prune_says_so_and_keeps_the_current_bundle(asset):
    r = _prune(asset, "--dry-run")
    assert r.rc == 0, r.out + r.err
    assert "asset: would stop serving no bundle; 0 registry blobs" in r.out
    assert f"asset: still serving 'only' (sha256:{'a' * 12}" in r.out


def test_an_unknown_keep_is_one_line(asset):
    r = _prune(asset, "--keep", "wire-5.28")
    assert r.rc == 1 and r.err.startswith("error: prune: asset: ") and len(r.err.strip().splitlines()) == 1, r.err
    assert "keep 'wire-5.28': no served bundles have that name or digest (served: 'only'" in r.err


def test_a_bundle_not_served_yet_is_refused(asset):
    (asset / "srv" / "wire-bundle" / ".wire-bundle-unpacked.json").write_text(json.dumps(
        {"name": "next", "content_digest": "sha256:" + "b" * 64}))
    r = _prune(asset)
    assert r.rc == 1 and "which this host does not serve yet: run the bootstrap" in r.err, r.err
    assert (asset / "srv" / "wire-bundle-served" / ("a" * 64)).is_dir()


def test_an_inventory_without_an_asset_host_is_one_line(tmp_path):
    (tmp_path / "inventory.yml").write_text(json.dumps({"all": {"hosts": {"h1": LOCAL}}}))
    r = _prune(tmp_path)
    assert r.rc == 1 and "no asset host was pruned" in r.err and "assethost group" in r.err, r.err
