"""Chart versions and version constraints, read the way Helm reads them (Masterminds semver v3 rules).

Constraints are `||`-separated groups of comma- or space-separated comparisons: `=`, `!=`, `>`, `>=`, `<`,
`<=`, `~` (`~>`), `^`, wildcards (`1.2.x`, `*`) and hyphen ranges (`1.2 - 1.4.5`). A pre-release version
only satisfies a group that itself names a pre-release (`>=1.0.0-0`), so `^4.40` never picks a release
candidate by accident.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import total_ordering

from bundler.errors import BundleError

_VERSION_RE = re.compile(
    r"^v?(0|[1-9]\d*)(?:\.(0|[1-9]\d*))?(?:\.(0|[1-9]\d*))?"
    r"(?:-([0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*))?(?:\+([0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*))?$"
)
_WILD = {"x", "X", "*"}
_PART = r"(?:0|[1-9]\d*|[xX*])"
_PARTIAL_RE = re.compile(
    rf"^v?({_PART})(?:\.({_PART}))?(?:\.({_PART}))?"
    r"(?:-([0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*))?(?:\+([0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*))?$"
)
_OP_RE = re.compile(r"^(!=|>=|=>|<=|=<|~>|[=<>~^])?\s*(\S+)$")
_HYPHEN_RE = re.compile(r"(\S+)\s+-\s+(\S+)")


class ConstraintError(BundleError):
    pass


@total_ordering
@dataclass(frozen=True)
class Version:
    major: int
    minor: int
    patch: int
    prerelease: str = ""
    text: str = ""  # as written (the index's spelling), for messages and the lock

    def _key(self):
        # Pre-releases sort before their release; identifiers compare numerically when numeric.
        if not self.prerelease:
            pre: tuple = (1,)
        else:
            pre = (0, *((0, int(p), "") if p.isdigit() else (1, 0, p) for p in self.prerelease.split(".")))
        return (self.major, self.minor, self.patch, pre)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Version) and self._key() == other._key()

    def __lt__(self, other: Version) -> bool:
        return self._key() < other._key()

    def __hash__(self) -> int:
        return hash(self._key())

    def __str__(self) -> str:
        return self.text or f"{self.major}.{self.minor}.{self.patch}" + (f"-{self.prerelease}" if self.prerelease
                                                                          else "")


def parse_version(text: str) -> Version | None:
    """A version as Helm accepts it in an index (`1.2`, `v1.2.3`, `1.2.3-rc.1+build`); None if not one."""
    m = _VERSION_RE.match(str(text).strip())
    if not m:
        return None
    major, minor, patch, pre, _meta = m.groups()
    return Version(int(major), int(minor or 0), int(patch or 0), pre or "", str(text).strip())


@dataclass(frozen=True)
class _Partial:
    major: int | None  # None: wildcard
    minor: int | None  # None: missing or wildcard
    patch: int | None
    prerelease: str

    @property
    def base(self) -> Version:
        return Version(self.major or 0, self.minor or 0, self.patch or 0, self.prerelease)

    @property
    def dirty(self) -> bool:
        return self.major is None or self.minor is None or self.patch is None

    def bump(self) -> Version | None:
        """The first version past the wildcard range (`1.2.x` -> 1.3.0); None when unbounded (`*`)."""
        if self.major is None:
            return None
        if self.minor is None:
            return Version(self.major + 1, 0, 0)
        return Version(self.major, self.minor + 1, 0)


def _partial(text: str, constraint: str) -> _Partial:
    m = _PARTIAL_RE.match(text)
    if not m:
        raise ConstraintError(f"invalid version constraint {constraint!r}: {text!r} is not a version")
    parts: list[int | None] = []
    wild = False
    for p in m.groups()[:3]:
        if wild or p is None or p in _WILD:
            wild = True
            parts.append(None)
        else:
            parts.append(int(p))
    return _Partial(parts[0], parts[1], parts[2], m.group(4) or "")


def _lt(v: Version, bound: Version | None) -> bool:
    # Upper bounds exclude the pre-releases of the bound itself (`<2.0.0` does not admit 2.0.0-rc.1).
    if bound is None:
        return True
    return (v.major, v.minor, v.patch) < (bound.major, bound.minor, bound.patch) if not bound.prerelease \
        else v < bound


@dataclass(frozen=True)
class _Comparison:
    op: str
    ver: _Partial

    def check(self, v: Version) -> bool:
        p, base = self.ver, self.ver.base
        if self.op == "=":
            return v >= base and _lt(v, p.bump()) if p.dirty else v == base
        if self.op == "!=":
            return not (v >= base and _lt(v, p.bump())) if p.dirty else v != base
        if self.op == ">":
            if not p.dirty:
                return v > base
            nxt = p.bump()
            return nxt is not None and v >= nxt
        if self.op == ">=":
            return v >= base
        if self.op == "<":
            return v < base
        if self.op == "<=":
            return _lt(v, p.bump()) if p.dirty else v <= base
        if self.op == "~":
            if p.major is None:
                return True
            upper = Version(p.major + 1, 0, 0) if p.minor is None else Version(p.major, p.minor + 1, 0)
            return v >= base and _lt(v, upper)
        if self.op == "^":
            if p.major is None:
                return True
            if p.major > 0 or p.minor is None:
                upper = Version(p.major + 1, 0, 0)
            elif p.minor > 0 or p.patch is None:
                upper = Version(0, p.minor + 1, 0)
            else:
                upper = Version(0, 0, p.patch + 1)
            return v >= base and _lt(v, upper)
        raise AssertionError(self.op)


_OP_ALIASES = {None: "=", "": "=", "=>": ">=", "=<": "<=", "~>": "~"}


class Constraint:
    def __init__(self, text: str):
        self.text = text.strip()
        if not self.text:
            raise ConstraintError("empty version constraint")
        self.groups: list[list[_Comparison]] = []
        for group_text in self.text.split("||"):
            group_text = _HYPHEN_RE.sub(r">=\1 <=\2", group_text.strip())
            # Operators may be separated from their version by spaces (`>= 1.2`): glue them first.
            group_text = re.sub(r"(!=|>=|=>|<=|=<|~>|[=<>~^])\s+", r"\1", group_text)
            items = [t for t in re.split(r"[,\s]+", group_text) if t]
            if not items:
                raise ConstraintError(f"invalid version constraint {text!r}: empty alternative")
            group = []
            for item in items:
                m = _OP_RE.match(item)
                if not m:
                    raise ConstraintError(f"invalid version constraint {text!r}: cannot read {item!r}")
                op = _OP_ALIASES.get(m.group(1), m.group(1))
                group.append(_Comparison(op, _partial(m.group(2), text)))
            self.groups.append(group)

    def check(self, v: Version) -> bool:
        for group in self.groups:
            if v.prerelease and not any(c.ver.prerelease for c in group):
                continue
            if all(c.check(v) for c in group):
                return True
        return False

    @property
    def anchor(self) -> Version:
        """The first version the constraint names: where to look for 'nearest available' versions."""
        return self.groups[0][0].ver.base

    def __str__(self) -> str:
        return self.text


def best_match(constraint: str, versions: list[str]) -> str | None:
    """The highest version satisfying `constraint`; an exact spelling match wins outright (as in Helm)."""
    if constraint.strip() in versions:
        return constraint.strip()
    c = Constraint(constraint)
    parsed = [v for v in (parse_version(t) for t in versions) if v is not None]
    fitting = [v for v in parsed if c.check(v)]
    return str(max(fitting)) if fitting else None


def nearest(constraint: str, versions: list[str], count: int = 5) -> list[str]:
    """Up to `count` available versions closest to what the constraint asks for, highest first."""
    parsed = sorted({v for v in (parse_version(t) for t in versions) if v is not None})
    if not parsed:
        return []
    try:
        anchor = Constraint(constraint).anchor
    except ConstraintError:
        anchor = parsed[-1]
    releases = [v for v in parsed if not v.prerelease]
    if releases and not anchor.prerelease:
        parsed = releases
    idx = next((i for i, v in enumerate(parsed) if v >= anchor), len(parsed))
    lo = max(0, min(idx - count // 2, len(parsed) - count))
    return [str(v) for v in reversed(parsed[lo:lo + count])]
