"""apt in a root of its own: its own Dir, sources, keyrings and dpkg status, nothing read from the host.

APT_CONFIG is read before anything else, and it moves Dir::Etc (and with it apt.conf.d, sources.list.d,
preferences.d and trusted.gpg.d) into this root, so the build host's /etc/apt and /var/lib/dpkg/status never
reach the resolver. The one exception is deliberate: the settings this machine needs to *reach* an archive
(proxies, and its policy on stale Release files) are copied from the host's apt configuration, see
`host_network_settings`.
"""

from __future__ import annotations

import getpass
import os
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from bundler.errors import BundleError
from bundler.kinds.debs.index import IndexSource

# Host apt settings carried into the isolated root: how this machine reaches an archive, nothing about what it
# installs. Proxies (global and per host), and the freshness checks a machine with a snapshot mirror or a skewed
# clock turns off.
CARRIED_SETTINGS = re.compile(
    r"^Acquire::(?:(?:http|https|ftp|socks)::Proxy(?:::[^ ]+)?|(?:http|https)::Proxy-Auto-Detect"
    r"|Check-Valid-Until|Check-Date|ForceIPv4|ForceIPv6)$"
)


def host_network_settings() -> dict[str, str]:
    """The carried-over subset of the host's apt configuration (empty where apt is not configured)."""
    env = {k: v for k, v in os.environ.items() if k != "APT_CONFIG"}
    try:
        out = subprocess.run(["apt-config", "dump"], env=env, capture_output=True, text=True, check=True).stdout
    except (OSError, subprocess.CalledProcessError):
        return {}
    settings: dict[str, str] = {}
    for line in out.splitlines():
        m = re.match(r'^(\S+) "(.*)";$', line)
        if m and CARRIED_SETTINGS.match(m.group(1)):
            settings[m.group(1)] = m.group(2)
    return settings


def requests_proxies(settings: dict[str, str]) -> dict[str, str]:
    """The same proxies for the HTTP client that downloads the .debs (apt's DIRECT means no proxy)."""
    proxies: dict[str, str] = {}
    for key, value in settings.items():
        m = re.match(r"^Acquire::(http|https)::Proxy(?:::(.+))?$", key)
        if not m or not value or value.upper() == "DIRECT":
            continue
        scheme, host = m.groups()
        proxies[f"{scheme}://{host}" if host else scheme] = value
    return proxies


@dataclass(frozen=True)
class Source:
    uri: str
    suites: tuple[str, ...]
    components: tuple[str, ...]
    signed_by: Path


@dataclass(frozen=True)
class Installed:
    name: str
    version: str
    architecture: str


