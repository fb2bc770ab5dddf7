"""rpm's databases. The SQLite one (`rpmdb.sqlite`: RHEL/UBI 9, Fedora 33+) is read with Python's sqlite3 from
memory: its `Packages` table holds one rpm header blob per package, whose tags are documented in rpm's
lib/header.c (an index of tag, type, offset, count entries, then a data store). Berkeley DB (`Packages`) and NDB
(`Packages.db`) are named, not read."""

from __future__ import annotations

import sqlite3
import struct

from bundler.sbom.ospkgs import Package

SQLITE_PATHS = ("var/lib/rpm/rpmdb.sqlite", "usr/lib/sysimage/rpm/rpmdb.sqlite")
UNREAD_PATHS = {
    "var/lib/rpm/Packages": "rpm Berkeley DB", "usr/lib/sysimage/rpm/Packages": "rpm Berkeley DB",
    "var/lib/rpm/Packages.db": "rpm NDB", "usr/lib/sysimage/rpm/Packages.db": "rpm NDB",
}
PATHS = (*SQLITE_PATHS, *UNREAD_PATHS)

_NAME, _VERSION, _RELEASE, _EPOCH, _LICENSE, _ARCH, _SOURCERPM = 1000, 1001, 1002, 1003, 1014, 1022, 1044
_INT32, _STRING, _I18NSTRING = 4, 6, 9
_WANTED = {_NAME, _VERSION, _RELEASE, _EPOCH, _LICENSE, _ARCH, _SOURCERPM}


class UnreadableDatabase(ValueError):
    """The bytes are not an rpm database this reader understands."""


def header_tags(blob: bytes) -> dict[int, str | int]:
    """The tags this reader needs from one header blob (the header as rpm stores it, without its magic)."""
    if len(blob) < 8:
        raise UnreadableDatabase("header blob shorter than its counts")
    entries, store_size = struct.unpack_from(">II", blob, 0)
    store = 8 + entries * 16
    if entries > 1 << 16 or store + store_size > len(blob):
        raise UnreadableDatabase("header counts exceed the blob")
    out: dict[int, str | int] = {}
    for i in range(entries):
        tag, kind, offset, count = struct.unpack_from(">IIII", blob, 8 + i * 16)
        if tag not in _WANTED or offset >= store_size:
            continue
        at = store + offset
        if kind in (_STRING, _I18NSTRING):
            end = blob.find(b"\0", at, store + store_size)
            if end >= 0:
                out[tag] = blob[at:end].decode("utf-8", "replace")
        elif kind == _INT32 and count >= 1 and offset + 4 <= store_size:
            out[tag] = struct.unpack_from(">I", blob, at)[0]
    return out


def parse_sqlite(data: bytes) -> list[Package]:
    con = sqlite3.connect(":memory:")
    try:
        try:
            # rpm keeps its database in WAL mode (header bytes 18-19 = 2), which an in-memory copy cannot open:
            # marked as a rollback-journal database it reads the same pages. A WAL file left beside it (rpm
            # checkpoints it when it closes the database) is not read.
            if data[18:20] == b"\x02\x02":
                data = data[:18] + b"\x01\x01" + data[20:]
            con.deserialize(data)
            rows = con.execute("SELECT blob FROM Packages ORDER BY hnum").fetchall()
        except sqlite3.Error as exc:
            raise UnreadableDatabase(f"not an rpm SQLite database ({exc})") from None
    finally:
        con.close()
    out = []
    for (blob,) in rows:
        tags = header_tags(bytes(blob))
        name, version, release = tags.get(_NAME), tags.get(_VERSION), tags.get(_RELEASE)
        if not isinstance(name, str) or not isinstance(version, str) or name == "gpg-pubkey":
            continue  # gpg-pubkey entries are imported keys, not packages
        full = f"{version}-{release}" if isinstance(release, str) else version
        epoch = tags.get(_EPOCH)
        if isinstance(epoch, int) and epoch:
            full = f"{epoch}:{full}"
        source = tags.get(_SOURCERPM)
        source_name = source.rsplit("-", 2)[0] if isinstance(source, str) and source.count("-") >= 2 else None
        arch, lic = tags.get(_ARCH), tags.get(_LICENSE)
        out.append(Package("rpm", name, full, arch if isinstance(arch, str) else None, source_name, None,
                           lic if isinstance(lic, str) else None))
    return out
