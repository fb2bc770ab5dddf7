"""Ansible collections as installable tarballs, without Galaxy: taken from a PyPI package that vendors them.

The `ansible` package on PyPI ships, under ansible_collections/<namespace>/<name>/, each collection as
`ansible-galaxy collection install` left it: MANIFEST.json, FILES.json (the file list with the sha256 of
every file, as published on Galaxy) and the files. The package drops the collections' tests/ and CI files,
so FILES.json lists more than is there. A tarball here holds every file that is present, each checked
against Galaxy's checksum in FILES.json, and a FILES.json narrowed to exactly those files (MANIFEST.json's
checksum of FILES.json updated to match) - the layout `ansible-galaxy collection build` produces, so
`ansible-galaxy collection install --offline` verifies and installs it. The tarball is deterministic.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import os
import tarfile
import zipfile
from pathlib import Path
from typing import Any

from bundler.errors import BundleError, IntegrityError

PREFIX = "ansible_collections"


class CollectionSource:
    """The collections inside one wheel (e.g. ansible-12.3.0-py3-none-any.whl)."""

    def __init__(self, wheel: Path):
        self.wheel = wheel
        self.zip = zipfile.ZipFile(wheel)
        self.names = set(self.zip.namelist())

    def close(self) -> None:
        self.zip.close()

    def __enter__(self) -> CollectionSource:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _base(self, fqcn: str) -> str:
        namespace, name = fqcn.split(".")
        return f"{PREFIX}/{namespace}/{name}/"

    def available(self) -> list[str]:
        return sorted({".".join(n.split("/")[1:3]) for n in self.names
                       if n.startswith(PREFIX + "/") and n.endswith("/MANIFEST.json") and n.count("/") == 3})

    def manifest(self, fqcn: str) -> dict[str, Any]:
        member = self._base(fqcn) + "MANIFEST.json"
        if member not in self.names:
            near = [c for c in self.available() if c.split(".")[0] == fqcn.split(".")[0]][:8]
            hint = f"; {fqcn.split('.')[0]}.* there: {', '.join(near)}" if near else ""
            raise BundleError(f"toolchain: collection {fqcn} is not in {self.wheel.name}{hint}")
        return json.loads(self.zip.read(member))

    def closure(self, wanted: list[str]) -> list[dict[str, Any]]:
        """The wanted collections and every collection they depend on, with versions, sorted by name."""
        found: dict[str, dict[str, Any]] = {}
        todo = list(wanted)
        while todo:
            fqcn = todo.pop()
            if fqcn in found:
                continue
            info = self.manifest(fqcn)["collection_info"]
            deps = sorted(info.get("dependencies") or {})
            found[fqcn] = {"name": fqcn, "version": info["version"], "dependencies": deps,
                           "requested": fqcn in wanted}
            todo += deps
        return [found[k] for k in sorted(found)]

    def build_tarball(self, fqcn: str, version: str, out_dir: Path) -> Path:
        base = self._base(fqcn)
        manifest = self.manifest(fqcn)
        if manifest["collection_info"]["version"] != version:
            raise IntegrityError(f"toolchain: {self.wheel.name} has {fqcn} "
                                 f"{manifest['collection_info']['version']}, the lock says {version}")
        files_json_raw = self.zip.read(base + "FILES.json")
        expected = manifest["file_manifest_file"]["chksum_sha256"]
        if hashlib.sha256(files_json_raw).hexdigest() != expected:
            raise IntegrityError(f"toolchain: {fqcn}: FILES.json does not match the checksum in MANIFEST.json")
        files_json = json.loads(files_json_raw)

        members: list[tuple[tarfile.TarInfo, bytes | None]] = []
        kept: list[dict[str, Any]] = []
        present_dirs: set[str] = set()
        for entry in files_json["files"]:
            if entry["ftype"] != "file" or base + entry["name"] not in self.names:
                continue
            data = self.zip.read(base + entry["name"])
            if hashlib.sha256(data).hexdigest() != entry["chksum_sha256"]:
                raise IntegrityError(f"toolchain: {fqcn}: {entry['name']} does not match its Galaxy checksum")
            mode = (self.zip.getinfo(base + entry["name"]).external_attr >> 16) & 0o111
            members.append((_info(entry["name"], len(data), 0o755 if mode else 0o644), data))
            kept.append(entry)
            parts = entry["name"].split("/")[:-1]
            present_dirs.update("/".join(parts[:i]) for i in range(1, len(parts) + 1))
        dirs = [e for e in files_json["files"] if e["ftype"] == "dir" and (e["name"] == "." or e["name"] in
                                                                         present_dirs)]
        members += [(_info(d["name"], 0, 0o755, directory=True), None) for d in dirs if d["name"] != "."]

        new_files_json = json.dumps({"files": dirs + kept, "format": files_json["format"]}, indent=4).encode()
        manifest["file_manifest_file"]["chksum_sha256"] = hashlib.sha256(new_files_json).hexdigest()
        new_manifest = json.dumps(manifest, indent=4).encode()
        members += [(_info("MANIFEST.json", len(new_manifest), 0o644), new_manifest),
                    (_info("FILES.json", len(new_files_json), 0o644), new_files_json)]

        out_dir.mkdir(parents=True, exist_ok=True)
        dest = out_dir / f"{fqcn.replace('.', '-')}-{version}.tar.gz"
        partial = dest.with_name(dest.name + ".partial")
        with open(partial, "wb") as raw, gzip.GzipFile(fileobj=raw, mode="wb", mtime=0, filename="") as gz, \
                tarfile.open(fileobj=gz, mode="w", format=tarfile.GNU_FORMAT) as tar:
            for info, data in sorted(members, key=lambda m: m[0].name):
                tar.addfile(info, io.BytesIO(data) if data is not None else None)
        os.replace(partial, dest)
        return dest


def _info(name: str, size: int, mode: int, directory: bool = False) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.size = size
    info.mode = mode
    info.mtime = 0
    info.uid = info.gid = 0
    info.uname = info.gname = ""
    if directory:
        info.type = tarfile.DIRTYPE
    return info
