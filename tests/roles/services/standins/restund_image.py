"""A stand-in for Wire's restund image (never shipped), built with real buildah from scratch.

Contents: busybox-static (a shell and awk for the entry script, from Debian's package), Debian's coturn
`turnserver` with the shared libraries it links (copied from this machine, which runs the same Debian
release as the lab), and restund/restund.sh as /standin/restund.sh. The role runs it with
`restund_container_args: [/standin/restund.sh]`.
"""

from __future__ import annotations

import contextlib
import shutil
import subprocess
from pathlib import Path

from tests.support.buildah import BuildahError, buildah_in

HERE = Path(__file__).resolve().parent
CACHE = Path("/var/cache/wire-bundle-tests/restund-standin")


def _busybox() -> Path:
    target = CACHE / "bb" / "bin" / "busybox"
    if not target.exists():
        CACHE.mkdir(parents=True, exist_ok=True)
        subprocess.run(["apt-get", "download", "busybox-static"], cwd=CACHE, check=True, capture_output=True)
        deb = sorted(CACHE.glob("busybox-static_*.deb"))[-1]
        subprocess.run(["dpkg-deb", "-x", str(deb), str(CACHE / "bb")], check=True)
    return target


def _libraries(binary: str) -> list[Path]:
    out = subprocess.run(["ldd", binary], capture_output=True, text=True, check=True).stdout
    libs = []
    for line in out.splitlines():
        parts = line.split()
        path = parts[2] if "=>" in parts and len(parts) > 2 else parts[0]
        if path.startswith("/"):
            libs.append(Path(path))
    return libs


def build_and_push(workdir: Path, registry_host: str, repo: str, tag: str) -> str:
    """Build the image and push it to `registry_host/repo:tag` (plain http); returns the pushed digest."""
    root = workdir / "rootfs"
    shutil.rmtree(root, ignore_errors=True)
    (root / "bin").mkdir(parents=True)
    shutil.copy2(_busybox(), root / "bin" / "busybox")
    for applet in ("sh", "awk"):
        (root / "bin" / applet).symlink_to("busybox")
    (root / "usr" / "bin").mkdir(parents=True)
    shutil.copy2("/usr/bin/turnserver", root / "usr" / "bin" / "turnserver")
    for lib in _libraries("/usr/bin/turnserver"):
        dest = root / str(lib).lstrip("/")
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(lib.resolve(), dest)
    (root / "standin").mkdir()
    shutil.copy2(HERE / "restund" / "restund.sh", root / "standin" / "restund.sh")
    (root / "standin" / "restund.sh").chmod(0o755)
    for d in ("tmp", "etc/restund", "var/lib/turn", "var/run"):
        (root / d).mkdir(parents=True, exist_ok=True)
    (root / "tmp").chmod(0o1777)
    (root / "etc" / "passwd").write_text("root:x:0:0:root:/:/bin/sh\n")

    buildah = buildah_in(workdir / "store", workdir / "run", timeout=300)

    ctr = buildah("from", "--quiet", "scratch")
    try:
        buildah("copy", "--quiet", ctr, str(root), "/")
        buildah("config", "--label", "org.opencontainers.image.title=restund stand-in (wire-bundle tests)",
                "--cmd", "/standin/restund.sh", ctr)
        local = "localhost/wire-bundle-stand-in/restund:" + tag
        buildah("commit", "--quiet", "--format", "oci", ctr, local)
        digestfile = workdir / "digest"
        buildah("push", "--tls-verify=false", "--digestfile", str(digestfile), local,
                f"docker://{registry_host}/{repo}:{tag}")
    finally:
        with contextlib.suppress(BuildahError):
            buildah("rm", ctr)
        shutil.rmtree(workdir / "store", ignore_errors=True)
    return digestfile.read_text().strip()
