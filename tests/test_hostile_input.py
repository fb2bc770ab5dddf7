"""Hostile documents (huge, deep, alias bombs, a million entries) in a spec, a lock, an inventory and a settings
file: each is one line naming the file and the limit, in bounded memory and time, never a traceback.

The commands run as real processes under a 1 GiB address-space limit and a timeout, so "bounded" is measured,
not assumed.
"""

from __future__ import annotations

import resource
import shutil
import subprocess
import time
from pathlib import Path

import pytest

from bundler.bundle.yamlsrc import MAX_SPEC_VALUES, MAX_YAML_BYTES
from tests.support.cli import run_cli

MEMORY_LIMIT = 1 << 30
REPO = Path(__file__).resolve().parents[1]


def _limited() -> None:
    resource.setrlimit(resource.RLIMIT_AS, (MEMORY_LIMIT, MEMORY_LIMIT))


def run(*args: object, timeout: float = 30) -> tuple[int, str, float]:
    start = time.monotonic()
    try:
        proc = run_cli(*args, timeout=timeout, preexec_fn=_limited, unset=["WIRE_BUNDLE_SIGN_KEY"])
    except subprocess.TimeoutExpired:
        pytest.fail(f"wire-bundle {args[0]} still running after {timeout} s")
    return proc.returncode, proc.stderr, time.monotonic() - start


def one_line(rc: int, err: str, *needles: str) -> None:
    assert rc == 1, err[-2000:]
    assert "Traceback" not in err and "MemoryError" not in err, err[-2000:]
    last = err.strip().splitlines()[-1]
    assert last.startswith("error: "), err[-2000:]
    for needle in needles:
        assert needle in last, last


def laughs(levels: int = 9) -> str:
    """The billion laughs: a few hundred bytes, 10**levels values once expanded."""
    lines = ["a0: &a0 [lol, lol, lol, lol, lol, lol, lol, lol, lol, lol]"]
    for i in range(1, levels):
        lines.append(f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 10) + "]")
    return "\n".join(lines) + "\n"


