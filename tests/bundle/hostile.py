"""Helpers for the hostile-archive tests: one small real bundle per module, the CLI run in-process, archives
rewritten member by member or byte by byte."""

from __future__ import annotations

import io
import json
import tarfile
from contextlib import redirect_stderr, redirect_stdout
from pathlib import Path

from bundler.cli import main
from tests.bundle.conftest import write_spec
from tests.support.cli import Run, run_cli
from tests.support.images import ImageFactory


def build_bundle(tmp: Path, registry, name: str, size: int = 30_000) -> Path:
    """A small real bundle (two images sharing a base layer), signed with the session key, no sidecar."""
    factory = ImageFactory(seed=f"hostile-{name}")
    factory.push(registry, f"{name}/a", factory.simple("a", size=size), tag="1")
    factory.push(registry, f"{name}/b", factory.simple("b", size=size), tag="1")
    spec = write_spec(tmp / "s.yaml", [f"{registry.host}/{name}/a:1", f"{registry.host}/{name}/b:1"],
                      {registry.host: {"insecure": True}})
    out = tmp / f"{name}.tar.zst"
    r = run_cli("build", spec, "-o", out, "--cache-dir", tmp / "cache")
    assert r.rc == 0, r.err
    out.with_name(out.name + ".sha256").unlink()
    return out


def cli(*args: object) -> Run:
    """`wire-bundle ARGS` in this process: what the operator would see, without a Python start per case.

    Anything but SystemExit escaping main() is a traceback the operator would have seen: it fails the test."""
    # Encoded as a real process's streams are (stdout strict UTF-8, stderr backslash-escaped): text that a
    # terminal could not take fails here too.
    out = io.TextIOWrapper(io.BytesIO(), encoding="utf-8", errors="strict", write_through=True)
    err = io.TextIOWrapper(io.BytesIO(), encoding="utf-8", errors="backslashreplace", write_through=True)
    with redirect_stdout(out), redirect_stderr(err):
        try:
            main([str(a) for a in args])
            rc = 0
        except SystemExit as exc:
            rc = exc.code if isinstance(exc.code, int) else 1
    return Run(args, rc, out.buffer.getvalue().decode(), err.buffer.getvalue().decode())


def error_lines(r: Run) -> list[str]:
    return [line for line in r.err.splitlines() if line.startswith("error:")]


def assert_refused(r: Run, *expect: str) -> None:
    """A refusal: non-zero exit, no traceback, exactly one `error:` line (verify adds one BROKEN line a problem)."""
    assert r.rc not in (0, 130), (r.rc, r.out, r.err)
    assert "Traceback" not in r.err and "interrupted" not in r.err, r.err
    errors = error_lines(r)
    assert len(errors) == 1, r.err
    others = [line for line in r.err.splitlines()
              if not line.startswith(("error:", "BROKEN ", "verify:", "removed ")) and line.strip()]
    assert not others, r.err
    for e in expect:
        assert e in r.err, (e, r.err)


def with_bundle_json(members: list[tuple[tarfile.TarInfo, bytes]], doc: bytes) -> list[tuple[tarfile.TarInfo, bytes]]:
    """The archive's members with bundle.json replaced and checksums.sha256 updated to match (the signature then
    no longer does: verify and unpack must still say why in one line)."""
    import hashlib

    out = []
    for info, data in members:
        if info.name == "bundle.json":
            data = doc
        elif info.name == "checksums.sha256":
            lines = data.decode().splitlines()
            lines[0] = f"{hashlib.sha256(doc).hexdigest()}  bundle.json"
            data = ("\n".join(lines) + "\n").encode()
        out.append((info, data))
    return out


def bundle_doc(members: list[tuple[tarfile.TarInfo, bytes]]) -> dict:
    return json.loads(next(d for i, d in members if i.name == "bundle.json"))
