"""examples/wire.yaml, the reference spec for a real Wire build: it loads, and every checksum names its source."""

from __future__ import annotations

import base64
import hashlib
import re
from pathlib import Path

import yaml

from bundler.bundle.spec import load_spec

EXAMPLE = Path(__file__).resolve().parents[3] / "examples" / "wire.yaml"
SOURCES = ("[binaries]", "[offline]", "[kubespray]", "[cassandra-image]")


def test_wire_example_loads_with_the_spec_loader():
    loaded = load_spec(EXAMPLE)
    spec = loaded.spec
    assert spec.name == "wire-island"
    names = {c.name for c in spec.charts}
    for chart in ("wire-server", "fake-aws", "smtp", "ingress-nginx-controller", "nginx-ingress-services",
                  "reaper", "sftd", "coturn", "redis-ephemeral", "webapp", "team-settings", "account-pages",
                  "cassandra-external", "elasticsearch-external", "minio-external", "rabbitmq-external",
                  "postgresql-external"):
        assert chart in names
    # The island runs these on VMs or not at all (see the reasons in the spec).
    assert not names & {"databases-ephemeral", "demo-smtp", "rabbitmq", "postgresql", "aws-ingress"}
    dests = {f.dest for f in spec.files}
    for wanted in ("kubelet", "kubeadm", "kubectl", "crictl", "cni-plugins", "helm", "apache-cassandra",
                   "minio.RELEASE", "mc.RELEASE", "elasticsearch"):
        assert any(wanted in d for d in dests), f"no file for {wanted}"
    assert {t.suite for t in spec.debs.targets} == {"bookworm", "jammy", "noble"}
    assert spec.toolchain is not None and "ansible.posix" in spec.toolchain.collections


def test_every_value_set_exists_beside_the_spec():
    loaded = load_spec(EXAMPLE)
    for chart in loaded.spec.charts:
        for value_set in chart.values:
            for name in [value_set] if isinstance(value_set, str) else value_set:
                assert (loaded.base_dir / name).is_file(), f"{chart.name}: {name} missing"


def test_every_file_checksum_names_its_source():
    # The checksum line of each file entry carries a comment naming where the value was read.
    text = EXAMPLE.read_text()
    lines = text[text.index("\nfiles:\n"):].splitlines()
    sums = [ln for ln in lines if re.match(r"\s+sha(256|512): [0-9a-f]+", ln)]
    assert len(sums) == len(yaml.safe_load(EXAMPLE.read_text())["files"])
    for ln in sums:
        comment = ln.partition("#")[2]
        assert any(src in comment for src in SOURCES), f"no source for: {ln.strip()}"


NIX32 = "0123456789abcdfghijklmnpqrsvwxyz"


def nix32_decode(text: str, size: int = 32) -> bytes:
    """Nix's base-32 (its own alphabet, least significant digit last, bytes little-endian)."""
    value = 0
    for ch in text:
        value = value * 32 + NIX32.index(ch)
    return value.to_bytes(size, "little")


def test_nix32_decoder_matches_nix_for_the_empty_string():
    # Nix prints sha256("") as 0mdqa9w1p6cmli6976v4wi0sw9r4p5prkj7lzfd1877wk11c9c73.
    assert nix32_decode("0mdqa9w1p6cmli6976v4wi0sw9r4p5prkj7lzfd1877wk11c9c73") == hashlib.sha256(b"").digest()


def test_hex_checksums_are_the_decoded_source_values():
    checked = 0
    for ln in EXAMPLE.read_text().splitlines():
        m = re.match(r"\s+sha256: ([0-9a-f]{64})\s+#(.*)", ln)
        if not m:
            continue
        hexsum, comment = m.groups()
        if sri := re.search(r"sha256-([A-Za-z0-9+/]{43}=)", comment):
            assert base64.b64decode(sri.group(1)).hex() == hexsum
            checked += 1
        if n32 := re.search(r"base-32 ([0-9a-z]{52})", comment):
            assert nix32_decode(n32.group(1)).hex() == hexsum
            checked += 1
    assert checked >= 6  # kubelet, kubeadm, kubectl, the JMX agent, MinIO and Elasticsearch come from Nix
