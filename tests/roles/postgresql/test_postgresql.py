"""The PostgreSQL role's molecule scenario on the island lab, against Debian bookworm's real PostgreSQL 15 and
repmgr served from a test bundle: converge, idempotence, verify (a row written on the primary read on every
standby, `repmgr cluster show`), then the failover side effect (the primary's VM powered off, the standby of
highest priority promoted, the old primary kept down by the guard and rejoined by a re-run; rows written before,
during and after all on every node) and verify again. Nothing here is a stand-in.
"""

from __future__ import annotations

import os
import re
import textwrap

import pytest

from tests.roles.postgresql.island import postgresql_bundle
from tests.support.molecule import assert_stages, island_vars_file, molecule_test

pytestmark = [pytest.mark.lab, pytest.mark.slow]


@pytest.fixture(scope="module")
def vars_file(tmp_path_factory):
    yield from island_vars_file(tmp_path_factory, "postgresql-molecule", postgresql_bundle)


@pytest.mark.timeout(2700)
def test_molecule_scenario_with_failover(vars_file):
    work = vars_file.parent
    vault_pass = work / "vault-pass"
    vault_pass.write_text("test vault password\n")
    vault_pass.chmod(0o600)
    vault_file = work / "postgresql.vault.yml"
    out = molecule_test("postgresql", lab_name=f"m-postgres-{os.getpid() % 10000}", timeout=2400, work=work,
                        vars_file=vars_file, env={"ANSIBLE_VAULT_PASSWORD_FILE": str(vault_pass),
                                                  "WIRE_TEST_POSTGRESQL_VAULT_FILE": str(vault_file)})
    assert_stages(out, ("create", "prepare", "converge", "idempotence", "verify", "side_effect", "destroy"))
    # The generated passwords went into the vault file only: encrypted there, never in the output.
    text = vault_file.read_text()
    assert text.count("!vault |") == 2 and text.count("$ANSIBLE_VAULT;1.1;AES256") == 2
    from ansible.parsing.vault import VaultLib, VaultSecret  # noqa: PLC0415 (ansible is heavy; only here)

    vault = VaultLib([("default", VaultSecret(vault_pass.read_bytes().strip()))])
    blocks = dict(re.findall(r"^(\w+): !vault \|\n((?:  .*\n?)+)", text, re.M))
    assert sorted(blocks) == ["postgresql_repmgr_password", "postgresql_wire_password"]
    passwords = [vault.decrypt(textwrap.dedent(b)).decode() for b in blocks.values()]
    assert all(len(p) == 32 for p in passwords) and passwords[0] != passwords[1]
    assert not any(p in out for p in passwords)
