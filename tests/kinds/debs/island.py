"""A throw-away island host: a cached debootstrap minbase root under an overlay, run with no network at all.

Every command runs in fresh mount and network namespaces (`unshare -m -n`): the overlay, /proc, /dev and the
bundle's repository (bind-mounted read-only at /srv/debs) exist only for that command, and the only network
interface is a loopback that is down. Changes persist in the overlay's upper dir between commands.
"""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
from pathlib import Path

CACHE = Path(os.environ.get("WIRE_BUNDLE_TEST_CACHE", "/var/cache/wire-bundle-tests"))
MIRROR = "http://deb.debian.org/debian"


def minbase_root(suite: str = "bookworm") -> Path:
    """`debootstrap --variant=minbase` of the suite, made once and kept (about 30 s and 200 MB)."""
    root = CACHE / f"{suite}-minbase"
    if root.is_dir():
        return root
    partial = CACHE / f"{suite}-minbase.partial"
    shutil.rmtree(partial, ignore_errors=True)
    CACHE.mkdir(parents=True, exist_ok=True)
    r = subprocess.run(["debootstrap", "--variant=minbase", suite, str(partial), MIRROR],
                       capture_output=True, text=True)
    if r.returncode != 0:
        raise RuntimeError(f"debootstrap failed: {r.stdout[-2000:]}{r.stderr[-2000:]}")
    os.replace(partial, root)
    return root


class Island:
    def __init__(self, lower: Path, scratch: Path, repo: Path):
        self.lower = lower
        self.repo = repo
        self.upper = scratch / "upper"
        self.workdir = scratch / "work"
        self.merged = scratch / "merged"
        for d in (self.upper, self.workdir, self.merged):
            d.mkdir(parents=True, exist_ok=True)
        # The island has no other source than the bundle: debootstrap's sources.list goes.
        self.write("/etc/apt/sources.list", "")
        # Debian's packages start their services on install; nothing should run in this root afterwards.
        self.write("/usr/sbin/policy-rc.d", "#!/bin/sh\nexit 101\n", mode=0o755)

    def write(self, path: str, text: str, mode: int = 0o644) -> None:
        target = self.upper / path.lstrip("/")
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text)
        os.chmod(target, mode)

    def use_repo(self, keyring: str = "/srv/debs/wire-bundle-archive-keyring.gpg", suite: str = "bookworm") -> None:
        self.write("/etc/apt/sources.list.d/bundle.sources",
                   f"Types: deb\nURIs: file:/srv/debs\nSuites: {suite}\nComponents: main\nSigned-By: {keyring}\n")

    def run(self, command: str, timeout: float = 600) -> subprocess.CompletedProcess[str]:
        m = shlex.quote(str(self.merged))
        setup = " && ".join([
            f"mount -t overlay overlay -o lowerdir={shlex.quote(str(self.lower))},"
            f"upperdir={shlex.quote(str(self.upper))},workdir={shlex.quote(str(self.workdir))} {m}",
            f"mkdir -p {m}/srv/debs",
            f"mount --bind -o ro {shlex.quote(str(self.repo))} {m}/srv/debs",
            f"mount -t proc proc {m}/proc",
            f"mount --rbind /dev {m}/dev",
        ])
        inner = shlex.quote(command)
        script = f"{setup} && exec chroot {m} /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin " \
                 f"DEBIAN_FRONTEND=noninteractive LC_ALL=C.UTF-8 /bin/sh -c {inner}"
        return subprocess.run(["unshare", "--mount", "--net", "--fork", "sh", "-c", script],
                              capture_output=True, text=True, timeout=timeout)
