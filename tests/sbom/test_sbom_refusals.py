"""`wire-bundle sbom` on an unpacked bundle whose SBOM is damaged or of another shape: one line each, exit 1."""

from __future__ import annotations

import hashlib

import pytest

from tests.support.cli import run_cli


def unpacked(tmp_path, sbom: bytes | None):
    (tmp_path / "checksums.sha256").write_text(
        f"{hashlib.sha256(sbom or b'').hexdigest()}  sbom.cdx.json\n")
    if sbom is not None:
        (tmp_path / "sbom.cdx.json").write_bytes(sbom)
    return tmp_path


@pytest.mark.parametrize(("sbom", "args", "says"), [
    (None, [], "no sbom.cdx.json: not an unpacked bundle with an SBOM"),
    (b"[" * 100_000, [], "sbom.cdx.json: nests too deep"),
    (b'{"bomFormat": "SPDX"}', [], "not a CycloneDX document"),
    (b'{"bomFormat": "CycloneDX", "components": [1, "x"]}', ["--format", "table"], "not the shape this tool writes"),
    (b'{"bomFormat": "CycloneDX", "components": []}', ["--image", "Not/A:Ref!"], "--image Not/A:Ref!:"),
])
def test_refused_with_one_line(tmp_path, sbom, args, says):
    r = run_cli("sbom", unpacked(tmp_path, sbom), *args)
    assert r.rc == 1 and says in r.err and "Traceback" not in r.err and len(r.err.strip().splitlines()) == 1, r.err


def test_an_sbom_not_matching_checksums_is_refused(tmp_path):
    d = unpacked(tmp_path, b'{"bomFormat": "CycloneDX"}')
    (d / "sbom.cdx.json").write_bytes(b'{"bomFormat": "CycloneDX", "components": []}')
    r = run_cli("sbom", d)
    assert r.rc == 1 and "does not match its sha256 in checksums.sha256" in r.err
