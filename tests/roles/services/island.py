"""A test island for the service roles: a bundle built by the real CLI, unpacked, served over HTTP to a lab.

`services_bundle()` builds (once per session, cached under /var/cache/wire-bundle-tests) a bundle with the
real Debian packages the roles install (the JRE, coturn, nftables, PostgreSQL, RabbitMQ) through the debs kind,
and the stand-in Cassandra, Elasticsearch and MinIO artifacts through the files kind, then unpacks it
(tests/support/island.py, whose `serve_island` serves it to a lab). `role_overrides()` points the roles'
artifact paths and checksums at the stand-ins.
"""

from __future__ import annotations

import functools
from pathlib import Path

from tests.roles.services.standins import build as standins
from tests.support.island import build_island

# Real Debian packages: what the roles install on the VMs (and what the TURN and RabbitMQ verifies' clients need):
# the postgresql role's (roles/postgresql/defaults: PostgreSQL 15 and repmgr, sudo for repmgr; the client psql
# comes with the server) and the rabbitmq role's.
PACKAGES = ["openjdk-17-jre-headless", "coturn", "nftables", "containerd", "rabbitmq-server", "amqp-tools",
            "postgresql-15", "postgresql-15-repmgr", "sudo"]


@functools.cache
def artifacts() -> dict[str, bytes]:
    return standins.all_standins()


def services_bundle(workdir: Path) -> Path:
    """Build and unpack the test bundle; returns the unpacked directory."""
    return build_island(workdir, "services-test", packages=PACKAGES, files=artifacts())


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
