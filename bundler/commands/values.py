"""`wire-bundle values`: Helm values for every Wire release and an encrypted secrets file, from the inventory."""

from __future__ import annotations

from pathlib import Path

import click

HELP = """Write the Helm values of every Wire release, and their secrets (ansible-vault encrypted), from INVENTORY.

\b
The inventory's groups give the hosts: cassandra, elasticsearch, minio, rabbitmq and postgresql
(postgresql_rw/_ro) IPs go to the *-external charts, restund to brig's TURN list, sft to sftd (node selector
wire.com/role=sftd, one replica per node). The operator's choices are `wire_*` variables in group_vars/all
(or --settings FILE, which wins): wire_domain, wire_tls_cert_file/wire_tls_key_file (wildcard), wire_smtp,
wire_push (wire | aws | websocket), wire_http_proxy/wire_https_proxy, wire_cannon_drain,
wire_nginz_ignored_upstreams/_extra_upstreams, wire_websocket_lb, wire_s3_backend/wire_s3_addressing_style,
wire_max_team_size, wire_federation_enabled/wire_federation_ca_file, ... (docs/values.md).
Inconsistent settings stop with an error naming the key; nothing is written then.

\b
Files in DIR: one <release>.yaml per release, releases.yaml (install order, chart, values and secrets key),
and secrets.vault.yaml holding the generated zauth key pair, MinIO keys, TURN secret, RabbitMQ and
PostgreSQL passwords and nginz basic-auth entry, plus the operator's secrets. Secrets are made once and kept
on every re-run; --rotate zauth|minio|turn|rabbitmq|postgresql|nginz|all makes them anew. No secret is ever
printed. With --check-charts, each release is rendered with real helm and checked; every failure is reported.

\b
Examples:
  wire-bundle values -i inventory/prod -o values/ --vault-password-file ~/.vault-pass
  ANSIBLE_VAULT_PASSWORD_FILE=~/.vault-pass wire-bundle values -i prod.yml --settings overrides.yml
  wire-bundle values -i prod.yml --rotate turn --vault-password-file ~/.vault-pass
  wire-bundle values -i prod.yml --check-charts /srv/wire-bundle/charts --images /srv/wire-bundle/bundle.json
  wire-bundle values -i prod.yml --check-charts https://charts.example.org/wire
"""


@click.command(help=HELP)
@click.option("-i", "--inventory", required=True, type=click.Path(path_type=Path),
              help="Ansible inventory: YAML or INI file, or a directory with group_vars.")
@click.option("-o", "--output", "out_dir", type=click.Path(path_type=Path, file_okay=False), default=Path("values"),
              show_default=True, help="Directory for the values files and secrets.vault.yaml.")
@click.option("--settings", "settings_file", type=click.Path(path_type=Path, dir_okay=False),
              help="YAML file of wire_* settings; overrides the inventory's.")
@click.option("--vault-password-file", type=click.Path(path_type=Path, dir_okay=False),
              help="File holding the vault password (default: $ANSIBLE_VAULT_PASSWORD_FILE).")
@click.option("--rotate", multiple=True, metavar="zauth|minio|turn|rabbitmq|postgresql|nginz|all",
              help="Make this generated secret anew (repeatable); without it secrets are kept.")
@click.option("--check-charts", metavar="DIR|URL",
              help="The charts to render each release with (real helm) and check: the bundle's charts/ directory "
                   "(NAME-VERSION.tgz) or the bundle's root, a directory of unpacked charts, or an http(s) chart "
                   "repository URL. Every failure is reported.")
@click.option("--images", "images_file", type=click.Path(path_type=Path, dir_okay=False, exists=True),
              help="With --check-charts: the images every rendered image must be among: a list (one reference "
                   "a line) or the bundle's bundle.json.")
def values(inventory: Path, out_dir: Path, settings_file: Path | None, vault_password_file: Path | None,
           rotate: tuple[str, ...], check_charts: str | None, images_file: Path | None) -> None:
    from bundler.island.values.errors import ValuesError
    from bundler.island.values.run import run
    from bundler.island.values.vault import read_password

    if images_file and not check_charts:
        raise ValuesError("--images: only with --check-charts")
    password = read_password(vault_password_file)
    result = run(inventory, out_dir, password, settings_file, set(rotate))
    for name in result.written:
        click.echo(f"wrote {out_dir / name}")
    if result.unchanged:
        click.echo(f"unchanged: {', '.join(result.unchanged)}")
    if result.generated_now:
        click.echo(f"generated secrets: {', '.join(result.generated_now)} (stored only in the vault file)")
    else:
        click.echo("secrets kept from the existing vault file")
    if check_charts:
        from bundler.island.values.check import check_dir

        for line in check_dir(out_dir, check_charts, password, images_file):
            click.echo(line)
