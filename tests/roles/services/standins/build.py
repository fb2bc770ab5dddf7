"""Build the stand-in artifacts (never shipped) at the paths the roles fetch from `files/`.

Each artifact has the shape of the real one where the roles depend on it: a Cassandra tarball whose top
directory is apache-cassandra-<version>/ with bin/ and conf/, an `elasticsearch-oss` .deb (built with dpkg-deb)
with the real package's paths, user and unit, and single-file `minio` and `mc` executables. Their behaviour is
described in each program's docstring. Output is deterministic (fixed mtimes), so the bundle cache keeps hits.
"""

from __future__ import annotations

import hashlib
import io
import os
import subprocess
import tarfile
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
CASSANDRA_VERSION = "5.0.9"
ELASTICSEARCH_VERSION = "6.8.23"
MINIO_PATH = "minio/minio.RELEASE.2023-07-07T07-13-57Z"
MC_PATH = "minio/mc.RELEASE.2023-07-07T05-25-51Z"
CASSANDRA_PATH = f"cassandra/apache-cassandra-{CASSANDRA_VERSION}-bin.tar.gz"
ELASTICSEARCH_PATH = f"elasticsearch/elasticsearch-oss-{ELASTICSEARCH_VERSION}.deb"
MTIME = 1_700_000_000

DEFAULT_CASSANDRA_YAML = """# STAND-IN default cassandra.yaml (replaced by the role's template)
cluster_name: 'Test Cluster'
listen_address: localhost
rpc_address: localhost
"""


def _tar_add(tar: tarfile.TarFile, name: str, data: bytes, mode: int) -> None:
    info = tarfile.TarInfo(name)
    info.size, info.mode, info.mtime = len(data), mode, MTIME
    tar.addfile(info, io.BytesIO(data))


def cassandra_tarball() -> bytes:
    top = f"apache-cassandra-{CASSANDRA_VERSION}"
    program = (HERE / "cassandra" / "cassandra.py").read_bytes()
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz", format=tarfile.GNU_FORMAT) as tar:
        for d in (top, f"{top}/bin", f"{top}/conf"):
            info = tarfile.TarInfo(d)
            info.type, info.mode, info.mtime = tarfile.DIRTYPE, 0o755, MTIME
            tar.addfile(info)
        _tar_add(tar, f"{top}/bin/cassandra", program, 0o755)
        _tar_add(tar, f"{top}/bin/nodetool", program, 0o755)
        _tar_add(tar, f"{top}/conf/cassandra.yaml", DEFAULT_CASSANDRA_YAML.encode(), 0o644)
        _tar_add(tar, f"{top}/conf/cassandra-rackdc.properties", b"dc=dc1\nrack=rack1\n", 0o644)
        _tar_add(tar, f"{top}/conf/jvm-server.options", b"# stand-in\n", 0o644)
        _tar_add(tar, f"{top}/STAND-IN.txt", b"Test stand-in for Apache Cassandra. Never shipped.\n", 0o644)
    return buf.getvalue()


ES_UNIT = """[Unit]
Description=Elasticsearch (STAND-IN)
Wants=network-online.target
After=network-online.target

[Service]
Environment=ES_HOME=/usr/share/elasticsearch
Environment=ES_PATH_CONF=/etc/elasticsearch
EnvironmentFile=-/etc/default/elasticsearch
User=elasticsearch
Group=elasticsearch
ExecStart=/usr/share/elasticsearch/bin/elasticsearch
LimitNOFILE=65535

[Install]
WantedBy=multi-user.target
"""

ES_POSTINST = """#!/bin/sh
set -e
getent group elasticsearch >/dev/null || groupadd -r elasticsearch
getent passwd elasticsearch >/dev/null || useradd -r -g elasticsearch -d /usr/share/elasticsearch \
  -s /usr/sbin/nologin elasticsearch
mkdir -p /var/lib/elasticsearch /var/log/elasticsearch
chown elasticsearch:elasticsearch /var/lib/elasticsearch /var/log/elasticsearch
chown -R root:elasticsearch /etc/elasticsearch
chmod 2750 /etc/elasticsearch
"""


def elasticsearch_deb() -> bytes:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "pkg"
        files = {
            "DEBIAN/control": (
                f"Package: elasticsearch-oss\nVersion: {ELASTICSEARCH_VERSION}\nArchitecture: all\n"
                "Maintainer: wire-bundle tests <tests@invalid>\nDepends: passwd\n"
                "Description: STAND-IN for Elasticsearch OSS (tests only, never shipped)\n", 0o644),
            "DEBIAN/conffiles": ("/etc/elasticsearch/elasticsearch.yml\n/etc/elasticsearch/jvm.options\n"
                                 "/etc/default/elasticsearch\n", 0o644),
            "DEBIAN/postinst": (ES_POSTINST, 0o755),
            "usr/share/elasticsearch/bin/elasticsearch":
                ((HERE / "elasticsearch" / "elasticsearch.py").read_text(), 0o755),
            "etc/elasticsearch/elasticsearch.yml": ("# stand-in default\n", 0o644),
            "etc/elasticsearch/jvm.options": ("-Xms1g\n-Xmx1g\n", 0o644),
            "etc/default/elasticsearch": ("#JAVA_HOME=\n", 0o644),
            "lib/systemd/system/elasticsearch.service": (ES_UNIT, 0o644),
        }
        for rel, (text, mode) in files.items():
            p = root / rel
            p.parent.mkdir(parents=True, exist_ok=True)
            p.write_text(text)
            p.chmod(mode)
        for p in root.rglob("*"):
            os.utime(p, (MTIME, MTIME))
        out = Path(tmp) / "es.deb"
        subprocess.run(["dpkg-deb", "--root-owner-group", "-Zgzip", "--build", str(root), str(out)], check=True,
                       capture_output=True, env={"SOURCE_DATE_EPOCH": str(MTIME), "PATH": "/usr/bin:/bin"})
        return out.read_bytes()


def minio_binaries() -> dict[str, bytes]:
    program = (HERE / "minio" / "minio.py").read_bytes()
    return {MINIO_PATH: program + b"\n# stand-in minio server\n", MC_PATH: program + b"\n# stand-in mc client\n"}


def all_standins() -> dict[str, bytes]:
    """Bundle path under files/ -> bytes."""
    return {CASSANDRA_PATH: cassandra_tarball(), ELASTICSEARCH_PATH: elasticsearch_deb(), **minio_binaries()}


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()
