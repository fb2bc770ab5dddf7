"""Lab input checks and refusals that need no running lab (they run as any user)."""

from __future__ import annotations

import ipaddress
import os
import subprocess
from pathlib import Path

import pytest

from bundler.lab import HostSpec, Lab, LabError, load_spec
from bundler.lab.base import base_key, mirror_for_suite
from bundler.lab.lab import _du
from bundler.lab.network import choose_subnet, networks_in_use
from tests.support.cli import run_cli

REPO = Path(__file__).resolve().parents[2]


def cli(*args: str, env: dict | None = None, user: int | None = None) -> subprocess.CompletedProcess:
    prefix = ["setpriv", f"--reuid={user}", f"--regid={user}", "--clear-groups"] if user is not None else []
    return run_cli("lab", *args, prefix=prefix, cwd=REPO, env=env, timeout=60)


def _up(tmp_path: Path, spec: str, *args: str, **kw) -> subprocess.CompletedProcess:
    """`wire-bundle lab up` of a lab.yaml holding `spec`."""
    f = tmp_path / "lab.yaml"
    f.write_text(spec)
    return cli("up", str(f), *args, **kw)


@pytest.mark.parametrize("kwargs, message", [
    ({"name": "Bad_Name"}, "lab host name 'Bad_Name' is invalid"),
    ({"name": "a", "groups": ["all"]}, "group 'all' is not a valid Ansible group name"),
    ({"name": "a", "packages": ["nginx; rm -rf /"]}, "is not a Debian package name"),
    ({"name": "a", "memory": "lots"}, "memory 'lots' must look like 512M or 2G"),
    ({"name": "a", "cpus": -1}, "cpus -1 must be a positive number"),
])
def test_host_spec_rejects_bad_values(kwargs, message):
    with pytest.raises(LabError, match=message.replace("(", r"\(").replace(";", ";")):
        HostSpec(**kwargs)


def test_lab_rejects_duplicate_hosts_and_bad_names():
    with pytest.raises(LabError, match="'a' appears twice"):
        Lab("t", [HostSpec("a"), HostSpec("a")])
    with pytest.raises(LabError, match="lab name 'T 1' is invalid"):
        Lab("T 1", [HostSpec("a")])
    with pytest.raises(LabError, match="at least one host"):
        Lab("t", [])


def test_load_spec_both_forms_and_errors(tmp_path):
    f = tmp_path / "lab.yaml"
    f.write_text("name: demo\nhosts:\n  asset: {groups: [assethost], packages: [nginx]}\n  kube1:\n")
    spec = load_spec(f)
    assert spec.name == "demo"
    assert [(h.name, h.groups, h.packages) for h in spec.hosts] == [
        ("asset", ["assethost"], ["nginx"]), ("kube1", [], [])]
    f.write_text("hosts:\n  - {name: a, memory: 1G, cpus: 1}\n")
    assert load_spec(f).hosts[0].memory_bytes() == 1 << 30
    f.write_text("hosts:\n  - {name: a, ram: 1G}\n")
    with pytest.raises(LabError, match=r"unknown key\(s\) ram"):
        load_spec(f)
    f.write_text("hosts: [a\n")
    with pytest.raises(LabError, match="not valid YAML"):
        load_spec(f)
    with pytest.raises(LabError, match="cannot read"):
        load_spec(tmp_path / "missing.yaml")


def test_base_key_depends_on_suite_and_package_set_only():
    assert base_key("bookworm", ["b", "a", "a"]) == base_key("bookworm", ["a", "b"])
    assert base_key("bookworm", ["a"]) != base_key("bookworm", ["a", "chrony"])
    assert base_key("bookworm", ["a"]) != base_key("trixie", ["a"])


def test_mirror_comes_from_this_machines_apt_sources():
    uri = mirror_for_suite("bookworm")
    assert uri.startswith(("http://", "https://", "file:/"))
    with pytest.raises(LabError, match="no apt source on this machine serves Debian suite 'no-such-suite'"):
        mirror_for_suite("no-such-suite")


def test_subnet_choice_skips_used_networks_and_refuses_when_pool_is_full():
    in_use = networks_in_use()
    net = choose_subnet("10.213.0.0/16", taken_by_labs=set())
    assert net.prefixlen == 24 and not any(net.overlaps(u) for u in in_use)
    nxt = choose_subnet("10.213.0.0/16", taken_by_labs={str(net)})
    assert nxt != net
    # A pool that only overlaps this machine's own interface network has nothing free.
    own = next(u for u in in_use if not u.is_loopback and u.prefixlen <= 24)
    with pytest.raises(LabError, match="no free /24 left in the lab subnet pool"):
        choose_subnet(str(ipaddress.ip_network(own).supernet(new_prefix=24)), set())


