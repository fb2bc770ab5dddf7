"""An archive split into numbered parts for transfer media (FAT32's 4 GiB files, a Blu-ray), read without joining.

`NAME.tar.zst.part001`, `.part002`, ... are the archive's bytes in order (`cat` joins them into the plain
archive) and `NAME.tar.zst.parts.json` lists each part's size and sha256 and the whole archive's sha256 and
content digest. verify and unpack take the manifest and read the parts one after the other as one stream: no
joined copy is ever written. Every part is checked for presence and size before the first byte is read, each
part's sha256 when its last byte has been read, and the whole archive's sha256 at the end; a part whose bytes
are another part's (reordered), or none of this build's (damaged, or from another build), is named.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from pathlib import Path
from typing import BinaryIO

from bundler.bundle.tarstream import CHUNK
from bundler.errors import BundleError, IntegrityError

PARTS_SUFFIX = ".parts.json"
PARTS_FORMAT = "wire-bundle-parts/1"
MANIFEST_MAX = 1 << 20
MIN_PART = 1 << 20  # smaller parts are a typo ("4" for "4G"), not a medium
_UNITS = {"": 1, "K": 1 << 10, "M": 1 << 20, "G": 1 << 30, "T": 1 << 40}


def parse_size(text: str) -> int:
    """'4G', '25G', '700M', '4096K' or plain bytes (binary units); at least 1 MiB."""
    m = re.fullmatch(r"\s*(\d{1,15})\s*([KMGT]?)(?:i?B)?\s*", text, re.IGNORECASE)
    if not m:
        raise BundleError(f"--split {text[:40]!r}: not a size (examples: 4G, 25G, 700M)")
    size = int(m.group(1)) * _UNITS[m.group(2).upper()]
    if size < MIN_PART:
        raise BundleError(f"--split {text[:40]!r}: parts must be at least 1M")
    return size


def part_name(archive: Path, n: int) -> str:
    return f"{archive.name}.part{n:03d}"


def manifest_path(archive: Path) -> Path:
    return archive.with_name(archive.name + PARTS_SUFFIX)


def split_archive(archive: Path, part_size: int, file_sha256: str, content: str) -> Path:
    """Cut `archive` into parts beside it, last part first, each time truncating the archive to what is left:
    at no time does the disk hold more than the archive and one part. Returns the manifest's path."""
    total = archive.stat().st_size
    count = max(1, -(-total // part_size))
    if count > 999:
        raise BundleError(f"--split: {count} parts of {part_size} bytes; at most 999 (choose a larger size)")
    parts: list[dict] = [{}] * count
    manifest = manifest_path(archive)
    manifest.unlink(missing_ok=True)
    with open(archive, "r+b") as f:
        for n in range(count, 0, -1):
            start = (n - 1) * part_size
            dest = archive.with_name(part_name(archive, n))
            if n == 1:
                f.seek(0)
                first = _hash_stream(f, total if count == 1 else part_size)
                parts[0] = {"name": dest.name, "size": min(total, part_size), "sha256": first}
                break
            f.seek(start)
            size = total - start if n == count else part_size
            h = hashlib.sha256()
            with open(dest, "wb") as out:
                left = size
                while left:
                    chunk = f.read(min(CHUNK, left))
                    h.update(chunk)
                    out.write(chunk)
                    left -= len(chunk)
                out.flush()
                os.fsync(out.fileno())
            f.truncate(start)
            parts[n - 1] = {"name": dest.name, "size": size, "sha256": h.hexdigest()}
    os.replace(archive, archive.with_name(part_name(archive, 1)))
    data = {"format": PARTS_FORMAT, "archive": archive.name, "size": total, "sha256": file_sha256,
            "content_digest": content, "part_size": part_size, "parts": parts}
    tmp = manifest.with_name(manifest.name + ".partial")
    tmp.write_text(json.dumps(data, indent=1) + "\n")
    os.replace(tmp, manifest)
    return manifest


def _hash_stream(f, size: int) -> str:
    h = hashlib.sha256()
    left = size
    while left and (chunk := f.read(min(CHUNK, left))):
        h.update(chunk)
        left -= len(chunk)
    return h.hexdigest()


def is_parts_manifest(path: Path) -> bool:
    return path.name.endswith(PARTS_SUFFIX)


def stream_size(path: Path) -> int:
    """The bytes a reader of `path` reads: the joined size for a parts manifest (progress), else the file's."""
    if is_parts_manifest(path):
        return _load_manifest(path)["size"] if isinstance(_load_manifest(path).get("size"), int) else 0
    return path.stat().st_size


class PartsReader:
    """The parts as one read-only file: `read(n)` goes on from one part to the next.

    `explain()`, called after the stream above failed, finishes hashing the part being read and says which part
    is at fault, if any."""

    def __init__(self, manifest: Path):
        self.manifest = manifest
        self.parts = _load_manifest(manifest)
        self.dir = manifest.parent
        self.total = hashlib.sha256()
        self.index = -1
        self.file: BinaryIO | None = None
        self.part_hash = hashlib.sha256()
        self.part_left = 0
        for i, p in enumerate(self.parts["parts"]):
            path = self.dir / p["name"]
            try:
                size = path.stat().st_size
            except FileNotFoundError:
                raise IntegrityError(f"{self._label(i)} is missing") from None
            except OSError as exc:
                raise BundleError(f"{path}: cannot read: {exc.strerror}") from None
            if size != p["size"]:
                raise IntegrityError(f"{self._label(i)} is {size} bytes, the manifest says {p['size']}: "
                                     f"{'truncated' if size < p['size'] else 'not this build'}")
        self._next_part()

    def _label(self, i: int) -> str:
        return f"{self.manifest}: part {i + 1} of {len(self.parts['parts'])} ({self.parts['parts'][i]['name']})"

    def _next_part(self) -> bool:
        if self.file is not None:
            self._check_part()
            self.file.close()
            self.file = None
        self.index += 1
        if self.index >= len(self.parts["parts"]):
            if self.total.hexdigest() != self.parts["sha256"]:
                raise IntegrityError(f"{self.manifest}: the parts joined hash to sha256:{self.total.hexdigest()}, "
                                     f"the manifest says {self.parts['sha256']}")
            return False
        p = self.parts["parts"][self.index]
        try:
            self.file = open(self.dir / p["name"], "rb")  # noqa: SIM115 - closed at the part's end
        except OSError as exc:
            raise IntegrityError(f"{self._label(self.index)}: cannot read: {exc.strerror}") from None
        self.part_hash = hashlib.sha256()
        self.part_left = p["size"]
        return True

    def _check_part(self) -> None:
        got = self.part_hash.hexdigest()
        if got == self.parts["parts"][self.index]["sha256"]:
            return
        other = [i for i, q in enumerate(self.parts["parts"]) if q["sha256"] == got]
        why = (f"it holds part {other[0] + 1}'s bytes: parts reordered" if other
               else "damaged, or a part of another build")
        raise IntegrityError(f"{self._label(self.index)}: sha256 mismatch ({why})")

    def read(self, n: int = -1) -> bytes:
        while self.file is not None:
            data = self.file.read(min(CHUNK if n < 0 else n, self.part_left))
            if data:
                self.part_hash.update(data)
                self.total.update(data)
                self.part_left -= len(data)
                return data
            if self.part_left:
                raise IntegrityError(f"{self._label(self.index)}: ended {self.part_left} bytes early (changed while "
                                     "read)")
            if not self._next_part():
                return b""
        return b""

    def explain(self) -> str | None:
        """After a failure of the stream above: the part at fault (its hash finished), or None."""
        if self.file is None:
            return None
        while self.part_left and (data := self.file.read(min(CHUNK, self.part_left))):
            self.part_hash.update(data)
            self.part_left -= len(data)
        try:
            self._check_part()
        except IntegrityError as exc:
            return str(exc)
        return None

    def close(self) -> None:
        if self.file is not None:
            self.file.close()
            self.file = None


def _load_manifest(path: Path) -> dict:
    try:
        with open(path, "rb") as f:
            data = f.read(MANIFEST_MAX + 1)
    except OSError as exc:
        raise BundleError(f"{path}: cannot read: {exc.strerror}") from None
    if len(data) > MANIFEST_MAX:
        raise IntegrityError(f"{path}: more than the {MANIFEST_MAX} bytes a parts manifest may have")
    try:
        m = json.loads(data)
    except (ValueError, RecursionError) as exc:
        raise IntegrityError(f"{path}: not a parts manifest ({str(exc)[:100]})") from None
    hexre = re.compile(r"^[0-9a-f]{64}$")
    ok = (isinstance(m, dict) and m.get("format") == PARTS_FORMAT and isinstance(m.get("parts"), list)
          and m["parts"] and isinstance(m.get("sha256"), str) and hexre.match(m["sha256"])
          and all(isinstance(p, dict) and isinstance(p.get("name"), str)
                  and re.fullmatch(r"[^/\\\0]{1,255}\.part\d{3}", p["name"])
                  and isinstance(p.get("size"), int) and p["size"] >= 0
                  and isinstance(p.get("sha256"), str) and hexre.match(p["sha256"]) for p in m["parts"]))
    if not ok:
        raise IntegrityError(f"{path}: not a {PARTS_FORMAT} manifest (format, sha256, or a part's name, size or "
                             "sha256 missing or malformed)")
    return m


def name_bad_part(manifest: Path) -> str | None:
    """After a reader failed on a split archive's content (a member's digest, say): read every part again and
    name the first one at fault, or None when all are intact. Only on the error path: it costs a full read."""
    try:
        reader = PartsReader(manifest)
    except BundleError as exc:
        return str(exc)
    try:
        while reader.read(CHUNK):
            pass
    except IntegrityError as exc:
        return str(exc)
    finally:
        reader.close()
    return None
