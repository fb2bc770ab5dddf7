"""apk's database, `lib/apk/db/installed`: blank-line separated records of 'K:value' lines (P name, V version,
A arch, o origin, L license)."""

from __future__ import annotations

from bundler.sbom.ospkgs import Package

INSTALLED = "lib/apk/db/installed"


def parse(data: bytes) -> list[Package]:
    out = []
    for record in data.decode("utf-8", "replace").split("\n\n"):
        fields: dict[str, str] = {}
        for line in record.splitlines():
            if len(line) >= 2 and line[1] == ":" and line[0] not in fields:
                fields[line[0]] = line[2:]
        if "P" in fields and "V" in fields:
            out.append(Package("apk", fields["P"], fields["V"], fields.get("A"), fields.get("o"), fields["V"],
                               fields.get("L")))
    return out
