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
import yaml

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


REDIS_NEXT = "docker.io/library/island-lab-redis:7.1"
FILE_BYTES_NEXT = b"the next release's stand-in file\n" * 1000
CHANGED_ON_UPGRADE = {"Seed the registry from the bundle's images (hard links, no copy) and record the bundle as "
                      "served", "Restart the registry"}


@pytest.fixture(scope="module")
def upgraded(island, bundle, registry):
    """The island upgraded in place: the next release (redis rebuilt with a new top layer, the stand-in file
    changed) built as a delta on the served bundle, unpacked onto it on the asset host, bootstrap run again."""
    from tests.support.fileserver import FileServer
    from tests.support.specs import pinned_files

    factory = ImageFactory(seed="island-lab")
    factory.push(registry, "library/island-lab-redis",
                 factory.image([factory.layer("base", 4096), factory.layer("redis-next", 300_000)]), tag="7.1")
    tmp = bundle["tmp"]
    spec = yaml.safe_load((tmp / "island.yaml").read_text())
    spec["images"]["refs"] = [BRIG, REDIS_NEXT]
    asset_root = island.host("asset").root
    served = asset_root / "srv" / "wire-bundle"
    before = json.loads((served / ".wire-bundle-unpacked.json").read_text())
    started = time.monotonic()
    with FileServer({"/" + FILE_PATH: FILE_BYTES_NEXT}) as files:
        spec["files"] = pinned_files(files.url, {FILE_PATH: FILE_BYTES_NEXT})
        (tmp / "next.yaml").write_text(yaml.safe_dump(spec, sort_keys=False))
        r = run_cli("build", tmp / "next.yaml", "--base", bundle["archive"], "-o", tmp / "next.delta.tar.zst",
                    "--cache-dir", CACHE / "debs-cache", "-q", timeout=900)
    assert r.rc == 0, r.err
    built = time.monotonic() - started
    shutil.copyfile(tmp / "next.delta.tar.zst", asset_root / "root" / "next.delta.tar.zst")
    r = run_cli("unpack", asset_root / "root" / "next.delta.tar.zst", "--to", served)
    assert r.rc == 0 and "taken from the base" in r.out, r.out + r.err
    started = time.monotonic()
    r = run_cli("deploy", "-i", island.inventory_path, "bootstrap.yml", *EXTRA, "--limit", "assethost",
                "--run-dir", tmp / "run-upgrade", timeout=900)
    print(f"\nupgrade: delta built in {built:.0f} s, bootstrap again in {time.monotonic() - started:.0f} s")
    assert r.rc == 0, r.out + r.err
    index = {m["annotations"]["org.opencontainers.image.ref.name"]: m["digest"]
             for m in json.loads((served / "images" / "index.json").read_text())["manifests"]}
    after = json.loads((served / ".wire-bundle-unpacked.json").read_text())
    return {"run": tmp / "run-upgrade", "delta": tmp / "next.delta.tar.zst", "served": served, "digests": index,
            "old": before["content_digest"], "new": after["content_digest"], "old_name": before["name"]}


def _results(run_dir, task):
    events = [json.loads(p.read_text()) for p in (run_dir / "artifacts" / "run" / "job_events").glob("*.json")]
    return [e["event_data"]["res"] for e in events
            if e["event"] == "runner_on_ok" and e["event_data"].get("task") == task]


def _registry_blobs(island):
    return {p.name for p in (island.host("asset").root / "srv" / "wire-bundle-registry" / "docker" / "registry"
                             / "v2" / "blobs" / "sha256").glob("*/*")}


def _asks(island, path, port=""):
    """From vm1, what the asset host answers for path: status and Docker-Content-Digest (or the body's sha256)."""
    asset = island.host("asset").address
    accept = ("application/vnd.oci.image.manifest.v1+json, application/vnd.docker.distribution.manifest.v2+json, "
              "application/vnd.oci.image.index.v1+json")
    r = _py(island, "vm1", "import urllib.request,urllib.error,hashlib\n"
                           f"req=urllib.request.Request('http://{asset}{port}{path}',headers={{'Accept':'{accept}'}})\n"
                           "try:\n x=urllib.request.urlopen(req);b=x.read()\n"
                           " print(x.status,x.headers.get('Docker-Content-Digest') or hashlib.sha256(b).hexdigest())\n"
                           "except urllib.error.HTTPError as e: print(e.code,'-')")
    return r.stdout.split()


def test_upgrade_links_only_the_new_blobs_and_changes_only_the_registry(island, upgraded):
    from tests.support.archive import read_tar

    delta = json.loads(next(data for info, data in read_tar(upgraded["delta"]) if info.name == "delta.json"))
    blobs = upgraded["served"] / "images" / "blobs" / "sha256"
    carried = [p.name for p in blobs.iterdir() if f"images/blobs/sha256/{p.name}" not in delta["from_base"]]
    assert len(carried) == 3  # redis 7.1's manifest, config and new top layer; its base layer is the old one's
    seeded = _results(upgraded["run"], "Seed the registry from the bundle's images (hard links, no copy) and record "
                                       "the bundle as served")
    assert len(seeded) == 1 and seeded[0]["linked"] == len(carried), seeded
    storage = island.host("asset").root / "srv" / "wire-bundle-registry" / "docker" / "registry" / "v2"
    for blob in blobs.iterdir():
        data = storage / "blobs" / "sha256" / blob.name[:2] / blob.name / "data"
        assert data.stat().st_ino == blob.stat().st_ino  # every blob, old and new: the unpacked file itself
    changed = {json.loads(ln)["task"] for ln in (upgraded["run"] / "events.jsonl").read_text().splitlines()
               if json.loads(ln)["changed"]}
    assert changed == CHANGED_ON_UPGRADE, changed
    assert [b["content_digest"] for b in seeded[0]["served"]] == [upgraded["old"], upgraded["new"]]