SPECS = {
    "aliases": ("version: 1\nname: x\nx-bomb: 1\n" + laughs(), "values once its aliases are expanded"),
    "depth": ("version: 1\nimages: {refs: " + "[" * 5000 + "]" * 5000 + "}\n", "nested deeper than"),
    "entries": ("version: 1\nimages:\n  refs: [" + ", ".join(f"r{i}:1" for i in range(300_000)) + "]\n",
                f"more than {MAX_SPEC_VALUES} values"),
    "size": ("version: 1\n" + ("#" * 99 + "\n") * (MAX_YAML_BYTES // 100 + 1), "larger than 4 MiB"),
}


@pytest.mark.parametrize("case", list(SPECS))
def test_hostile_spec_is_one_line_in_bounded_memory_and_time(tmp_path, case):
    text, why = SPECS[case]
    if case == "aliases":  # the bomb must reach the loader's expansion, not the schema's unknown-key error
        text = text.replace("x-bomb: 1\n", "").replace("a0:", "images: {refs: []}\nx:\n  a0:").replace(
            "\na", "\n  a")
    spec = tmp_path / "s.yaml"
    spec.write_text(text)
    rc, err, took = run("lock", spec, "--cache-dir", tmp_path / "cache")
    one_line(rc, err, str(spec), why)
    assert took < 20
    assert not (tmp_path / "s.lock.json").exists()


@pytest.mark.parametrize("body,why", [
    ("[" * 100_000 + "]" * 100_000, "nested too deeply"),
    ('["not", "an object"]', "not a JSON object"),
    ('{"version": 1,', "not valid JSON"),
])
def test_hostile_lock_is_one_line(tmp_path, body, why):
    spec = tmp_path / "s.yaml"
    spec.write_text("version: 1\nimages: {refs: ['quay.io/wire/brig:1']}\n")
    (tmp_path / "s.lock.json").write_text(body)
    rc, err, _ = run("build", spec, "--locked", "-o", tmp_path / "b.tar.zst", "--cache-dir", tmp_path / "cache")
    one_line(rc, err, f"lock file {tmp_path / 's.lock.json'}", why)


def values(tmp_path: Path, inv: Path, *extra: object) -> tuple[int, str, float]:
    password = tmp_path / "vault-password"
    password.write_text("hostile-input-tests\n")
    return run("values", "-i", inv, "-o", tmp_path / "values", "--vault-password-file", password, *extra)


def _inventory(tmp_path: Path, group_vars: str, hosts: str | None = None) -> Path:
    inv = tmp_path / "inv"
    shutil.copytree(REPO / "inventory/examples/single-vm", inv)
    (inv / "group_vars" / "all" if (inv / "group_vars" / "all").is_dir() else inv / "group_vars").mkdir(
        parents=True, exist_ok=True)
    target = inv / "group_vars" / ("all/bomb.yml" if (inv / "group_vars" / "all").is_dir() else "all.yml")
    target.write_text(group_vars)
    if hosts is not None:
        (inv / "hosts.yml").write_text(hosts)
    return inv


@pytest.mark.parametrize("group_vars,why", [
    ("wire_bomb:\n" + "".join("  " + line + "\n" for line in laughs().splitlines()), "aliases are expanded"),
    ("wire_deep: " + "{a: " * 200 + "1" + "}" * 200 + "\n", "nested deeper than"),
])
def test_hostile_inventory_is_one_line_for_values_and_preflight(tmp_path, group_vars, why):
    inv = _inventory(tmp_path, group_vars)
    rc, err, took = values(tmp_path, inv)
    one_line(rc, err, "inventory ", why)
    assert took < 20 and not (tmp_path / "values").exists()
    rc, err, _ = run("preflight", "-i", inv)
    one_line(rc, err, "inventory ", why)


def test_invalid_yaml_inventory_names_the_yaml_error(tmp_path):
    """`values` said "no hosts found" for a YAML syntax error: the line and the problem are what the operator needs."""
    inv = _inventory(tmp_path, "wire_domain: example.com\n", hosts="all:\n  hosts:\n    wire1: {ansible_host: [\n")
    rc, err, _ = values(tmp_path, inv)
    one_line(rc, err, f"inventory {inv / 'hosts.yml'}:4: not valid YAML")


@pytest.mark.parametrize("hosts_ini,where,cause", [
    ("[wire]\nwire1 ansible_host=10.0.0.1 oops\n", 2, "Expected key=value host variable assignment, got: oops"),
])
def test_invalid_ini_inventory_names_file_line_and_cause(tmp_path, hosts_ini, where, cause):
    """`values` said "no hosts found" for an INI inventory Ansible could not parse; pre-flight said only that
    parsing failed. Both now read the inventory through one reader, which names the file, the line and the cause."""
    inv = _inventory(tmp_path, "wire_domain: example.com\n")
    (inv / "hosts.yml").unlink()
    (inv / "hosts.ini").write_text(hosts_ini)
    expected = f"inventory {inv / 'hosts.ini'}:{where}: not a valid INI inventory: {cause}"
    rc, err, _ = values(tmp_path, inv)
    one_line(rc, err, expected)
    assert not (tmp_path / "values").exists()
    rc, err, _ = run("preflight", "-i", inv / "hosts.ini")
    one_line(rc, err, expected)


def test_hostile_settings_file_is_one_line(tmp_path):
    inv = _inventory(tmp_path, "wire_domain: example.com\n")
    settings = tmp_path / "settings.yml"
    settings.write_text("wire_bomb:\n" + "".join("  " + line + "\n" for line in laughs().splitlines()))
    rc, err, took = values(tmp_path, inv, "--settings", settings)
    one_line(rc, err, f"settings file {settings}", "aliases are expanded")
    assert took < 20
