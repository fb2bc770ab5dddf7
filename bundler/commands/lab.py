"""`wire-bundle lab`: bring simulated island VMs up and down."""

from __future__ import annotations

import os
from pathlib import Path

import click

# bundler.lab (the package loads all of it) is imported by each subcommand when it runs: `wire-bundle --help`
# loads this module too.

HELP = """Simulated air-gapped Debian VMs (systemd-nspawn) for role and end-to-end tests. Needs root.

\b
Each host is an overlay on a cached debootstrap base (built once per suite and
package set), boots systemd in its own network namespace, and is joined to a
private bridge with a /24 no other lab or interface uses. Hosts reach each other
and the machine's bridge address, nothing else: no route, no DNS, no mirror.

\b
  wire-bundle lab up lab.yaml            boot the hosts, write the Ansible inventory
  wire-bundle lab status                 list labs, hosts, addresses
  wire-bundle lab ssh demo asset         a root shell on host `asset` of lab `demo`
  wire-bundle lab down demo              remove everything the lab created
  wire-bundle lab cache [--prune]        cached base roots; drop the unused ones

\b
A spec file:
  name: demo
  hosts:
    asset: {groups: [assethost], packages: [nginx]}
    kube1: {groups: [k8s], memory: 2G, cpus: 1}
"""


@click.group(help=HELP)
def lab() -> None:
    pass


