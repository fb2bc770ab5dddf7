"""Wire's release manifests: the `build.json` of wireapp/wire-builds, which names every chart of one Wire release
with its chart repository and exact version:

    {"version": "1.0.0-133", "helmCharts": {"wire-server": {"repo": "https://...", "version": "5.29.0",
                                                           "meta": {...}}, ...}}

A manifest is read from a path or an http(s) URL, checked against an optional sha256 pin before anything in it
is believed, and reduced to what the spec needs: the release's version and each chart's repository and version.
Keys beyond those (`meta`, anything wire-builds adds later) are not read.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from bundler.bundle.transport import DocumentError, read_document

if TYPE_CHECKING:
    import requests

MAX_BYTES = 16 << 20  # build.json of a release is ~15 KiB; anything near this is not a manifest
ATTEMPTS = 4


class ManifestError(Exception):
    """The manifest cannot be used; the message names the cause (the spec adds where it is named)."""


class PinMismatch(ManifestError):
    """The manifest's bytes are not the ones the spec pins."""


@dataclass(frozen=True)
class ManifestChart:
    repo: str
    version: str


@dataclass(frozen=True)
class Manifest:
    source: str  # as the spec names it: a path relative to the spec, or a URL
    sha256: str  # hex digest of the manifest's bytes
    version: str
    charts: dict[str, ManifestChart]

    def lock_record(self) -> dict[str, str]:
        return {"manifest": self.source, "sha256": self.sha256, "version": self.version}


def is_url(source: str) -> bool:
    return source.startswith(("http://", "https://"))


def load_manifest(source: str, base_dir: Path, pin: str | None = None,
                  session: requests.Session | None = None) -> Manifest:
    data = _read_url(source, session) if is_url(source) else _read_path(base_dir / source)
    digest = hashlib.sha256(data).hexdigest()
    if pin is not None and digest != pin:
        # Nothing of a manifest that is not the pinned one is parsed, let alone trusted.
        raise PinMismatch(f"has sha256 {digest}, not the pinned {pin}")
    return parse(source, data, digest)


def parse(source: str, data: bytes, digest: str) -> Manifest:
    try:
        doc = json.loads(data)
    except (ValueError, UnicodeDecodeError) as exc:
        raise ManifestError(f"not JSON ({exc})") from None
    except RecursionError:
        raise ManifestError("not a release manifest: nested too deeply") from None
    if not isinstance(doc, dict):
        raise ManifestError("not a release manifest: expected a JSON object with `version` and `helmCharts`")
    version, charts = doc.get("version"), doc.get("helmCharts")
    if not isinstance(version, str) or not version:
        raise ManifestError("not a release manifest: `version` is missing or not a string")
    if not isinstance(charts, dict) or not charts:
        raise ManifestError("not a release manifest: `helmCharts` is missing, empty or not an object")
    out: dict[str, ManifestChart] = {}
    for name, entry in charts.items():
        if not isinstance(entry, dict):
            raise ManifestError(f"helmCharts.{name}: expected an object with `repo` and `version`")
        for key in ("repo", "version"):
            if not isinstance(entry.get(key), str) or not entry[key]:
                raise ManifestError(f"helmCharts.{name}.{key}: missing or not a string")
        out[name] = ManifestChart(repo=entry["repo"], version=entry["version"])
    return Manifest(source=source, sha256=digest, version=version, charts=out)


def _read_path(path: Path) -> bytes:
    try:
        if path.stat().st_size > MAX_BYTES:
            raise ManifestError(f"larger than {MAX_BYTES >> 20} MiB: not a release manifest")
        return path.read_bytes()
    except FileNotFoundError:
        raise ManifestError(f"no such file ({path})") from None
    except (IsADirectoryError, PermissionError, OSError) as exc:
        raise ManifestError(f"cannot read {path}: {exc.strerror or exc}") from None


def _read_url(url: str, session: requests.Session | None) -> bytes:
    """GET through the shared transport with the chart code's session conventions (proxies from the environment,
    ~/.netrc), retrying what may pass (connection errors, 5xx, 429) a few times with backoff; a 4xx is final."""
    if session is None:
        import requests

        session = requests.Session()
        session.headers["User-Agent"] = "wire-bundle"
    try:
        return read_document(session, url, limit=MAX_BYTES, attempts=ATTEMPTS,
                             too_large=f"larger than {MAX_BYTES >> 20} MiB: not a release manifest")
    except DocumentError as exc:
        raise ManifestError(str(exc)) from None
