"""dpkg's database: `var/lib/dpkg/status` (one deb822 paragraph per package) and `var/lib/dpkg/status.d/<name>`
(distroless images: one file per package, same fields). Only packages dpkg considers installed count."""

from __future__ import annotations

import re

from bundler.sbom.ospkgs import Package

STATUS = "var/lib/dpkg/status"
STATUS_D = "var/lib/dpkg/status.d/"

_SOURCE = re.compile(r"^(\S+)(?:\s+\((\S+)\))?$")


def paragraphs(text: str) -> list[dict[str, str]]:
    """deb822 paragraphs: 'Field: value' lines, continuation lines start with a space or a tab."""
    out: list[dict[str, str]] = []
    current: dict[str, str] = {}
    last = None
    for line in text.splitlines():
        if not line.strip():
            if current:
                out.append(current)
            current, last = {}, None
        elif line[0] in " \t":
            if last is not None:
                current[last] += "\n" + line[1:]
        elif ":" in line:
            name, _, value = line.partition(":")
            last = name.strip()
            current[last] = value.strip()
    if current:
        out.append(current)
    return out


def installed(status: str) -> bool:
    """'install ok installed': the want, error flag and state; only the state says what is on disk."""
    return status.split()[-1:] == ["installed"]


def parse(data: bytes) -> list[Package]:
    out = []
    for p in paragraphs(data.decode("utf-8", "replace")):
        # status.d entries written by image builders (distroless) often carry no Status field: they are installed.
        if "Package" not in p or "Version" not in p or not installed(p.get("Status", "installed")):
            continue
        source, source_version = p["Package"], None
        if m := _SOURCE.match(p.get("Source", "")):
            source, source_version = m.group(1), m.group(2)
        out.append(Package("dpkg", p["Package"], p["Version"], p.get("Architecture"), source,
                           source_version or p["Version"]))
    return out


def is_status_d_entry(path: str) -> bool:
    """status.d holds `<name>` files and, beside them, `<name>.md5sums` ones."""
    return path.startswith(STATUS_D) and "/" not in path[len(STATUS_D):] and not path.endswith(".md5sums")