@lab.command("up")
@click.argument("spec", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--name", help="Lab name (default: `name:` in SPEC). Unique on this machine.")
@click.option("--workdir", type=click.Path(file_okay=False, path_type=Path),
              help="Where overlays, SSH keys, logs and the inventory go (default: under the lab home).")
@click.option("--cache-dir", type=click.Path(file_okay=False, path_type=Path),
              help="Where cached base roots live (default /var/cache/wire-bundle/lab).")
@click.option("--suite", help="Debian suite of the base (default: bookworm, or `suite:` in SPEC).")
@click.option("--mirror", help="Debian archive URL for building a base (default: this machine's apt source).")
@click.option("--inventory", "inventory_copy", type=click.Path(dir_okay=False, path_type=Path),
              help="Also copy the Ansible inventory to this path.")
def up(spec: Path, name: str | None, workdir: Path | None, cache_dir: Path | None, suite: str | None,
       mirror: str | None, inventory_copy: Path | None) -> None:
    """Boot the hosts of SPEC (a YAML lab spec) and write an Ansible inventory.

    A second `up` of a running lab with the same hosts reuses it; with other hosts it is refused. A lab
    whose hosts are all gone (crash, reboot) is cleaned up and brought up again.
    """
    from bundler.lab.errors import LabError
    from bundler.lab.lab import Lab
    from bundler.lab.spec import load_spec
    from bundler.lab.state import read_state
    from bundler.lab.sysrun import require_root_and_tools

    require_root_and_tools()
    f = load_spec(spec)
    lab_name = name or f.name
    if not lab_name:
        raise LabError(f"lab spec {spec}: no lab name; add `name:` to the file or pass --name")
    lab_obj = Lab(lab_name, f.hosts, workdir, suite=suite or f.suite, cache_dir=cache_dir, mirror=mirror,
                  log=lambda m: click.echo(m, err=True))
    lab_obj.up()
    if inventory_copy:
        inventory_copy.parent.mkdir(parents=True, exist_ok=True)
        inventory_copy.write_text(lab_obj.inventory_path.read_text())
    st = read_state(lab_name)
    if st is None:
        raise LabError(f"lab {lab_name}: no state after `up`; another process took it down")
    _print_lab(st)
    click.echo(f"inventory: {lab_obj.inventory_path}")


@lab.command("down")
@click.argument("names", nargs=-1)
@click.option("--all", "all_labs", is_flag=True, help="Tear down every lab on this machine.")
@click.option("--missing-ok", is_flag=True, help="A lab that does not exist is not an error (for cleanup scripts).")
def down(names: tuple[str, ...], all_labs: bool, missing_ok: bool) -> None:
    """Remove processes, mounts, namespaces, links, firewall rules, cgroups and files of lab(s) NAMES.

    Works from the lab's state file, so it also cleans up after a crashed or killed `up`.
    """
    from bundler.lab.errors import LabError
    from bundler.lab.lab import Lab
    from bundler.lab.spec import check_lab_name
    from bundler.lab.state import all_states, read_state

    targets = [s["name"] for s in all_states()] if all_labs else list(names)
    if not targets:
        raise LabError("name a lab to tear down, or pass --all (`wire-bundle lab status` lists labs)")
    for n in targets:
        if missing_ok and read_state(check_lab_name(n)) is None:
            click.echo(f"lab {n}: not there, nothing to do", err=True)
            continue
        Lab.attach(n, log=lambda m: click.echo(m, err=True)).down()


@lab.command("status")
@click.argument("name", required=False)
def status(name: str | None) -> None:
    """List labs (or one lab) with subnet, hosts, addresses and whether each host runs."""
    from bundler.lab.errors import LabError
    from bundler.lab.spec import check_lab_name
    from bundler.lab.state import all_states, read_state

    if name:
        one = read_state(check_lab_name(name))
        if one is None:
            raise LabError(f"no lab named {name!r} on this machine")
        states = [one]
    else:
        states = all_states()
    if not states:
        click.echo("no labs")
    for st in states:
        _print_lab(st)


@lab.command("ssh", context_settings={"ignore_unknown_options": True})
@click.argument("name")
@click.argument("host")
@click.argument("command", nargs=-1, type=click.UNPROCESSED)
def ssh(name: str, host: str, command: tuple[str, ...]) -> None:
    """Open a root shell on HOST of lab NAME, or run COMMAND there (`-- cmd args` for options)."""
    from bundler.lab.lab import Lab

    cmd = Lab.attach(name).ssh_command(host, " ".join(command) if command else None)
    if not command:
        cmd.insert(1, "-t")
    os.execvp(cmd[0], cmd)


@lab.command("cache")
@click.option("--cache-dir", type=click.Path(file_okay=False, path_type=Path),
              help="Cache to look at (default /var/cache/wire-bundle/lab).")
@click.option("--prune", is_flag=True, help="Delete the bases no lab on this machine uses.")
def cache(cache_dir: Path | None, prune: bool) -> None:
    """List the cached base roots (one per suite + package set), and which labs use them."""
    from bundler.lab import base
    from bundler.lab.config import defaults
    from bundler.lab.state import all_states

    cache_dir = cache_dir or defaults().cache_dir
    used: dict[str, set[str]] = {}
    for st in all_states():
        for h in st["hosts"]:
            used.setdefault(Path(h["base"]).parent.name, set()).add(st["name"])
    bases = base.cached_bases(cache_dir)
    if not bases:
        click.echo(f"no cached bases in {cache_dir}")
    for b in bases:
        users = ", ".join(sorted(used.get(b["key"], ()))) or "-"
        extra = sorted(set(b["packages"]))
        click.echo(f"{b['key']}  {b['size'] / 2**20:7.1f} MiB  used by: {users}  packages: {' '.join(extra)}")
        if prune and b["key"] not in used:
            if base.remove_base(cache_dir, b["key"]):
                click.echo(f"  removed {b['key']}")
            else:
                click.echo(f"  kept {b['key']}: a lab is being built from it right now")


def _print_lab(st: dict) -> None:
    from bundler.lab import machine
    from bundler.lab.lab import leftovers

    left = "" if st.get("status") == "running" else f" ({st.get('status')})"
    click.echo(f"lab {st['name']}{left}: subnet {st['subnet']}, bridge {st['bridge']} "
               f"{st['bridge_address']}, workdir {st['workdir']}")
    for h in st["hosts"]:
        running = "running" if machine.is_our_nspawn(h.get("pid"), Path(h["root"])) else "stopped"
        groups = ",".join(h["groups"]) or "-"
        click.echo(f"  {h['name']:<16} {h['address']:<15} {running:<8} groups={groups}")
    if st.get("status") != "running" and not any(
            machine.is_our_nspawn(h.get("pid"), Path(h["root"])) for h in st["hosts"]):
        n = len(leftovers(st))
        click.echo(f"  stale: {n} leftover item(s); `wire-bundle lab down {st['name']}` removes them")
