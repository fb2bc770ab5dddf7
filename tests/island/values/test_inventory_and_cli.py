"""Inventories in every form Ansible reads, and the command line: messages, exit codes, no secret printed."""

from __future__ import annotations

import textwrap

import yaml

from tests.island.values.conftest import DOMAIN, PASSWORD
from tests.support.cli import run_cli


def _ini(site) -> str:
    lines = []
    groups: dict[str, list[str]] = {}
    for name, h in site.hosts.items():
        for g in h["groups"]:
            extra = "".join(f" {k}={v}" for k, v in h.items() if k not in ("groups",))
            groups.setdefault(g, []).append(f"{name}{extra}")
    for g, members in groups.items():
        lines += [f"[{g}]", *members, ""]
    return "\n".join(lines)


def test_ini_inventory_with_group_vars_directory(site):
    inv_dir = site.root / "inv"
    (inv_dir / "group_vars" / "all").mkdir(parents=True)
    (inv_dir / "hosts.ini").write_text(_ini(site))
    settings = dict(site.settings, wire_tls_cert_file=str(site.cert), wire_tls_key_file=str(site.key),
                    wire_max_team_size=700)
    (inv_dir / "group_vars" / "all" / "wire.yml").write_text(yaml.safe_dump(settings))
    # A setting scoped to the Kubernetes nodes only: the same for all of them, so accepted.
    (inv_dir / "group_vars" / "kube_node.yml").write_text("wire_cannon_replicas: 2\n")
    from bundler.island.values.run import run

    run(inv_dir, site.out, PASSWORD.encode())
    assert site.values("cassandra-external")["IPs"] == ["192.0.2.31", "192.0.2.32", "192.0.2.33"]
    ws = site.values("wire-server")
    assert ws["brig"]["config"]["optSettings"]["setMaxTeamSize"] == 700
    assert ws["cannon"]["replicaCount"] == 2
    assert site.values("sftd")["replicaCount"] == 2


def test_vaulted_inventory_variable_is_decrypted(site):
    """The operator keeps wire_smtp_password as a !vault value in the inventory; it ends up in the vault file."""
    from ansible.parsing.vault import VaultLib, VaultSecret

    lib = VaultLib([("default", VaultSecret(PASSWORD.encode()))])
    cipher = lib.encrypt(b"vaulted-smtp-password").decode()
    site.write()
    text = site.inventory.read_text().replace(
        "wire_smtp_password: smtp-sekrit-pw",
        "wire_smtp_password: !vault |\n" + textwrap.indent(cipher, "      "))
    assert "!vault" in text
    site.inventory.write_text(text)
    from bundler.island.values.run import run

    run(site.inventory, site.out, PASSWORD.encode())
    assert site.secrets()["releases"]["wire-server"]["brig"]["secrets"]["smtpPassword"] == "vaulted-smtp-password"


def test_cli_writes_files_and_prints_no_secret(site):
    proc = site.run()
    assert "wrote" in proc.stdout and "generated secrets: zauth, minio, turn" in proc.stdout
    sec = site.secrets()
    printed = proc.stdout + proc.stderr
    for value in [*sec["generated"].values(), "smtp-sekrit-pw", site.key.read_text().splitlines()[1]]:
        assert value not in printed
    again = site.run()
    assert "secrets kept from the existing vault file" in again.stdout
    assert "wrote" not in again.stdout


def test_cli_error_is_one_line_naming_the_key(site):
    site.write(wire_cannon_drain={"min_batch_size": 0})
    proc = site.run(check=False)
    assert proc.returncode == 1
    errors = [ln for ln in proc.stderr.splitlines() if ln.startswith("error:")]
    assert errors == ["error: wire_cannon_drain.min_batch_size: 0 is out of range; must be at least 1"]
    assert "Traceback" not in proc.stderr
    assert not site.out.exists()


def test_cli_missing_inventory(site):
    site.inventory.unlink()
    proc = site.run(check=False)
    assert proc.returncode == 1 and "error: inventory" in proc.stderr and "no such file" in proc.stderr


def test_cli_vault_password_from_environment(site):

    from tests.island.values.conftest import ROOT

    env = {"ANSIBLE_VAULT_PASSWORD_FILE": str(site.password_file), "PYTHONPATH": str(ROOT)}
    proc = run_cli("values", "-i", site.inventory, "-o", site.out, env=env, cwd=ROOT, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert site.secrets()["generated"]["turn_secret"]
    env.pop("ANSIBLE_VAULT_PASSWORD_FILE")
    proc = run_cli("values", "-i", site.inventory, "-o", site.root / "other", env=env, cwd=ROOT, timeout=120,
                   unset=["ANSIBLE_VAULT_PASSWORD_FILE"])
    assert proc.returncode == 1 and "error: vault password: none given" in proc.stderr


def test_cli_help_teaches():
    from tests.island.values.conftest import ROOT

    proc = run_cli("values", "--help", cwd=ROOT, timeout=60)
    assert proc.returncode == 0
    for word in ("wire_domain", "--rotate", "secrets.vault.yaml", "wire.com/role=sftd", "--check-charts"):
        assert word in proc.stdout
    top = run_cli("--help", cwd=ROOT, timeout=60)
    assert "values" in top.stdout


def test_domain_in_values(site):
    site.generate()
    assert site.values("wire-server")["nginz"]["nginx_conf"]["external_env_domain"] == DOMAIN


def test_docs_example_inventory_works(tmp_path):
    """The example in docs/values.md, with its !vault value replaced by a plain one, generates values."""
    import re

    from bundler.island.values.run import run
    from tests.island.values.conftest import ROOT, make_cert

    text = (ROOT / "docs" / "values.md").read_text()
    block = "#" + text.split("```yaml\n# inventory/prod/hosts.yml")[1].split("```")[0]
    block = re.sub(r"wire_smtp_password: !vault \|\n(      .*\n)+", "wire_smtp_password: pw\n", block)
    inv = tmp_path / "inventory" / "prod"
    inv.mkdir(parents=True)
    (tmp_path / "inventory" / "certs").mkdir()
    (inv / "hosts.yml").write_text(block)
    make_cert(tmp_path / "inventory" / "certs", ["*.wire.example.org"])
    result = run(inv, tmp_path / "out", PASSWORD.encode())
    assert "sftd" in result.releases
    ws = yaml.safe_load((tmp_path / "out" / "wire-server.yaml").read_text())
    assert ws["brig"]["config"]["optSettings"]["setMaxTeamSize"] == 800
    assert ws["brig"]["config"]["proxy"]["httpProxy"] == "http://proxy.example.org:3128"


def test_vaulted_inventory_value_with_another_password(site):
    import pytest
    from ansible.parsing.vault import VaultLib, VaultSecret

    from bundler.island.values.errors import ValuesError
    from bundler.island.values.run import run

    cipher = VaultLib([("default", VaultSecret(b"someone else's password"))]).encrypt(b"x").decode()
    site.write()
    site.inventory.write_text(site.inventory.read_text().replace(
        "wire_smtp_password: smtp-sekrit-pw", "wire_smtp_password: !vault |\n" + textwrap.indent(cipher, "      ")))
    with pytest.raises(ValuesError, match=r"^inventory .*inventory.yml: Decryption failed"):
        run(site.inventory, site.out, PASSWORD.encode())
    assert not site.out.exists()
