"""Reading apt's Packages indexes: stanzas by package name, without loading a whole archive into objects.

A Packages file of Debian main is ~50 MB; only the few fields the resolver needs are pulled out per stanza,
and the stanza text is kept for the packages that end up in the dpkg status file.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from debian.debian_support import version_compare

_FIELD_RE = re.compile(r"^(Package|Version|Architecture|Filename|Size|SHA256|Priority|Essential|Provides):[ \t]*(.*)$",
                       re.M)


@dataclass(frozen=True)
class IndexSource:
    """One Packages index as `apt-get indextargets` names it."""

    path: Path
    repo_uri: str  # with a trailing slash, e.g. http://deb.debian.org/debian/
    release: str  # the suite it came from, e.g. bookworm-security
    component: str
    architecture: str


@dataclass
class Stanza:
    name: str
    version: str
    architecture: str
    filename: str
    size: int
    sha256: str
    priority: str
    essential: bool
    provides: list[str]
    source: IndexSource = field(repr=False)
    # The stanza is a slice of its Packages file, cut only when needed (the dpkg status of the baseline):
    # keeping 60,000 copies would cost hundreds of MB.
    blob: str = field(repr=False, default="")
    span: tuple[int, int] = (0, 0)

    @property
    def text(self) -> str:
        return self.blob[self.span[0]:self.span[1]].strip("\n")

    @property
    def url(self) -> str:
        return self.source.repo_uri.rstrip("/") + "/" + self.filename


class PackageIndex:
    """Every stanza of a target's Packages indexes, in the order the sources were given."""

    def __init__(self) -> None:
        self.by_name: dict[str, list[Stanza]] = {}
        self.provided: set[str] = set()

    def load(self, source: IndexSource) -> None:
        text = source.path.read_text(encoding="utf-8", errors="replace")
        end = -2
        for para in text.split("\n\n"):
            start, end = end + 2, end + 2 + len(para)
            if not para.strip():
                continue
            fields = dict(_FIELD_RE.findall(para))
            name = fields.get("Package")
            if not name or "Filename" not in fields or "SHA256" not in fields:
                continue
            st = Stanza(
                name=name,
                version=fields.get("Version", ""),
                architecture=fields.get("Architecture", ""),
                filename=fields["Filename"],
                size=int(fields.get("Size", "0")),
                sha256=fields["SHA256"],
                priority=fields.get("Priority", ""),
                essential=fields.get("Essential", "").lower() == "yes",
                provides=[p.split("(")[0].strip() for p in fields.get("Provides", "").split(",") if p.strip()],
                source=source,
                blob=text,
                span=(start, end),
            )
            self.by_name.setdefault(name, []).append(st)
            self.provided.update(st.provides)

    def versions(self, name: str) -> list[str]:
        """Every version of `name`, newest first, without duplicates."""
        seen = {s.version for s in self.by_name.get(name, [])}
        return sorted(seen, key=_VersionKey, reverse=True)

    def find(self, name: str, version: str, architecture: str) -> Stanza | None:
        for st in self.by_name.get(name, []):
            if st.version == version and st.architecture == architecture:
                return st
        return None

    def lowest(self, name: str) -> Stanza:
        return min(self.by_name[name], key=lambda s: _VersionKey(s.version))

    def base_system(self) -> list[str]:
        """Names debootstrap's minbase starts from: Priority required and Essential packages (apt is added)."""
        return sorted(n for n, sts in self.by_name.items()
                      if any(s.priority == "required" or s.essential for s in sts))


class _VersionKey:
    __slots__ = ("v",)

    def __init__(self, v: str):
        self.v = v

    def __lt__(self, other: _VersionKey) -> bool:
        return version_compare(self.v, other.v) < 0

    def __eq__(self, other: object) -> bool:
        return isinstance(other, _VersionKey) and version_compare(self.v, other.v) == 0


def nearest_versions(available: list[str], wanted: str, limit: int = 5) -> list[str]:
    """The available versions closest to `wanted` in Debian order (for an error message)."""
    ranked = sorted(available, key=_VersionKey)
    below = [v for v in ranked if version_compare(v, wanted) < 0][-(limit // 2 + 1):]
    above = [v for v in ranked if version_compare(v, wanted) > 0][: limit - len(below)]
    return (below + above)[:limit]
