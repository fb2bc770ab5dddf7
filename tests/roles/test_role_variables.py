"""Every role's variables in three places that must agree: defaults/main.yml (the values), meta/argument_specs.yml
(types, descriptions; Ansible validates them when the role starts) and the README's table (generated from the
spec: `python -m tests.roles.docs` rewrites it)."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
import yaml

from tests.roles.docs import REPO, ROLES, defaults, options, readme_section, table, templated


def test_every_role_is_covered():
    assert len(ROLES) == 13 and all((REPO / "roles" / r / "meta/argument_specs.yml").is_file() for r in ROLES)


@pytest.mark.parametrize("role", ROLES)
def test_spec_holds_every_default_and_the_inputs_defaults_name(role):
    """An input with no default (a secret from the vault) is still named in defaults/main.yml, commented out."""
    opts, values = options(role), defaults(role)
    assert sorted(set(values) - set(opts)) == [], "variables of defaults/main.yml missing from the spec"
    text = (REPO / "roles" / role / "defaults/main.yml").read_text()
    assert sorted(n for n in set(opts) - set(values) if f"# {n}:" not in text) == [], \
        "spec options neither set nor named (commented out) in defaults/main.yml"


@pytest.mark.parametrize("role", ROLES)
def test_spec_default_is_the_roles_default(role):
    opts = options(role)
    for name, value in defaults(role).items():
        if templated(value):
            assert "default" not in opts[name], f"{name}: computed when the role runs; the spec must not pin it"
        else:
            assert opts[name].get("default") == value, name


@pytest.mark.parametrize("role", ROLES)
def test_spec_text_holds_no_template(role):
    """Ansible templates the spec with the task's arguments: an expression in a description would be evaluated
    (and fail where its variables are not defined)."""
    spec = (REPO / "roles" / role / "meta/argument_specs.yml").read_text()
    assert "{{" not in spec and "{%" not in spec


@pytest.mark.parametrize("role", ROLES)
def test_readme_lists_every_variable(role):
    assert readme_section(role) == table(role), f"roles/{role}/README.md: run `python -m tests.roles.docs`"


def _validate(tmp_path, roles: list[str], extra: dict | None = None) -> subprocess.CompletedProcess:
    inv = {"all": {"hosts": {"h1": {"ansible_connection": "local", "ansible_host": "127.0.0.1",
                                    "ansible_python_interpreter": sys.executable}},
                   "children": {g: {"hosts": {"h1": {}}} for g in (
                       "assethost", "cassandra", "cassandra_seed", "elasticsearch", "minio", "rabbitmq",
                       "postgresql", "postgresql_rw", "kube_control_plane", "kube_node", "restund")}}}
    (tmp_path / "inventory.yml").write_text(yaml.safe_dump(inv))
    bindir = os.path.dirname(sys.executable)
    cmd = [f"{bindir}/ansible-playbook", "-i", str(tmp_path / "inventory.yml"), str(REPO / "tests/roles/validate.yml"),
           "--check", "--tags", "validation-only", "-e", json.dumps({"roles_under_test": roles, **(extra or {})})]
    env = {**os.environ, "ANSIBLE_ROLES_PATH": str(REPO / "roles"), "ANSIBLE_NOCOLOR": "1"}
    return subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=300, cwd=REPO)


@pytest.mark.slow
def test_ansible_validates_every_role_against_its_spec(tmp_path):
    r = _validate(tmp_path, ROLES)
    assert r.returncode == 0, r.stdout[-4000:] + r.stderr[-2000:]
    assert r.stdout.count("Validating arguments against arg spec 'main'") == len(ROLES), r.stdout[-4000:]
    # The check is live: a value of the wrong type stops the role before any of its tasks.
    bad = _validate(tmp_path, ["cassandra", "timesync"], {"cassandra_storage_port": "seven thousand"})
    assert bad.returncode != 0 and "cassandra_storage_port" in bad.stdout and "int" in bad.stdout, bad.stdout[-3000:]
