"""Run Debian's `docker-registry` (the CNCF distribution registry) on loopback for the tests.

Each instance gets its own storage directory, config and log file under a work directory, listens on
127.0.0.1 with a free port, and speaks plain http. Authentication is off, htpasswd basic auth, or bearer
tokens from a loopback token server (see tests/support/tokenserver.py).

The registry's access log (Apache combined format) and its own log go to `log_path`. The access log has
no request headers, so tests that need to see a `Range` header read the fault proxy's log instead.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import requests
import yaml

from tests.support.netutil import Listening, free_port

REGISTRY_BIN = "/usr/bin/docker-registry"
HTPASSWD_BIN = "/usr/bin/htpasswd"
SETPRIV_BIN = "/usr/bin/setpriv"  # util-linux, always there on Debian
START_TIMEOUT = 20.0


class RegistryError(RuntimeError):
    pass


@dataclass(frozen=True)
class AccessEntry:
    method: str
    path: str
    status: int
    bytes_sent: int
    user_agent: str


_ACCESS_RE = re.compile(
    r'"(?P<method>[A-Z]+) (?P<path>\S+) HTTP/1\.\d" (?P<status>\d{3}) (?P<bytes>\d+|-) "[^"]*" "(?P<agent>[^"]*)"'
)


@dataclass(frozen=True)
class TokenAuthSettings:
    """What the registry needs to trust tokens from a token server."""

    realm: str
    service: str
    issuer: str
    rootcertbundle: Path


def _die_with_parent() -> list[str]:
    """Prefix that makes the registry exit when the thread that started it dies, even by SIGKILL of pytest,
    so no registry outlives a killed test run. (Start registries from the main thread: a worker thread's end
    counts as the parent's death.)"""
    return [SETPRIV_BIN, "--pdeathsig", "TERM"] if Path(SETPRIV_BIN).exists() else []


def htpasswd_line(user: str, password: str) -> str:
    """A bcrypt htpasswd entry, the only hash format distribution accepts."""
    if not Path(HTPASSWD_BIN).exists():
        raise RegistryError(f"{HTPASSWD_BIN} missing: install apache2-utils")
    out = subprocess.run(
        [HTPASSWD_BIN, "-Bbn", user, password], check=True, capture_output=True, text=True, timeout=30
    ).stdout
    return out.strip() + "\n"


class Registry(Listening):
    """A running `docker-registry` process on 127.0.0.1.

    >>> reg = Registry(tmp_path, htpasswd=("alice", "s3cret"))  # starts it
    >>> reg.url, reg.host            # ('http://127.0.0.1:40123', '127.0.0.1:40123')
    >>> reg.stop()
    """

    def __init__(
        self,
        workdir: Path,
        *,
        htpasswd: tuple[str, str] | None = None,
        token_auth: TokenAuthSettings | None = None,
        token_credentials: tuple[str, str] | None = None,
        name: str = "registry",
    ) -> None:
        """`token_credentials` are what the token server accepts; kept here so `.auth` works in every mode."""
        if htpasswd and token_auth:
            raise ValueError("choose htpasswd or token auth, not both")
        if not Path(REGISTRY_BIN).exists():
            raise RegistryError(f"{REGISTRY_BIN} missing: install the docker-registry package")
        self.workdir = Path(workdir) / name
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.storage_dir = self.workdir / "storage"
        self.storage_dir.mkdir(exist_ok=True)
        self.log_path = self.workdir / "registry.log"
        self.config_path = self.workdir / "config.yml"
        self.username, self.password = htpasswd or token_credentials or (None, None)
        self.token_auth = token_auth
        self._htpasswd = htpasswd
        self._proc: subprocess.Popen[bytes] | None = None
        self.port = 0
        self._start()

    @property
    def auth(self) -> tuple[str, str] | None:
        """(user, password) for htpasswd registries, for `requests` and for skopeo's --creds."""
        return (self.username, self.password) if self.username else None

    # -- lifecycle -------------------------------------------------------------------------------------
    def _config(self, port: int) -> dict:
        cfg: dict = {
            "version": 0.1,
            "log": {"level": "info", "formatter": "text", "accesslog": {"disabled": False}},
            "storage": {
                "filesystem": {"rootdirectory": str(self.storage_dir)},
                "delete": {"enabled": True},
                # Upload purging runs on a timer and would delete half-finished uploads mid-test.
                "maintenance": {"uploadpurging": {"enabled": False}},
            },
            "http": {
                "addr": f"127.0.0.1:{port}",
                # A fixed secret: without one each start logs a warning and upload state would not survive
                # a restart of the same registry.
                "secret": "wire-bundle-tests-only",
                "headers": {"X-Content-Type-Options": ["nosniff"]},
            },
        }
        if self._htpasswd:
            path = self.workdir / "htpasswd"
            path.write_text(htpasswd_line(*self._htpasswd))
            cfg["auth"] = {"htpasswd": {"realm": "wire-bundle-tests", "path": str(path)}}
        elif self.token_auth:
            t = self.token_auth
            cfg["auth"] = {
                "token": {
                    "realm": t.realm,
                    "service": t.service,
                    "issuer": t.issuer,
                    "rootcertbundle": str(t.rootcertbundle),
                }
            }
        return cfg

    def _start(self) -> None:
        last_err = ""
        for _attempt in range(5):
            port = free_port()
            self.config_path.write_text(yaml.safe_dump(self._config(port), sort_keys=False))
            log = open(self.log_path, "ab")  # noqa: SIM115 - handed to the child, closed in stop()
            proc = subprocess.Popen(
                [*_die_with_parent(), REGISTRY_BIN, "serve", str(self.config_path)],
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )
            log.close()
            self.port = port
            if self._wait_ready(proc):
                self._proc = proc
                return
            self._kill(proc)
            last_err = self.log_tail()
        raise RegistryError(f"docker-registry did not start; log tail:\n{last_err}")

    def _wait_ready(self, proc: subprocess.Popen[bytes]) -> bool:
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                return False  # e.g. the port was taken between free_port() and the bind
            try:
                r = requests.get(f"{self.url}/v2/", timeout=2)
                if r.status_code in (200, 401):
                    return True
            except requests.RequestException:
                pass
            time.sleep(0.05)
        return False

    @staticmethod
    def _kill(proc: subprocess.Popen[bytes]) -> None:
        if proc.poll() is None:
            try:
                os.killpg(proc.pid, signal.SIGTERM)
            except ProcessLookupError:
                return
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=10)

    def stop(self) -> None:
        if self._proc is not None:
            self._kill(self._proc)
            self._proc = None

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def wipe(self) -> None:
        """Stop, delete all stored content, start again on a new port."""
        self.stop()
        shutil.rmtree(self.storage_dir, ignore_errors=True)
        self.storage_dir.mkdir()
        self._start()

    def __enter__(self) -> Registry:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- reading what happened -----------------------------------------------------------------------
    def log_text(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def log_tail(self, lines: int = 30) -> str:
        return "\n".join(self.log_text().splitlines()[-lines:])

    def access_log(self) -> list[str]:
        """Access-log lines (Apache combined format): `... "GET /v2/x/blobs/sha256:... HTTP/1.1" 200 ...`."""
        return [ln for ln in self.log_text().splitlines() if '"' in ln and " HTTP/1." in ln and "/v2/" in ln]

    def requests_seen(self) -> list[AccessEntry]:
        """The access log parsed: who asked for what, with status and body bytes sent (e.g. to prove a
        shared blob was fetched once, or a resumed fetch sent fewer bytes than the blob)."""
        out = []
        for line in self.access_log():
            m = _ACCESS_RE.search(line)
            if m:
                sent = m["bytes"]
                out.append(AccessEntry(m["method"], m["path"], int(m["status"]),
                                       int(sent) if sent.isdigit() else 0, m["agent"]))
        return out

    def wait_for_request(self, predicate: Callable[[AccessEntry], bool], timeout: float = 10.0) -> list[AccessEntry]:
        """All access entries, once one matching `predicate` is there. The registry writes a request's line
        just after its reply, so a client can have its answer before the log has the line: wait for the
        last request you made before asserting on the log."""
        deadline = time.monotonic() + timeout
        while True:
            seen = self.requests_seen()
            if any(predicate(e) for e in seen):
                return seen
            if time.monotonic() > deadline:
                raise TimeoutError(f"no matching request in {self.log_path} after {timeout:.0f}s")
            time.sleep(0.05)

    def blob_path(self, digest: str) -> Path:
        """Where the filesystem driver keeps a blob's bytes (tests corrupt it to simulate a bad registry)."""
        algo, hexd = digest.split(":", 1)
        return self.storage_dir / "docker/registry/v2/blobs" / algo / hexd[:2] / hexd / "data"

    def __repr__(self) -> str:
        mode = "htpasswd" if self._htpasswd else "token" if self.token_auth else "anonymous"
        return f"<Registry {self.url} {mode}>"


class ReadOnlyRegistry(Listening):
    """docker-registry serving `storage` read-only (maintenance mode, as the asset host role configures it) on
    `address:port` (default: a free loopback port); its config and log in `workdir`.

    On the lab bridge it is the island's registry: images pushed to a `Registry` with the same storage are served
    here, where the VMs can reach them.
    """

    def __init__(self, storage: Path, workdir: Path, address: str = "127.0.0.1", port: int | None = None):
        self.address = address
        self.port = port or free_port()
        cfg = workdir / "readonly-registry.yml"
        cfg.write_text(yaml.safe_dump({
            "version": 0.1, "log": {"level": "info", "accesslog": {"disabled": True}},
            "storage": {"filesystem": {"rootdirectory": str(storage)},
                        "maintenance": {"readonly": {"enabled": True}, "uploadpurging": {"enabled": False}}},
            "http": {"addr": self.host, "secret": "stand-in"},
        }))
        self.log = workdir / "readonly-registry.log"
        with open(self.log, "wb") as log:
            self.proc = subprocess.Popen([REGISTRY_BIN, "serve", str(cfg)], stdout=log, stderr=subprocess.STDOUT,
                                         stdin=subprocess.DEVNULL)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and self.proc.poll() is None:
            try:
                if requests.get(f"{self.url}/v2/", timeout=2).status_code == 200:
                    return
            except requests.RequestException:
                time.sleep(0.1)
        self.stop()
        raise RegistryError(f"read-only registry on {self.host} did not start: {self.log.read_text()[-1000:]}")

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
