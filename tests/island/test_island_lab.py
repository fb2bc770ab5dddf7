"""End to end on the island lab, offline: build a bundle with the real CLI (real Debian packages for nginx,
docker-registry, chrony and containerd; stand-in images named quay.io/... and docker.io/...; a stand-in file),
copy it into the asset host VM, unpack it there, bootstrap with `wire-bundle deploy`, then use it from another VM.

The asset host VM has no wire-bundle of its own: the unpack runs with this machine's Python into the VM's root
filesystem (the VM's /srv/wire-bundle), standing in for the admin host's wire-bundle. Everything the roles
install comes from the bundle's apt repository; the VMs have no network but the lab bridge.
"""

from __future__ import annotations

import json
import shlex
import shutil
import time

import pytest

from tests.fixtures.lab import HostSpec
from tests.kinds.debs.island import CACHE
from tests.support.archive import member, read_tar, write_tar
from tests.support.cli import run_cli
from tests.support.images import ImageFactory

pytestmark = [pytest.mark.lab, pytest.mark.slow]

BRIG = "quay.io/wire/island-lab-brig:5.0.0"
REDIS = "docker.io/library/island-lab-redis:7"
PACKAGES = ["nginx", "docker-registry", "chrony", "containerd"]
FILE_PATH = "stand-in/tools/helper.bin"
FILE_BYTES = b"stand-in file served by the asset host\n" * 1000
EXTRA = ["-e", "timesync_control_clock=false", "-e", "asset_host_time_control_clock=false"]


@pytest.fixture(scope="module")
def bundle(tmp_path_factory, registry):
    from tests.support.fileserver import FileServer
    from tests.support.specs import bookworm_debs, sha256, write_spec

    factory = ImageFactory(seed="island-lab")
    factory.push(registry, "wire/island-lab-brig", factory.simple("brig", size=2_000_000), tag="5.0.0")
    factory.push(registry, "library/island-lab-redis", factory.simple("redis", size=1_000_000), tag="7")
    tmp = tmp_path_factory.mktemp("island-bundle")
    with FileServer({"/dl/helper.bin": FILE_BYTES}) as files:
        spec = write_spec(
            tmp / "island.yaml", name="island-lab",
            registries={"quay.io": {"mirror": registry.host}, "docker.io": {"mirror": registry.host},
                        registry.host: {"insecure": True}},
            images={"refs": [BRIG, REDIS]},
            debs=bookworm_debs(PACKAGES),
            files=[{"url": f"{files.url}/dl/helper.bin", "sha256": sha256(FILE_BYTES), "path": FILE_PATH}])
        r = run_cli("build", spec, "-o", tmp / "island.tar.zst", "--cache-dir",
                    CACHE / "debs-cache", "-q", timeout=1500)
    assert r.rc == 0, r.err
    index = {m["annotations"]["org.opencontainers.image.ref.name"]: m["digest"]
             for m in json.loads(member(tmp / "island.tar.zst", "images/index.json"))["manifests"]}
    return {"archive": tmp / "island.tar.zst", "digests": index, "tmp": tmp}


@pytest.fixture(scope="module")
def island(make_lab, bundle):
    lab = make_lab("island", [HostSpec(name="asset", groups=["assethost"]),
                              HostSpec(name="vm1", groups=["kube_node"])])
    asset_root = lab.host("asset").root
    # "Copy it into the asset host": the archive lands in the VM's filesystem, then is unpacked there.
    shutil.copyfile(bundle["archive"], asset_root / "root" / "island.tar.zst")
    r = run_cli("unpack", asset_root / "root" / "island.tar.zst", "--to", asset_root / "srv" / "wire-bundle")
    assert r.rc == 0, r.err
    started = time.monotonic()
    r = run_cli("deploy", "-i", lab.inventory_path, "bootstrap.yml", *EXTRA, "--run-dir", bundle["tmp"] / "run1",
                timeout=1500)
    print(f"\nfirst bootstrap: {time.monotonic() - started:.0f} s\n{r.out}")
    assert r.rc == 0, r.out + r.err
    return lab


def _assert_nothing_changed(deploy):
    recap = [ln for ln in deploy.out.splitlines() if "ok=" in ln]
    assert len(recap) == 2 and all("changed=0 " in ln for ln in recap), deploy.out


def _py(lab, host, code):
    return lab.run(host, f"python3 -c {shlex.quote(code)}")


def test_bootstrap_recap_names_every_host(island, bundle):
    events = (bundle["tmp"] / "run1" / "events.jsonl").read_text().splitlines()
    hosts = {json.loads(e)["host"] for e in events}
    assert hosts == {"asset", "vm1"}
    assert list((bundle["tmp"] / "run1" / "artifacts" / "run" / "job_events").glob("*.json"))