@pytest.mark.skipif(os.geteuid() != 0, reason="the root check comes first")
def test_cli_bad_spec_is_one_line_error(tmp_path):
    proc = _up(tmp_path, "hosts:\n  Bad: {}\n", "--name", "x")
    assert proc.returncode == 1
    assert proc.stderr.strip() == ("error: lab host name 'Bad' is invalid: use 1-31 of a-z, 0-9, '-' "
                                   "starting with a letter")


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to switch to an unprivileged user")
def test_refuses_when_not_root(tmp_path):
    proc = _up(tmp_path, "name: nr\nhosts: {a: {}}\n", user=65534)
    assert proc.returncode == 1, proc.stderr
    assert proc.stderr.strip() == ("error: the island lab needs root (network namespaces, mounts, "
                                   "systemd-nspawn); run it as root")


@pytest.mark.skipif(os.geteuid() != 0, reason="the root check comes first")
def test_refuses_when_tools_are_missing(tmp_path):
    proc = _up(tmp_path, "name: nt\nhosts: {a: {}}\n", env={"PATH": str(tmp_path)})
    assert proc.returncode == 1
    assert "error: the island lab needs systemd-nspawn (apt package systemd-container), debootstrap" \
        in proc.stderr


@pytest.mark.skipif(os.geteuid() != 0, reason="reads the machine's lab state")
def test_cache_prune_removes_unused_bases_but_not_one_being_built(tmp_path):
    import fcntl
    import json

    for key in ("bookworm-aaaaaaaaaaaa", "bookworm-bbbbbbbbbbbb"):
        (tmp_path / key / "root" / "etc").mkdir(parents=True)
        (tmp_path / key / "root" / "etc" / "os-release").write_text("x" * 1000)
        (tmp_path / key / "meta.json").write_text(json.dumps({"suite": "bookworm", "packages": ["systemd"]}))
    listing = cli("cache", "--cache-dir", str(tmp_path))
    assert listing.returncode == 0
    assert "bookworm-aaaaaaaaaaaa" in listing.stdout and "used by: -" in listing.stdout
    with open(tmp_path / "bookworm-bbbbbbbbbbbb.lock", "w") as held:  # a build from it in progress
        fcntl.flock(held, fcntl.LOCK_EX)
        pruned = cli("cache", "--cache-dir", str(tmp_path), "--prune")
    assert pruned.returncode == 0, pruned.stderr
    assert "removed bookworm-aaaaaaaaaaaa" in pruned.stdout
    assert "kept bookworm-bbbbbbbbbbbb" in pruned.stdout
    assert not (tmp_path / "bookworm-aaaaaaaaaaaa").exists()
    assert (tmp_path / "bookworm-bbbbbbbbbbbb" / "meta.json").exists()


@pytest.mark.skipif(os.geteuid() != 0, reason="the root check comes first")
def test_refuses_a_non_empty_workdir_before_building_anything(tmp_path):
    (tmp_path / "precious.txt").write_text("keep me")
    with pytest.raises(LabError, match=f"work directory {tmp_path} exists and is not empty"):
        Lab(f"wd-{os.getpid() % 10000}", [HostSpec("a", packages=["no-such-package-xyz"])], tmp_path).up()
    assert (tmp_path / "precious.txt").read_text() == "keep me"


@pytest.mark.lab
@pytest.mark.skipif(os.geteuid() != 0, reason="debootstrap needs root")
def test_unknown_package_fails_the_base_build_cleanly(tmp_path):
    cache = tmp_path / "cache"
    lab = Lab(f"np-{os.getpid() % 10000}", [HostSpec("a", packages=["no-such-package-xyz"])],
              cache_dir=cache, log=lambda *_: None)
    with pytest.raises(LabError, match=r"building lab base bookworm-\w+: debootstrap failed .*full log in"):
        lab.up()
    # No half-built base is left for a later lab to pick up, and no lab state was written.
    assert not [p for p in cache.iterdir() if p.is_dir()]
    assert lab.leftovers() == []


def test_disk_use_counts_what_is_there_and_a_missing_host_directory_is_an_error(tmp_path):
    (tmp_path / "host").mkdir()
    (tmp_path / "host" / "blob").write_bytes(b"x" * 100_000)
    assert _du(tmp_path / "host") >= 100_000
    with pytest.raises(LabError, match=r"cannot measure the disk use of .*gone"):
        _du(tmp_path / "gone")
