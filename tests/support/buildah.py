"""Build a stand-in image with real `buildah` (from scratch, one file) and push it to a test registry.

It proves that what our client pulls is not only what our own writer in images.py makes, but what a real
builder produces (its compression, its config and manifest layout). Runs as root with the vfs storage
driver in a private storage root, so it needs no daemon, no overlay support and touches no system store.
"""

from __future__ import annotations

import contextlib
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path

from tests.support.images import DOCKER_MANIFEST, OCI_MANIFEST, Pushed

BUILDAH = "/usr/bin/buildah"
TIMEOUT = 120


class BuildahError(RuntimeError):
    pass


def buildah_available() -> bool:
    return Path(BUILDAH).exists()


def buildah_in(root: Path, runroot: Path, timeout: float = TIMEOUT) -> Callable[..., str]:
    """`buildah ARGS` on a private vfs store (`root`, `runroot`): returns its output; BuildahError names the step."""
    base = [BUILDAH, "--root", str(root), "--runroot", str(runroot), "--storage-driver", "vfs"]

    def run(*args: str) -> str:
        proc = subprocess.run([*base, *args], capture_output=True, text=True, timeout=timeout,
                              stdin=subprocess.DEVNULL)
        if proc.returncode != 0:
            raise BuildahError(f"buildah {args[0]} failed: {proc.stderr.strip()[-800:]}")
        return proc.stdout.strip()

    return run


def build_and_push(
    workdir: Path,
    registry: object,
    repo: str,
    tag: str = "latest",
    *,
    files: dict[str, bytes] | None = None,
    fmt: str = "oci",
) -> Pushed:
    """`buildah from scratch`, copy `files` in, commit, push to `registry` (plain http). Returns the digest.

    `fmt` is "oci" or "docker" (Docker schema-2 manifest).
    """
    if not buildah_available():
        raise BuildahError(f"{BUILDAH} missing: install the buildah package")
    workdir = Path(workdir)
    root, runroot, ctx = workdir / "buildah-root", workdir / "buildah-run", workdir / "buildah-ctx"
    for d in (root, runroot, ctx):
        d.mkdir(parents=True, exist_ok=True)
    files = files or {"stand-in/hello.txt": b"stand-in image built by buildah for wire-bundle tests\n"}
    run = buildah_in(root, runroot)
    ctr = run("from", "--quiet", "scratch")
    try:
        for i, (dest, data) in enumerate(sorted(files.items())):
            src = ctx / f"f{i}"
            src.write_bytes(data)
            run("copy", "--quiet", ctr, str(src), "/" + dest.lstrip("/"))
        run("config", "--label", "org.opencontainers.image.title=stand-in", "--created-by",
            "tests/support/buildah.py", ctr)
        local = f"localhost/wire-bundle-stand-in/{repo.replace('/', '-')}:{tag}"
        run("commit", "--quiet", "--format", fmt, ctr, local)
        host = registry.host  # type: ignore[attr-defined]
        digestfile = workdir / "buildah-digest"
        push = ["push", "--tls-verify=false", "--digestfile", str(digestfile)]
        auth = getattr(registry, "auth", None)
        if auth:
            push += ["--creds", f"{auth[0]}:{auth[1]}"]
        if fmt == "docker":
            push += ["--format", "v2s2"]
        run(*push, local, f"docker://{host}/{repo}:{tag}")
        digest = digestfile.read_text().strip()
    finally:
        with contextlib.suppress(BuildahError):
            run("rm", ctr)
    return Pushed(host, repo, digest, tag, DOCKER_MANIFEST if fmt == "docker" else OCI_MANIFEST)


def cleanup(workdir: Path) -> None:
    """vfs keeps full copies of every layer: remove the private store when done."""
    for d in ("buildah-root", "buildah-run", "buildah-ctx"):
        shutil.rmtree(Path(workdir) / d, ignore_errors=True)
