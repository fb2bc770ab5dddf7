"""bundle.json's `kinds.files`: each pinned file, with the checksum its publisher gives."""

from __future__ import annotations

from pydantic import StrictInt, StrictStr

from bundler.bundle.lock import Record


class FileSummary(Record):
    path: StrictStr  # under files/ in the archive
    url: StrictStr
    size: StrictInt
    sha256: StrictStr  # hex
    sha512: StrictStr | None = None  # present when the publisher pins the file by sha512
