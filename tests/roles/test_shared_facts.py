"""Facts the roles share with the pre-flight (bundler/data/preflight.yaml) and the reference spec
(examples/wire.yaml), each kept in two places and checked here to agree: ports, data paths, bundle files with
their checksums (and so the versions in their names), images. A role default changed without its pre-flight
entry or spec entry (or the other way round) fails here. No lab: the files are read as data."""

from __future__ import annotations

import re
from functools import cache

import jinja2
import pytest
import yaml

from tests.roles.docs import REPO, ROLES, defaults, templated

PREFLIGHT = yaml.safe_load((REPO / "bundler/data/preflight.yaml").read_text())
SPEC = yaml.safe_load((REPO / "examples/wire.yaml").read_text())

# role variable -> (pre-flight group, protocol): the port the role listens on is one the pre-flight checks.
PORTS = {
    "asset_host_http_port": ("assethost", "tcp"),
    "asset_host_registry_listen": ("assethost", "tcp"),
    "cassandra_native_transport_port": ("cassandra", "tcp"),
    "cassandra_storage_port": ("cassandra", "tcp"),
    "elasticsearch_http_port": ("elasticsearch", "tcp"),
    "elasticsearch_transport_port": ("elasticsearch", "tcp"),
    "kubernetes_api_port": ("kube_control_plane", "tcp"),
    "minio_port": ("minio", "tcp"),
    "minio_console_port": ("minio", "tcp"),
    "postgresql_port": ("postgresql", "tcp"),
    "rabbitmq_amqp_port": ("rabbitmq", "tcp"),
    "rabbitmq_dist_port": ("rabbitmq", "tcp"),
    "rabbitmq_management_port": ("rabbitmq", "tcp"),
    "restund_udp_port": ("restund", "udp"),
    "restund_tcp_port": ("restund", "tcp"),
}
# Port variables the pre-flight does not check, and why.
NOT_PREFLIGHT_PORTS = {
    "asset_host_https_port": "only with TLS, which the pre-flight does not know of",
    "restund_tls_port": "only with restund_tls_certificate",
    "restund_relay_port_min": "a relay range, not a listener",
    "restund_relay_port_max": "a relay range, not a listener",
    "restund_verify_peer_port": "the scenario's own test peer",
    "sft_port_range": "the kernel's ephemeral range (checked against NodePorts in tests/roles/kubernetes)",
}
# Pre-flight data_paths role -> the role variable holding that path (a list's first entry counts).
DATA_PATHS = {
    "cassandra": "cassandra_data_dirs",
    "elasticsearch": "elasticsearch_data_dir",
    "minio": "minio_data_dirs",
    "postgresql": "postgresql_data_dir",
    "kubernetes": "kubernetes_containerd_root",
    "assethost": "asset_host_bundle_dir",
}
# Bundle files: (path variable, checksum variable) as get_url takes them (algorithm:hex).
FILES = [
    ("cassandra_tarball_path", "cassandra_tarball_checksum"),
    ("elasticsearch_deb_path", "elasticsearch_deb_checksum"),
    ("minio_server_path", "minio_server_checksum"),
    ("minio_client_path", "minio_client_checksum"),
]
IMAGES = ["restund_image", "kubernetes_pause_image", "kubernetes_etcd_image", "kubernetes_coredns_image"]


@cache
def _all_defaults() -> dict:
    merged: dict = {}
    for role in ROLES:
        merged.update(defaults(role))
    return merged


def value(name: str):
    """A role default as the role sees it, for the simple expressions these facts use (other roles' defaults,
    `default()` of an inventory variable the test does not set)."""
    raw = _all_defaults()[name]
    if not templated(raw):
        return raw
    return yaml.safe_load(jinja2.Template(raw if isinstance(raw, str) else yaml.safe_dump(raw)).render(_all_defaults()))


def test_every_port_variable_is_accounted_for():
    ports = {n for n in _all_defaults() if re.search(r"_port(_|$)|_port_range$|_listen$", n)}
    assert sorted(ports - set(PORTS) - set(NOT_PREFLIGHT_PORTS)) == []


@pytest.mark.parametrize("name", sorted(PORTS))
def test_role_port_is_the_preflight_port(name):
    group, proto = PORTS[name]
    port = int(str(value(name)).rsplit(":", 1)[-1])
    assert f"{proto}/{port}" in PREFLIGHT["groups"][group].get("ports", []), (name, port, group)


@pytest.mark.parametrize("role", sorted(DATA_PATHS))
def test_role_data_path_is_the_preflight_path(role):
    entry, name = PREFLIGHT["data_paths"][role], DATA_PATHS[role]
    path = value(name)
    path = path[0] if isinstance(path, list) else path
    # The pre-flight sizes the filesystem holding its path: the role's directory is it or below it.
    assert path == entry["path"] or path.startswith(entry["path"].rstrip("/") + "/"), (name, path, entry)
    if name == "kubernetes_containerd_root":
        # The role's default follows the inventory's containerd_root, the variable the pre-flight reads.
        assert entry["var"] == "containerd_root" and "containerd_root" in str(defaults("kubernetes")[name])
    else:
        assert entry.get("var") == name


def _spec_files() -> dict[str, dict]:
    return {f["path"]: f for f in SPEC["files"]}


def _role_files() -> list[tuple[str, str, str]]:
    """(label, path, algorithm:hex) of every bundle file a role downloads."""
    out = [(p, value(p), value(c)) for p, c in FILES]
    for name, entry in defaults("kubernetes")["kubernetes_files"].items():
        out.append((f"kubernetes_files.{name}", entry["path"], "sha256:" + entry["sha256"]))
    return out


@pytest.mark.parametrize(("label", "path", "checksum"), _role_files(), ids=[f[0] for f in _role_files()])
def test_role_file_and_checksum_are_the_reference_specs(label, path, checksum):
    entry = _spec_files().get(path)
    assert entry is not None, f"{label}: {path} is not among examples/wire.yaml's files"
    algorithm, digest = checksum.split(":", 1)
    assert entry.get(algorithm) == digest, label


def test_versions_are_the_ones_in_the_file_names():
    k8s = defaults("kubernetes")
    assert k8s["kubernetes_version"] in k8s["kubernetes_files"]["kubelet"]["path"]
    assert f"registry.k8s.io/kube-apiserver:{k8s['kubernetes_version']}" in SPEC["images"]["refs"]
    assert f"-{value('cassandra_version')}-" in value("cassandra_tarball_path")
    assert f"-{value('elasticsearch_version')}." in value("elasticsearch_deb_path")


@pytest.mark.parametrize("name", IMAGES)
def test_role_image_is_in_the_reference_spec(name):
    assert value(name) in SPEC["images"]["refs"], name
