"""A test island for the service roles: a bundle built by the real CLI, unpacked, served over HTTP to a lab.

`services_bundle()` builds (once per session, cached under /var/cache/wire-bundle-tests) a bundle with the real
Debian packages the roles install (the JRE, coturn, nftables, PostgreSQL, RabbitMQ) through the debs kind, and the
stand-in Cassandra, Elasticsearch and MinIO artifacts through the files kind (served to the build by a loopback
file server), then unpacks it with `wire-bundle unpack`. `AssetServer` serves the unpacked tree read-only on the
lab bridge's machine-side address, with the layout nginx on the asset host serves (/debs/, /files/).
`role_overrides()` points the roles' artifact paths and checksums at the stand-ins.
"""

from __future__ import annotations

import functools
import os
import socket
import subprocess
import sys
import threading
import time
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import yaml

from tests.roles.services.standins import build as standins
from tests.support.fileserver import FileServer

CACHE = Path(os.environ.get("WIRE_BUNDLE_TEST_CACHE", "/var/cache/wire-bundle-tests"))
DEBIAN_KEYRING = "/usr/share/keyrings/debian-archive-keyring.gpg"
SOURCES = [
    {"uri": "http://deb.debian.org/debian", "suites": ["bookworm", "bookworm-updates"], "signed_by": DEBIAN_KEYRING},
    {"uri": "http://deb.debian.org/debian-security", "suites": ["bookworm-security"], "signed_by": DEBIAN_KEYRING},
]
# Real Debian packages: what the roles install on the VMs (and what the TURN and RabbitMQ verifies' clients need):
# the postgresql role's (roles/postgresql/defaults: PostgreSQL 15 and repmgr, sudo for repmgr; the client psql
# comes with the server) and the rabbitmq role's.
PACKAGES = ["openjdk-17-jre-headless", "coturn", "nftables", "containerd", "rabbitmq-server", "amqp-tools",
            "postgresql-15", "postgresql-15-repmgr", "sudo"]


def _cli(*args) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "bundler.cli", *map(str, args)], capture_output=True, text=True,
                          timeout=1800)


@functools.cache
def artifacts() -> dict[str, bytes]:
    return standins.all_standins()


def services_bundle(workdir: Path) -> Path:
    """Build and unpack the test bundle; returns the unpacked directory."""
    files = artifacts()
    with FileServer({"/" + path: data for path, data in files.items()}) as server:
        spec = {
            "version": 1,
            "name": "services-test",
            "debs": {"targets": [{"name": "bookworm", "suite": "bookworm", "sources": SOURCES}],
                     "packages": PACKAGES},
            "files": [{"url": f"{server.url}/{path}", "path": path, "sha256": standins.sha256(data)}
                      for path, data in sorted(files.items())],
        }
        spec_path = workdir / "services-test.yaml"
        spec_path.write_text(yaml.safe_dump(spec, sort_keys=False))
        archive = workdir / "services-test.tar.zst"
        r = _cli("build", spec_path, "-o", archive, "--cache-dir", CACHE / "debs-cache", "-q")
        if r.returncode != 0:
            raise RuntimeError(f"wire-bundle build failed: {r.stderr[-3000:]}")
    unpacked = workdir / "bundle"
    r = _cli("unpack", archive, "--to", unpacked)
    if r.returncode != 0:
        raise RuntimeError(f"wire-bundle unpack failed: {r.stderr[-3000:]}")
    for p in [unpacked, *unpacked.rglob("*")]:  # the server reads as whoever; apt's _apt never reads it here
        if p.is_dir():
            p.chmod(0o755)
    return unpacked


def role_overrides() -> dict:
    """Role variables that point the artifacts at the stand-ins (their paths are the real ones)."""
    f = artifacts()
    return {
        "cassandra_version": standins.CASSANDRA_VERSION,
        "cassandra_tarball_path": standins.CASSANDRA_PATH,
        "cassandra_tarball_checksum": "sha256:" + standins.sha256(f[standins.CASSANDRA_PATH]),
        "elasticsearch_version": standins.ELASTICSEARCH_VERSION,
        "elasticsearch_deb_path": standins.ELASTICSEARCH_PATH,
        "elasticsearch_deb_checksum": "sha256:" + standins.sha256(f[standins.ELASTICSEARCH_PATH]),
        "minio_server_path": standins.MINIO_PATH,
        "minio_server_checksum": "sha256:" + standins.sha256(f[standins.MINIO_PATH]),
        "minio_client_path": standins.MC_PATH,
        "minio_client_checksum": "sha256:" + standins.sha256(f[standins.MC_PATH]),
    }


class _Quiet(SimpleHTTPRequestHandler):
    def log_message(self, *args) -> None:
        pass


class AssetServer:
    """The unpacked bundle over HTTP on `address` (the lab bridge's machine side): the asset host's layout."""

    def __init__(self, root: Path, address: str, port: int = 0):
        handler = functools.partial(_Quiet, directory=str(root))
        self._httpd = ThreadingHTTPServer((address, port), handler)
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(target=self._httpd.serve_forever, daemon=True)
        self._thread.start()

    @property
    def url(self) -> str:
        host, port = self._httpd.server_address[:2]
        return f"http://{host}:{port}"

    def close(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()


class IslandRegistry:
    """Debian's docker-registry serving `storage_dir` on `address:port`: what the lab VMs use as wire_registry.

    Images are pushed to a loopback test registry (tests/support/registry.py) with the same storage; this
    second process only serves them on the lab bridge, where the VMs can reach it.
    """

    def __init__(self, storage_dir: Path, workdir: Path, address: str, port: int = 5000):
        self.host = f"{address}:{port}"
        config = workdir / "island-registry.yml"
        config.write_text(yaml.safe_dump({
            "version": 0.1, "log": {"level": "warn"},
            "storage": {"filesystem": {"rootdirectory": str(storage_dir)}, "maintenance": {
                "readonly": {"enabled": True}, "uploadpurging": {"enabled": False}}},
            "http": {"addr": self.host}}))
        self._log = open(workdir / "island-registry.log", "wb")  # noqa: SIM115 (lives as long as the process)
        self._proc = subprocess.Popen(["/usr/bin/docker-registry", "serve", str(config)], stdout=self._log,
                                      stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                socket.create_connection((address, port), timeout=1).close()
                return
            except OSError:
                if self._proc.poll() is not None:
                    break
                time.sleep(0.2)
        self.close()
        raise RuntimeError(f"island registry on {self.host} did not start: see {workdir / 'island-registry.log'}")

    def close(self) -> None:
        self._proc.terminate()
        try:
            self._proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self._proc.kill()
        self._log.close()
