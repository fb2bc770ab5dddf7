"""The control stanza of a .deb, read in Python (ar + control.tar.*), so the build host needs no dpkg."""

from __future__ import annotations

import io
import tarfile
from pathlib import Path

import zstandard

from bundler.errors import IntegrityError


def read_control(path: Path) -> str:
    """The text of DEBIAN/control inside the package, as dpkg-deb --field would print it."""
    with open(path, "rb") as f:
        if f.read(8) != b"!<arch>\n":
            raise IntegrityError(f"{path.name}: not a Debian package (no ar header)")
        while True:
            header = f.read(60)
            if len(header) < 60:
                break
            name = header[:16].decode("ascii", "replace").strip().rstrip("/")
            size = int(header[48:58].decode("ascii").strip())
            data = f.read(size)
            if size % 2:
                f.read(1)
            if name.startswith("control.tar"):
                return _control_from_tar(name, data, path)
    raise IntegrityError(f"{path.name}: no control.tar member")


def _control_from_tar(member: str, data: bytes, path: Path) -> str:
    if member.endswith(".zst"):
        data = zstandard.ZstdDecompressor().stream_reader(io.BytesIO(data)).read()
        mode = "r:"
    else:
        mode = "r:*"
    with tarfile.open(fileobj=io.BytesIO(data), mode=mode) as tar:
        for info in tar:
            if info.name in ("./control", "control") and info.isfile():
                extracted = tar.extractfile(info)
                if extracted is not None:
                    return extracted.read().decode("utf-8").strip("\n") + "\n"
    raise IntegrityError(f"{path.name}: control.tar has no control file")