def test_vm_installs_a_bundled_package_from_the_asset_host(island):
    asset = island.host("asset").address
    r = island.run("vm1", "apt-get install -y --no-install-recommends containerd")
    assert r.returncode == 0, r.stdout + r.stderr
    policy = island.run("vm1", "apt-cache policy containerd").stdout
    assert f"http://{asset}/debs bookworm/main" in policy
    sources = island.run("vm1", "ls /etc/apt/sources.list.d /etc/apt").stdout
    assert "sources.list.wire-bundle-disabled" in sources  # the online source is kept, restorable
    assert island.run("vm1", "grep -h ^URIs /etc/apt/sources.list.d/*.sources").stdout.split() == \
        ["URIs:", f"http://{asset}/debs"]


def test_ctr_pulls_original_names_through_the_mirror_with_the_bundles_digest(island, bundle):
    island.run("vm1", "systemctl start containerd", check=True)
    for ref in (f"quay.io/wire/island-lab-brig@{bundle['digests'][BRIG]}", REDIS):
        r = island.run("vm1", f"ctr -n island images pull --hosts-dir /etc/containerd/certs.d {ref}", timeout=180)
        assert r.returncode == 0, r.stdout + r.stderr
    listing = island.run("vm1", "ctr -n island images ls", check=True).stdout
    assert bundle["digests"][BRIG] in listing and bundle["digests"][REDIS] in listing
    assert "docker.io/library/island-lab-redis:7" in listing


def test_an_image_not_in_the_bundle_fails_cleanly(island):
    island.run("vm1", "systemctl start containerd", check=True)
    started = time.monotonic()
    r = island.run("vm1", "ctr -n island images pull --hosts-dir /etc/containerd/certs.d "
                          "quay.io/wire/not-in-the-bundle:1.0", timeout=180)
    assert r.returncode != 0
    assert "not-in-the-bundle" in r.stderr and ("not found" in r.stderr or "failed to resolve" in r.stderr)
    assert time.monotonic() - started < 120


def test_files_are_served_read_only(island):
    asset = island.host("asset").address
    r = _py(island, "vm1", f"import urllib.request,hashlib;print(hashlib.sha256(urllib.request.urlopen("
                           f"'http://{asset}/files/{FILE_PATH}').read()).hexdigest())")
    import hashlib

    assert r.stdout.strip() == hashlib.sha256(FILE_BYTES).hexdigest(), r.stderr
    for method, path in (("PUT", f"/files/{FILE_PATH}"), ("DELETE", f"/files/{FILE_PATH}"),
                         ("GET", "/bundle.json"), ("POST", "/v2/quay.io/wire/island-lab-brig/blobs/uploads/")):
        port = ":5000" if path.startswith("/v2/") else ""
        r = _py(island, "vm1", "import urllib.request,urllib.error\n"
                               f"req=urllib.request.Request('http://{asset}{port}{path}',data=b'x',method='{method}')\n"
                               "try:\n urllib.request.urlopen(req);print(200)\n"
                               "except urllib.error.HTTPError as e: print(e.code)")
        assert r.stdout.strip() in ("403", "404", "405", "503"), (method, path, r.stdout, r.stderr)


def test_vm_follows_the_asset_hosts_clock(island):
    asset = island.host("asset").address
    for _ in range(30):
        out = island.run("vm1", "chronyc -n sources").stdout
        if f"^* {asset}" in out:
            break
        time.sleep(2)
    assert f"^* {asset}" in out


def test_second_bootstrap_changes_nothing(island, bundle):
    r = run_cli("deploy", "-i", island.inventory_path, "bootstrap.yml", *EXTRA, "--run-dir", bundle["tmp"] / "run2",
                timeout=1500)
    assert r.rc == 0, r.out + r.err
    _assert_nothing_changed(r)