class AptRoot:
    def __init__(self, root: Path, *, architecture: str, sources: list[Source], settings: dict[str, str],
                 what: str):
        self.root = root
        self.architecture = architecture
        self.sources = sources
        self.settings = settings
        self.what = what  # "debs target bookworm", for messages
        self.conf = root / "apt.conf"
        self.status = root / "var/lib/dpkg/status"
        self.lists = root / "var/lib/apt/lists"
        self.removals: list[str] = []

    # --- set-up --------------------------------------------------------------------------------------------

    def prepare(self) -> None:
        for d in ("etc/apt/apt.conf.d", "etc/apt/preferences.d", "etc/apt/sources.list.d", "etc/apt/trusted.gpg.d",
                  "var/lib/apt/lists/partial", "var/cache/apt/archives/partial", "var/lib/dpkg", "var/log/apt"):
            (self.root / d).mkdir(parents=True, exist_ok=True)
        for src in self.sources:
            if not src.signed_by.is_file():
                raise BundleError(f"{self.what}: signed_by keyring {src.signed_by} of {src.uri} does not exist")
        lines = [
            f'Dir "{self.root}/";',
            'Dir::State "var/lib/apt/";',
            f'Dir::State::status "{self.status}";',
            'Dir::Etc "etc/apt/";',
            'Dir::Cache "var/cache/apt/";',
            'Dir::Log "var/log/apt/";',
            f'APT::Architecture "{self.architecture}";',
            f'APT::Architectures {{ "{self.architecture}"; }};',
            # Resolution only reads Packages; translations, Contents and DEP-11 would be downloaded for nothing.
            'Acquire::Languages "none";',
            'Acquire::IndexTargets::deb::Contents-deb::DefaultEnabled "false";',
            'Acquire::IndexTargets::deb::DEP-11::DefaultEnabled "false";',
            'Acquire::IndexTargets::deb::DEP-11-icons::DefaultEnabled "false";',
            'Acquire::IndexTargets::deb::DEP-11-icons-small::DefaultEnabled "false";',
            'Acquire::GzipIndexes "false";',
            # The root lives in the user's cache; apt's _apt sandbox user may not be able to enter it.
            f'APT::Sandbox::User "{getpass.getuser()}";',
            'APT::Get::Show-Versions "true";',
            'Binary::apt::APT::Keep-Downloaded-Packages "false";',
        ]
        for key, value in sorted(self.settings.items()):
            if '"' in value:
                raise BundleError(f"{self.what}: host apt setting {key} contains a double quote; cannot carry it")
            lines.append(f'{key} "{value}";')
        _write(self.conf, "\n".join(lines) + "\n")
        stanzas = []
        for src in self.sources:
            stanzas.append(
                "Types: deb\n"
                f"URIs: {src.uri}\n"
                f"Suites: {' '.join(src.suites)}\n"
                f"Components: {' '.join(src.components)}\n"
                f"Architectures: {self.architecture}\n"
                f"Signed-By: {src.signed_by}\n"
            )
        _write(self.root / "etc/apt/sources.list.d/target.sources", "\n".join(stanzas))
        if not self.status.exists():
            _write(self.status, "")

    def run(self, args: list[str]) -> subprocess.CompletedProcess[str]:
        env = {"PATH": os.environ.get("PATH", "/usr/sbin:/usr/bin:/sbin:/bin"), "APT_CONFIG": str(self.conf),
               "LC_ALL": "C.UTF-8", "DEBIAN_FRONTEND": "noninteractive", "HOME": str(self.root)}
        if shutil.which(args[0], path=env["PATH"]) is None:
            raise BundleError(f"{args[0]} not found: install apt (Debian/Ubuntu: it is there; elsewhere: the apt "
                              f"package of your distribution)")
        return subprocess.run(args, env=env, capture_output=True, text=True)

    # --- operations ----------------------------------------------------------------------------------------

    def update(self) -> None:
        # Error-Mode=any: a source that fails to download or verify is an error, not a warning with old lists.
        r = self.run(["apt-get", "update", "-q", "-o", "APT::Update::Error-Mode=any"])
        lines = (r.stdout + "\n" + r.stderr).splitlines()
        problems = [" ".join(ln[2:].split()) for ln in lines
                    if ln.startswith(("E:", "W:")) and "Some index files failed" not in ln]
        if r.returncode != 0 or problems:
            if not problems:  # apt's Err: line names the file, the indented line after it says why
                problems = [f"{lines[i][4:].split(' ', 1)[-1]}: {lines[i + 1].strip()}"
                            for i in range(len(lines) - 1) if lines[i].startswith("Err:")]
            detail = "; ".join(problems) or f"apt-get update exited {r.returncode}"
            raise BundleError(f"{self.what}: source unreachable or unverifiable: {detail}")

    def index_sources(self) -> list[IndexSource]:
        fmt = "$(FILENAME)\t$(REPO_URI)\t$(RELEASE)\t$(COMPONENT)\t$(ARCHITECTURE)"
        r = self.run(["apt-get", "indextargets", "--format", fmt, "Created-By: Packages"])
        if r.returncode != 0:
            raise BundleError(f"{self.what}: apt-get indextargets failed: {r.stderr.strip()}")
        out = []
        for line in r.stdout.splitlines():
            path, repo_uri, release, component, arch = line.split("\t")
            if Path(path).exists():
                out.append(IndexSource(Path(path), repo_uri, release, component, arch))
        return out

    def release_dates(self) -> list[str]:
        """The Date field of every Release file the sources gave (their snapshot time)."""
        dates = []
        for f in sorted(self.lists.iterdir()):
            if f.name.endswith(("_InRelease", "_Release")):
                m = re.search(r"^Date: (.+)$", f.read_text(errors="replace"), re.M)
                if m:
                    dates.append(m.group(1).strip())
        return dates

    def write_status(self, stanzas: list[str]) -> None:
        body = []
        for text in stanzas:
            lines = [ln for ln in text.splitlines()
                     if not ln.startswith(("Filename:", "Size:", "MD5sum:", "SHA256:", "Description-md5:"))]
            lines.insert(1, "Status: install ok installed")
            body.append("\n".join(lines))
        _write(self.status, "\n\n".join(body) + ("\n" if body else ""))

    def check(self) -> bool:
        return self.run(["apt-get", "check", "-q"]).returncode == 0

    def simulate_install(self, packages: list[str], *, recommends: bool) -> list[Installed]:
        """What `apt-get install` would unpack, as apt's own resolver decides. Raises with apt's explanation."""
        args = ["apt-get", "install", "-s", "-q", "-y", "-o", "Debug::NoLocking=true",
                "--install-recommends" if recommends else "--no-install-recommends", *packages]
        r = self.run(args)
        if r.returncode != 0:
            raise BundleError(f"{self.what}: cannot resolve {' '.join(packages)}: {explain_apt_failure(r)}")
        out = []
        # Packages the install would remove from the target's baseline (a Conflicts/Breaks): worth a word.
        self.removals = sorted(line.split()[1] for line in r.stdout.splitlines() if line.startswith("Remv "))
        for line in r.stdout.splitlines():
            m = re.match(r"^Inst (\S+) (?:\[\S+\] )?\((\S+) .*\[(\S+)\]\)", line)
            if m:
                name, version, arch = m.groups()
                out.append(Installed(name.split(":")[0], version, arch))
        return out


def explain_apt_failure(r: subprocess.CompletedProcess[str]) -> str:
    """apt's own explanation of a failed resolution, folded into one line."""
    text = r.stdout + "\n" + r.stderr
    lines = text.splitlines()
    unmet: list[str] = []
    if "The following packages have unmet dependencies:" in lines:
        i = lines.index("The following packages have unmet dependencies:") + 1
        current = ""
        while i < len(lines) and lines[i].startswith(" "):
            stripped = lines[i].strip()
            if re.match(r"^\S+ : ", stripped):
                current = stripped.split(" : ", 1)[0]
                unmet.append(stripped)
            elif current:
                unmet.append(f"{current} : {stripped}")
            i += 1
    errors = [ln[3:].strip() for ln in lines if ln.startswith("E: ")]
    parts = unmet + errors
    return "; ".join(parts) if parts else (lines[-1] if lines else f"apt-get exited {r.returncode}")


def _write(path: Path, text: str) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text)
    os.replace(tmp, path)
