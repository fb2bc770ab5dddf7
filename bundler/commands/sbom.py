"""`wire-bundle sbom`: the bundle's SBOM (sbom.cdx.json), read from the archive's head or an unpacked bundle,
offline, checked against checksums.sha256 before it is shown."""

from __future__ import annotations

import hashlib
import json
import sys
from pathlib import Path
from typing import Any

import click

from bundler.bundle.mediatypes import BUNDLE_JSON, CHECKSUMS
from bundler.errors import BundleError, IntegrityError
from bundler.kinds.images.reference import InvalidReference, parse_reference
from bundler.sbom.names import MEMBER, PROP, component_counts, iter_components

SBOM_MAX = 256 << 20  # tens of MiB for a bundle of hundreds of images with their OS packages


def read_sbom(source: Path) -> tuple[str, dict[str, Any]]:
    """The SBOM document of an archive (its first members) or of a directory it was unpacked into, after its
    sha256 matched the one checksums.sha256 lists (which `verify` checks against the signature)."""
    from bundler.bundle.archive import loads_member, parse_checksums

    if source.is_dir():
        try:
            listed = parse_checksums((source / CHECKSUMS).read_bytes())
            data = (source / MEMBER).read_bytes()
        except FileNotFoundError as exc:
            raise BundleError(f"{source}: no {Path(exc.filename).name}: not an unpacked bundle with an SBOM") from None
    else:
        listed, data = _from_archive(source)
    if MEMBER not in listed:
        raise IntegrityError(f"{source}: {CHECKSUMS} does not list {MEMBER}")
    if hashlib.sha256(data).hexdigest() != listed[MEMBER]:
        raise IntegrityError(f"{source}: {MEMBER} does not match its sha256 in {CHECKSUMS}: do not trust it")
    document = loads_member(data, lambda cause: IntegrityError(f"{source}: {MEMBER}: {cause}"))
    if not isinstance(document, dict) or document.get("bomFormat") != "CycloneDX":
        raise IntegrityError(f"{source}: {MEMBER}: not a CycloneDX document")
    return data.decode("utf-8", "replace"), document


def _from_archive(path: Path) -> tuple[dict[str, str], bytes]:
    from bundler.bundle.archive import CHECKSUMS_MAX, iter_members, parse_checksums, read_member

    listed: dict[str, str] | None = None
    for n, member in enumerate(iter_members(path)):
        if n == 0 and member.name != BUNDLE_JSON:
            raise IntegrityError(f"{path}: first member is {member.name!r}, not {BUNDLE_JSON}: not a wire-bundle")
        if member.name == CHECKSUMS:
            listed = parse_checksums(read_member(path, member, CHECKSUMS_MAX))
        elif member.name == MEMBER and listed is not None:
            return listed, read_member(path, member, SBOM_MAX)
        elif n >= 2:
            break
    raise BundleError(f"{path}: no {MEMBER} after {CHECKSUMS}: built by a wire-bundle that wrote no SBOM")


def select_image(document: dict[str, Any], ref: str) -> dict[str, Any]:
    """The document cut down to one image (its platforms and OS packages), still a CycloneDX document."""
    try:
        wanted = str(parse_reference(ref))
    except InvalidReference as exc:
        raise BundleError(f"--image {ref}: {exc}") from None
    for c in document.get("components") or []:
        if c.get("bom-ref") == f"image:{wanted}":
            refs = {x.get("bom-ref") for x, _ in iter_components([c])}
            deps = [d for d in document.get("dependencies") or [] if d.get("ref") in refs]
            return {**document, "components": [c], "dependencies": deps}
    images = sorted(str(c["bom-ref"]).removeprefix("image:") for c in document.get("components") or []
                    if str(c.get("bom-ref", "")).startswith("image:"))
    raise BundleError(f"--image {ref}: the bundle has no image {wanted} (it has {len(images)}: "
                      f"{', '.join(images[:5])}{', ...' if len(images) > 5 else ''})")


def _prop(c: dict[str, Any], name: str) -> str:
    return next((p["value"] for p in c.get("properties") or [] if p.get("name") == PROP + name), "")


def _table(document: dict[str, Any], one_image: bool) -> None:
    from rich.console import Console
    from rich.table import Table
    from rich.text import Text

    console = Console(width=None if sys.stdout.isatty() else 200)
    if one_image:
        table = Table(title="OS packages", title_justify="left")
        for col in ("image", "package", "version", "purl", "layer"):
            table.add_column(col, overflow="fold")
        for c, parent in iter_components(document["components"]):
            if c.get("type") == "container":
                console.print(f"{c.get('bom-ref')}: os {_prop(c, 'os') or '-'}, package databases "
                              f"{_prop(c, 'package-databases') or '-'}")
            elif c.get("type") == "library" and parent:
                table.add_row(*(Text(str(x)) for x in (str(parent).removeprefix("image:"), c.get("name"),
                                                       c.get("version"), c.get("purl", ""), _prop(c, "layer")[:19])))
        console.print(table)
    else:
        table = Table(title="Components", title_justify="left")
        for col in ("kind", "name", "version", "os", "os packages"):
            table.add_column(col, overflow="fold")
        for c in document.get("components") or []:
            kind = str(c.get("bom-ref", "")).split(":", 1)[0]
            nested = [x for x, _ in iter_components(c.get("components") or [])]
            oses = sorted({_prop(x, "os") for x in [c, *nested] if _prop(x, "os")})
            pkgs = sum(1 for x in nested if x.get("type") == "library")
            table.add_row(*(Text(str(x)) for x in (kind, c.get("name"), c.get("version", ""), ", ".join(oses),
                                                   pkgs if kind == "image" else "")))
        console.print(table)
    counts = component_counts(document)
    console.print("components: " + ", ".join(f"{k}: {n}" for k, n in sorted(counts.items())))


@click.command()
@click.argument("archive", type=click.Path(exists=True, path_type=Path))
@click.option("--format", "fmt", type=click.Choice(["cyclonedx-json", "table"]), default="cyclonedx-json",
              show_default=True, help="The CycloneDX 1.6 JSON document, or a table for people.")
@click.option("--image", "image", metavar="REF", default=None,
              help="Only this image (its platforms and OS packages), by the reference the bundle names it by.")
def sbom(archive: Path, fmt: str, image: str | None) -> None:
    """Print the SBOM of ARCHIVE (or of the directory it was unpacked into), offline.

    \b
    The SBOM (sbom.cdx.json, CycloneDX 1.6) lists every artifact of the bundle with its sha256 and package URL,
    and the OS packages inside every image with the layer each came from. It is read from the archive's first
    members and checked against checksums.sha256; `wire-bundle verify` checks that file's signature.

    \b
    Examples:
      wire-bundle sbom wire.tar.zst > wire.cdx.json        # for Dependency-Track, Grype, Trivy
      wire-bundle sbom wire.tar.zst --format table --image quay.io/wire/brig:5.29.0
    """
    raw, document = read_sbom(archive)
    try:
        if image is not None:
            document = select_image(document, image)
        if fmt == "table":
            _table(document, image is not None)
        elif image is None:
            click.echo(raw, nl=False)  # the member's own bytes: its sha256 is the one checksums.sha256 lists
        else:
            click.echo(json.dumps(document, indent=1))
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        # Checked against checksums.sha256, not yet against the signature: its shape is not trusted.
        raise IntegrityError(f"{archive}: {MEMBER}: not the shape this tool writes "
                             f"({type(exc).__name__}: {str(exc)[:120]})") from None