def test_a_tampered_bundle_is_refused_and_nothing_is_served_from_it(island, bundle, tmp_path):
    members = read_tar(bundle["archive"])
    deb = next(i for i, (m, _) in enumerate(members) if m.name.endswith(".deb") and "chrony" in m.name)
    info, data = members[deb]
    members[deb] = (info, data[:-1] + bytes([data[-1] ^ 1]))
    tampered = island.host("asset").root / "root" / "tampered.tar.zst"
    write_tar(tampered, members)
    other = island.host("asset").root / "srv" / "other"
    r = run_cli("unpack", tampered, "--to", other)
    assert r.rc == 1 and "sha256 mismatch" in r.err and info.name in r.err, r.out + r.err
    assert not other.exists() and not [p for p in other.parent.iterdir() if ".unpacking-" in p.name]
    # Over the served directory: it holds this bundle (same bundle.json), but the archive's bytes are not the ones
    # recorded at unpack, so the tampered archive is verified in full and refused; the served bytes stay.
    served = island.host("asset").root / "srv" / "wire-bundle"
    marker = (served / ".wire-bundle-unpacked.json").read_text()
    r = run_cli("unpack", tampered, "--to", served, "--replace")
    assert r.rc == 1 and "sha256 mismatch" in r.err, r.out + r.err
    assert (served / ".wire-bundle-unpacked.json").read_text() == marker
    asset = island.host("asset").address
    r = _py(island, "vm1", f"import urllib.request,hashlib;print(hashlib.sha256(urllib.request.urlopen("
                           f"'http://{asset}/{info.name}').read()).hexdigest())")
    import hashlib

    assert r.stdout.strip() == hashlib.sha256(data).hexdigest()  # the original bytes, not the tampered ones
    # The asset host role serves only a directory with the unpack marker: the refused bundle's would-be place
    # stops the bootstrap with the reason.
    r = run_cli("deploy", "-i", island.inventory_path, "bootstrap.yml", *EXTRA, "--limit", "assethost",
                "-e", "asset_host_bundle_dir=/srv/other", "--run-dir", tmp_path / "run-refused", timeout=600)
    assert r.rc == 1 and "/srv/other holds no unpacked bundle" in r.err, r.out + r.err


def _self_signed(address: str, out_dir):
    import datetime
    import ipaddress

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "stand-in island asset host")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(hours=1))
            .not_valid_after(now + datetime.timedelta(days=2))
            .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address(address))]), False)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), True)
            .sign(key, hashes.SHA256()))
    (out_dir / "asset.crt").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    (out_dir / "asset.key").write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                                          serialization.PrivateFormat.PKCS8,
                                                          serialization.NoEncryption()))
    return out_dir / "asset.crt", out_dir / "asset.key"


def test_tls_when_the_operator_gives_a_certificate(island, bundle, tmp_path):
    asset = island.host("asset").address
    cert, key = _self_signed(asset, tmp_path)
    tls = ["-e", f"asset_host_tls_certificate={cert}", "-e", f"asset_host_tls_key={key}",
           "-e", f"wire_asset_url=https://{asset}", "-e", f"offline_sources_tls_ca={cert}"]
    r = run_cli("deploy", "-i", island.inventory_path, "bootstrap.yml", *EXTRA, *tls,
                "--run-dir", tmp_path / "run-tls", timeout=1500)
    assert r.rc == 0, r.out + r.err
    r = run_cli("deploy", "-i", island.inventory_path, "bootstrap.yml", *EXTRA, *tls,
                "--run-dir", tmp_path / "run-tls-again", timeout=1500)
    assert r.rc == 0, r.out + r.err
    _assert_nothing_changed(r)
    assert island.run("vm1", "grep -h ^URIs /etc/apt/sources.list.d/*.sources").stdout.split() == \
        ["URIs:", f"https://{asset}/debs"]
    r = island.run("vm1", "apt-get update && apt-get install -y --reinstall --no-install-recommends chrony")
    assert r.returncode == 0 and f"https://{asset}/debs" in r.stdout, r.stdout + r.stderr
    r = _py(island, "vm1", "import http.client\n"
                           f"c=http.client.HTTPConnection('{asset}');c.request('GET','/files/{FILE_PATH}')\n"
                           "x=c.getresponse();print(x.status,x.getheader('Location'))")
    assert r.stdout.split() == ["301", f"https://{asset}:443/files/{FILE_PATH}"], r.stdout + r.stderr
    # The registry speaks https with the same certificate, and only https; containerd trusts the operator's CA.
    toml = island.run("vm1", "cat /etc/containerd/certs.d/quay.io/hosts.toml", check=True).stdout
    assert f'[host."https://{asset}:5000/v2/quay.io"]' in toml
    assert 'ca = "/etc/containerd/certs.d/wire-bundle-ca.crt"' in toml
    island.run("vm1", "systemctl start containerd", check=True)
    ref = f"quay.io/wire/island-lab-brig@{bundle['digests'][BRIG]}"
    r = island.run("vm1", f"ctr -n tls images pull --hosts-dir /etc/containerd/certs.d {ref}", timeout=180)
    assert r.returncode == 0, r.stdout + r.stderr
    r = _py(island, "vm1", "import ssl,urllib.request\n"
                           "def get(url, ctx=None):\n"
                           " try: return urllib.request.urlopen(url, context=ctx).status\n"
                           " except Exception as e: return type(e).__name__ + ':' + str(getattr(e, 'code', ''))\n"
                           f"print(get('http://{asset}:5000/v2/'))\n"
                           f"print(get('https://{asset}:5000/v2/'))\n"
                           f"print(get('https://{asset}:5000/v2/',"
                           " ssl.create_default_context(cafile='/etc/containerd/certs.d/wire-bundle-ca.crt')))")
    assert r.stdout.split() == ["HTTPError:400", "URLError:", "200"], r.stdout + r.stderr
