"""examples/wire.yaml against Wire's own description of release 5.29.0 (../shared/wire-release/): every chart of
the release manifest is bundled or left out with a reason, the binaries Wire's wire-binaries.nix pins are taken
with its versions and (decoded) checksums, the system images are Wire's, and the roles' defaults are the example's.
No network: the manifest is the copy beside the spec."""

from __future__ import annotations

import base64
import hashlib
import json
import re
from pathlib import Path

import pytest
import yaml

from bundler.bundle.spec import load_spec
from tests.kinds.files.test_wire_example import nix32_decode

REPO = Path(__file__).resolve().parents[3]
EXAMPLE = REPO / "examples" / "wire.yaml"
SHARED = REPO.parent / "shared" / "wire-release"
DEPLOY = SHARED / "wire-server-deploy"


def shared(rel: str) -> Path:
    path = SHARED / rel
    if not path.exists():
        pytest.skip(f"../shared/wire-release/{rel} is absent (a clone without Wire's reference release)")
    return path


def nix_hex(value: str) -> str:
    """A Nix fetchurl sha256 as hex: SRI (sha256-<base64>), sha256:<hex|base-32>, bare hex or bare base-32."""
    if value.startswith("sha256-"):
        return base64.b64decode(value.removeprefix("sha256-")).hex()
    value = value.removeprefix("sha256:")
    if re.fullmatch(r"[0-9a-f]{64}", value):
        return value
    if re.fullmatch(r"[0-9a-z]{52}", value):
        return nix32_decode(value).hex()
    raise ValueError(f"not a Nix sha256: {value!r}")


def nix_sources(text: str) -> dict[str, tuple[str, str]]:
    """name -> (url with the let-bound versions filled in, hex sha256) for every fetchurl of wire-binaries.nix."""
    variables = dict(re.findall(r"^\s*(\w+) = \"([^\"]*)\";", text, re.M))
    out = {}
    for name, body in re.findall(r"([\w-]+) = fetchurl rec \{(.*?)\};", text, re.S):
        url = re.search(r'\burl = "([^"]+)";', body).group(1)
        url = re.sub(r"\$\{\s*(\w+)\s*\}", lambda m: variables[m.group(1)], url)
        out[name] = (url, nix_hex(re.search(r'\bsha256 = "([^"]+)";', body).group(1)))
    return out


def test_nix_hex_reads_every_form_nix_writes():
    empty = hashlib.sha256(b"").hexdigest()
    assert nix_hex("sha256-" + base64.b64encode(bytes.fromhex(empty)).decode()) == empty
    assert nix_hex("sha256:0mdqa9w1p6cmli6976v4wi0sw9r4p5prkj7lzfd1877wk11c9c73") == empty
    assert nix_hex("0mdqa9w1p6cmli6976v4wi0sw9r4p5prkj7lzfd1877wk11c9c73") == empty
    assert nix_hex("sha256:" + empty) == nix_hex(empty) == empty


def test_every_chart_of_the_release_is_bundled_or_left_out_with_a_reason():
    loaded = load_spec(EXAMPLE)
    release = loaded.spec.release
    assert release is not None and loaded.manifest is not None
    copy = EXAMPLE.parent / release.manifest
    manifest = json.loads(copy.read_bytes())["helmCharts"]
    assert loaded.manifest.version == "1.0.0-133" and manifest["wire-server"]["version"] == "5.29.0"
    charts = {c.name: c for c in loaded.spec.charts}
    for name, entry in manifest.items():
        if name in release.exclude:
            assert len(release.exclude[name].split()) >= 4, f"{name}: say why it is left out"
            assert name not in charts
        else:
            override = release.charts.get(name)
            assert charts[name].version == (override and override.version or entry["version"]), name
            assert charts[name].repo == (override and override.repo or entry["repo"]).rstrip("/"), name
    assert set(charts) == set(manifest) - set(release.exclude)
    assert set(release.charts) <= set(charts)


def test_the_manifest_copy_is_wires():
    ours = (EXAMPLE.parent / load_spec(EXAMPLE).spec.release.manifest).read_bytes()
    assert ours == shared("build.json").read_bytes()


def test_binaries_agree_with_wire_binaries_nix():
    sources = {url: digest for url, digest in nix_sources(shared("wire-server-deploy/nix/pkgs/wire-binaries.nix")
                                                          .read_text()).values()}
    files = load_spec(EXAMPLE).spec.files
    lines = {ln.split("sha256: ", 1)[1].split()[0]: ln for ln in EXAMPLE.read_text().splitlines()
             if re.match(r"\s+sha256: [0-9a-f]{64}\s+#", ln)}
    from_nix = [f for f in files if f.sha256 and "[binaries]" in lines.get(f.sha256, "")]
    for f in from_nix:
        assert f.url in sources, f"{f.url}: says [binaries] but wire-binaries.nix fetches no such URL"
        assert sources[f.url] == f.sha256, f.url
    names = " ".join(f.dest for f in from_nix)
    for wanted in ("kubelet", "kubeadm", "kubectl", "crictl", "cni-plugins", "minio.RELEASE", "mc.RELEASE",
                   "elasticsearch-oss"):
        assert wanted in names


def test_system_images_are_wires():
    script = shared("wire-server-deploy/offline/tasks/proc_system_containers.sh").read_text()
    listed = re.search(r"<<EOF\n(.*?)\nEOF", script, re.S).group(1).split()
    refs = {i.ref for i in load_spec(EXAMPLE).spec.images.refs}
    assert listed and set(listed) <= refs, set(listed) - refs


def test_role_defaults_are_the_examples_files():
    files = {f.dest: f for f in load_spec(EXAMPLE).spec.files}

    def defaults(role: str) -> dict:
        return yaml.safe_load((REPO / "roles" / role / "defaults" / "main.yml").read_text())

    minio = defaults("minio")
    for path, checksum in ((minio["minio_server_path"], minio["minio_server_checksum"]),
                           (minio["minio_client_path"], minio["minio_client_checksum"])):
        assert checksum == f"sha256:{files[path].sha256}", path
    es = defaults("elasticsearch")
    path = es["elasticsearch_deb_path"].replace("{{ elasticsearch_version }}", es["elasticsearch_version"])
    assert es["elasticsearch_deb_checksum"] == f"sha256:{files[path].sha256}"
    cas = defaults("cassandra")
    path = cas["cassandra_tarball_path"].replace("{{ cassandra_version }}", cas["cassandra_version"])
    assert cas["cassandra_tarball_checksum"] == f"sha512:{files[path].sha512}"
    k8s = defaults("kubernetes")
    version = k8s["kubernetes_cni_manifest"]["path"].rsplit("-v", 1)[1].removesuffix(".yaml")
    refs = {i.ref for i in load_spec(EXAMPLE).spec.images.refs}
    assert f"quay.io/calico/node:v{version}" in refs and f"docker.io/calico/node:v{version}" in refs
