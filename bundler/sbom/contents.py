"""What is installed in one image: its layers applied in order (whiteouts included) to the few files an SBOM
reads, the OS named by os-release, and each package with the layer that put it there (the lowest layer after
which the package was installed at the version the image ends up with)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import PurePosixPath

from bundler.sbom.layers import OS_RELEASE, LayerScan
from bundler.sbom.ospkgs import Package, apk, dpkg, rpm


@dataclass(frozen=True)
class OsInfo:
    id: str  # os-release ID: debian, ubuntu, alpine, rhel, ...
    version_id: str | None
    pretty_name: str | None


@dataclass
class ImageContents:
    os: OsInfo | None = None
    databases: list[str] = field(default_factory=list)  # the package databases found, e.g. "dpkg status"
    packages: list[tuple[Package, str]] = field(default_factory=list)  # (package, digest of its layer)
    unread: list[str] = field(default_factory=list)  # databases found but not read, with why

    @property
    def identified(self) -> bool:
        return self.os is not None or bool(self.packages)


class _Link(str):
    """A symlink's target in the virtual file system."""


def apply(fs: dict[str, bytes | _Link], scan: LayerScan) -> None:
    def drop(prefix: str) -> None:
        for p in [p for p in fs if p == prefix or p.startswith(prefix + "/")]:
            del fs[p]

    for d in scan.opaque:
        for p in [p for p in fs if p.startswith(d + "/")]:
            del fs[p]
    for p in scan.removed:
        drop(p)
    for p, target in scan.links.items():
        fs[p] = _Link(target)
    fs.update(scan.files)


def read(fs: dict[str, bytes | _Link], path: str, hops: int = 8) -> bytes | None:
    """A file's bytes, following symlinks among the files kept (os-release -> ../usr/lib/os-release)."""
    value = fs.get(path)
    while isinstance(value, _Link) and hops:
        target = value if value.startswith("/") else str(PurePosixPath(path).parent / value)
        path = PurePosixPath("/" + target).as_posix()
        # resolve '..' lexically: a layer's symlinks are relative to the image root
        parts: list[str] = []
        for part in path.split("/"):
            if part == "..":
                if parts:
                    parts.pop()
            elif part and part != ".":
                parts.append(part)
        path = "/".join(parts)
        value, hops = fs.get(path), hops - 1
    return value if isinstance(value, bytes) and not isinstance(value, _Link) else None


def os_info(fs: dict[str, bytes | _Link]) -> OsInfo | None:
    for path in OS_RELEASE:
        data = read(fs, path)
        if data is None:
            continue
        fields = {}
        for line in data.decode("utf-8", "replace").splitlines():
            key, sep, value = line.partition("=")
            if sep:
                fields[key.strip()] = value.strip().strip("\"'")
        if fields.get("ID"):
            return OsInfo(fields["ID"].lower(), fields.get("VERSION_ID"), fields.get("PRETTY_NAME"))
    return None


def installed(fs: dict[str, bytes | _Link], contents: ImageContents | None = None) -> list[Package]:
    """The packages the files in `fs` record; `contents` (when given) learns which databases were found."""
    found: list[Package] = []
    seen: list[str] = []
    unread: list[str] = []
    if (status := read(fs, dpkg.STATUS)) is not None:
        seen.append("dpkg status")
        found += dpkg.parse(status)
    entries = sorted(p for p in fs if dpkg.is_status_d_entry(p))
    if entries:
        seen.append("dpkg status.d")
        for p in entries:
            if (data := read(fs, p)) is not None:
                found += dpkg.parse(data)
    if (db := read(fs, apk.INSTALLED)) is not None:
        seen.append("apk installed")
        found += apk.parse(db)
    for p in rpm.SQLITE_PATHS:
        if (db := read(fs, p)) is not None:
            seen.append("rpm sqlite")
            try:
                found += rpm.parse_sqlite(db)
            except rpm.UnreadableDatabase as exc:
                unread.append(f"{p}: {exc}")
    for p, what in sorted(rpm.UNREAD_PATHS.items()):
        if p in fs:
            seen.append(what)
            unread.append(f"{p}: {what}, a format this tool does not read")
    if contents is not None:
        contents.databases, contents.unread = seen, unread
    return found


def image_contents(layers: list[str], scan: Callable[[str], LayerScan]) -> ImageContents:
    """`layers`: the image's layer digests, lowest first; `scan(digest)` reads one (the caller caches)."""
    fs: dict[str, bytes | _Link] = {}
    origin: dict[tuple, str] = {}
    current: dict[tuple, Package] = {}
    for digest in layers:
        layer = scan(digest)
        apply(fs, layer)
        if not (layer.files or layer.links or layer.removed or layer.opaque):
            continue
        now = {p.key: p for p in installed(fs)}
        origin = {k: origin.get(k, digest) for k in now}
        current = now
    out = ImageContents(os=os_info(fs))
    installed(fs, out)
    out.packages = [(current[k], origin[k]) for k in sorted(current, key=lambda k: (k[0], k[1], k[2], k[3] or ""))]
    return out
