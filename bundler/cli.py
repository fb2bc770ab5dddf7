"""The `wire-bundle` command line.

Each subcommand lives in the module that does its job; this group only loads them when asked, so
`wire-bundle --help` stays fast and a module's import cost is paid only by its own command.
"""

from __future__ import annotations

import gc
import importlib
import os
import sys

import click

from bundler import __version__
from bundler.errors import BundleError

# Records are checked by this package's models alone: a pydantic plugin installed beside it (entry-point group
# "pydantic") would see and could change every validation. Looking for one also cost each command 9 ms (every
# installed distribution's metadata read).
os.environ["PYDANTIC_DISABLE_PLUGINS"] = "__all__"

# name -> "module:attribute". One line per command; keep sorted by workflow stage.
COMMANDS: dict[str, str] = {
    "images": "bundler.commands.images:images",
    "lock": "bundler.commands.lock:lock",
    "build": "bundler.commands.build:build",
    "verify": "bundler.commands.verify:verify",
    "inspect": "bundler.commands.inspect:inspect",
    "unpack": "bundler.commands.unpack:unpack",
    "diff": "bundler.commands.diff:diff",
    "sbom": "bundler.commands.sbom:sbom",
    "plan": "bundler.commands.plan:plan",
    "preflight": "bundler.commands.preflight:preflight",
    "values": "bundler.commands.values:values",
    "lab": "bundler.commands.lab:lab",
    "deploy": "bundler.commands.deploy:deploy",
    "prune": "bundler.commands.prune:prune",
}


class LazyGroup(click.Group):
    def list_commands(self, ctx: click.Context) -> list[str]:
        return list(COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        target = COMMANDS.get(cmd_name)
        if target is None:
            return None
        module_name, attr = target.split(":")
        return getattr(importlib.import_module(module_name), attr)


HELP = """Build, carry and install the Wire backend on air-gapped ("island") networks.

\b
On the connected host:
  wire-bundle images SPEC --why   every image the bundle will hold, and which chart wants it
  wire-bundle lock  SPEC          resolve every tag to a digest (SPEC.lock.json)
  wire-bundle build SPEC -o FILE  fetch everything into one verified archive
On the island:
  wire-bundle verify FILE         every member, digest and the signature, offline
  wire-bundle unpack FILE --to D  verify while extracting, all or nothing
  wire-bundle inspect FILE        what is inside, and what deduplication saved
  wire-bundle diff OLD NEW        what an upgrade changes; `build --base OLD` carries only that
  wire-bundle sbom FILE           the CycloneDX SBOM: every artifact, the OS packages in every image
  wire-bundle plan -p 50 -c 4     SFT nodes and call bandwidth for a planned load
  wire-bundle preflight -i INV    every VM checked against the sizing table (exit 0/3/4)
  wire-bundle values -i INV -o DIR Helm values + vault-encrypted secrets for every release
  wire-bundle deploy -i INV       bootstrap the island (asset host, apt, registry mirrors, time)
  wire-bundle prune -i INV        after an upgrade: stop serving the previous release (never a deployed one's)
Testing:
  wire-bundle lab up LAB.yaml     simulated offline VMs (systemd-nspawn) + Ansible inventory
"""


@click.group(cls=LazyGroup, help=HELP, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="wire-bundle")
def cli() -> None:
    pass


def main(argv: list[str] | None = None) -> None:
    try:
        # Commands that need a specific exit code (pre-flight: 3 fail, 4 warnings) call ctx.exit(N).
        rv = cli.main(args=argv, prog_name="wire-bundle", standalone_mode=False)
    except BundleError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(exc.exit_code)
    except click.exceptions.Abort:
        click.echo("error: interrupted", err=True)
        sys.exit(130)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except KeyboardInterrupt:
        click.echo("error: interrupted; partial downloads are kept and resume on the next run", err=True)
        sys.exit(130)
    finally:
        if argv is None:
            # The process ran its one command and exits now. Its final garbage collections would walk every object
            # still alive (pydantic's schemas, the lock, the manifests): 40-50 ms a run, a tenth of a small
            # delta's build. Frozen, they are skipped. A caller that passes argv (a test) goes on collecting.
            gc.freeze()
    sys.exit(rv if isinstance(rv, int) else 0)


if __name__ == "__main__":
    main()