def test_another_vm_pulls_the_bumped_image_and_the_previous_release_is_still_served(island, bundle, upgraded):
    # containerd as test_vm_installs_a_bundled_package_from_the_asset_host left it (installed there when run alone)
    island.run("vm1", "command -v ctr || apt-get install -y --no-install-recommends containerd", check=True,
               timeout=300)
    island.run("vm1", "systemctl start containerd", check=True)
    r = island.run("vm1", f"ctr -n upgrade images pull --hosts-dir /etc/containerd/certs.d {REDIS_NEXT}", timeout=180)
    assert r.returncode == 0, r.stdout + r.stderr
    assert upgraded["digests"][REDIS_NEXT] in island.run("vm1", "ctr -n upgrade images ls", check=True).stdout
    # The previous release: its tag and digest in the registry, its file under /bundles/<its content digest>/.
    old = bundle["digests"][REDIS]
    assert _asks(island, "/v2/docker.io/library/island-lab-redis/manifests/7", ":5000") == ["200", old]
    import hashlib

    old_file = f"/bundles/{upgraded['old'][7:]}/files/{FILE_PATH}"
    assert _asks(island, old_file) == ["200", hashlib.sha256(FILE_BYTES).hexdigest()]
    assert _asks(island, f"/files/{FILE_PATH}") == ["200", hashlib.sha256(FILE_BYTES_NEXT).hexdigest()]
    assert _asks(island, f"/bundles/{upgraded['old'][7:]}/bundle.json")[0] == "404"


def test_prune_refuses_while_a_release_uses_the_old_image_then_removes_only_its_blobs(island, bundle, upgraded,
                                                                                      tmp_path):
    from pathlib import Path

    records = Path(island.inventory_path).parent / "artifacts" / "releases"
    records.mkdir(parents=True, exist_ok=True)
    old_ref = f"{REDIS}@{bundle['digests'][REDIS]}"
    (records / "cache.json").write_text(json.dumps({"name": "cache", "images": [old_ref]}))
    (records / "brig.json").write_text(json.dumps({"name": "brig", "images": [BRIG]}))
    before = _registry_blobs(island)
    served_root = island.host("asset").root / "srv" / "wire-bundle-served"
    record = (served_root / "served.json").read_text()
    try:
        r = run_cli("prune", "-i", island.inventory_path, "--run-dir", tmp_path / "refused", timeout=600)
        assert r.rc == 1 and f"release 'cache' still uses {old_ref}" in r.err, r.out + r.err
        assert f"only bundle '{upgraded['old_name']}'" in r.err and "nothing was removed" in r.err, r.err
        assert len(r.err.strip().splitlines()) == 1
        assert _registry_blobs(island) == before and (served_root / "served.json").read_text() == record

        # The release moves to the new image: a dry run lists the old bundle and the old image's own blobs only.
        new_ref = f"{REDIS_NEXT}@{upgraded['digests'][REDIS_NEXT]}"
        (records / "cache.json").write_text(json.dumps({"name": "cache", "images": [new_ref]}))
        r = run_cli("prune", "-i", island.inventory_path, "--dry-run", "--run-dir", tmp_path / "dry", timeout=600)
        assert r.rc == 0, r.out + r.err
        listed = {ln.split()[1].split(":")[1] for ln in r.out.splitlines() if ln.strip().startswith("blob ")}
        assert f"bundle  {upgraded['old_name']}  {upgraded['old']}" in r.out, r.out
        assert _registry_blobs(island) == before
        old_manifest = bundle["digests"][REDIS].split(":")[1]
        assert old_manifest in listed and len(listed) == 3  # the old redis's manifest, config and top layer

        r = run_cli("prune", "-i", island.inventory_path, "--run-dir", tmp_path / "prune", timeout=600)
        assert r.rc == 0 and "stopped serving" in r.out, r.out + r.err
    finally:
        shutil.rmtree(records)
    assert _registry_blobs(island) == before - listed
    assert [b["content_digest"] for b in json.loads((served_root / "served.json").read_text())["bundles"]] == \
        [upgraded["new"]]
    assert sorted(p.name for p in served_root.iterdir()) == sorted(["served.json", upgraded["new"][7:]])
    assert _asks(island, "/v2/docker.io/library/island-lab-redis/manifests/7", ":5000")[0] == "404"
    assert _asks(island, f"/v2/docker.io/library/island-lab-redis/manifests/{bundle['digests'][REDIS]}",
                 ":5000")[0] == "404"
    assert _asks(island, "/v2/docker.io/library/island-lab-redis/manifests/7.1", ":5000") == \
        ["200", upgraded["digests"][REDIS_NEXT]]
    assert _asks(island, f"/v2/quay.io/wire/island-lab-brig/manifests/{bundle['digests'][BRIG]}", ":5000")[0] == \
        "200"
    assert _asks(island, f"/bundles/{upgraded['old'][7:]}/files/{FILE_PATH}")[0] == "404"


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
