"""The test helpers themselves: the real registry starts and stores what we push, skopeo and buildah agree
with our digests, and the fault proxy really injects its faults."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess

import pytest
import requests

from tests.support import buildah
from tests.support.images import (
    DOCKER_LIST,
    DOCKER_MANIFEST,
    OCI_INDEX,
    OCI_MANIFEST,
    ImageFactory,
    RegistryClient,
    sha256_digest,
)


def skopeo_inspect(ref: str, *, raw: bool = False, auth: tuple[str, str] | None = None) -> str:
    cmd = ["skopeo", "inspect", "--tls-verify=false", "--no-tags"]
    if raw:
        cmd.append("--raw")
    if auth:
        cmd += ["--creds", f"{auth[0]}:{auth[1]}"]
    proc = subprocess.run([*cmd, f"docker://{ref}"], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


# -- the registry ---------------------------------------------------------------------------------------
def test_registry_answers_v2_and_logs_access(fresh_registry):
    r = requests.get(f"{fresh_registry.url}/v2/", timeout=30)
    assert r.status_code == 200
    assert r.headers["Docker-Distribution-Api-Version"] == "registry/2.0"
    assert fresh_registry.host == fresh_registry.url.removeprefix("http://")
    seen = fresh_registry.wait_for_request(lambda e: (e.method, e.path, e.status) == ("GET", "/v2/", 200))
    assert seen[-1].user_agent.startswith("python-requests/")
    assert any('"GET /v2/ HTTP/1.1" 200' in line for line in fresh_registry.access_log())


def test_registry_stop_ends_the_process(tmp_path):
    from tests.support.registry import Registry

    reg = Registry(tmp_path)
    pid = reg._proc.pid
    reg.stop()
    assert not reg.running
    # The process is gone (a request to the old port could reach another developer's fresh registry).
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)


def test_auth_registry_requires_basic_credentials(auth_registry):
    anon = requests.get(f"{auth_registry.url}/v2/", timeout=30)
    assert anon.status_code == 401
    assert anon.headers["WWW-Authenticate"].startswith("Basic ")
    wrong = requests.get(f"{auth_registry.url}/v2/", auth=(auth_registry.username, "wrong"), timeout=30)
    assert wrong.status_code == 401
    ok = requests.get(f"{auth_registry.url}/v2/", auth=auth_registry.auth, timeout=30)
    assert ok.status_code == 200


# -- pushing images --------------------------------------------------------------------------------------
@pytest.mark.parametrize("docker", [False, True], ids=["oci", "docker"])
@pytest.mark.parametrize("chunked", [False, True], ids=["monolithic", "chunked"])
def test_push_then_pull_back_same_digests(registry, image_factory, docker, chunked):
    img = image_factory.simple("brig", size=300_000, docker=docker)
    pushed = image_factory.push(registry, "push/brig", img, tag="v1", chunked=chunked)
    assert pushed.digest == img.digest
    assert pushed.media_type == (DOCKER_MANIFEST if docker else OCI_MANIFEST)

    client = RegistryClient.for_registry(registry)
    body, media_type, header_digest = client.get_manifest("push/brig", "v1")
    assert body == img.manifest
    assert media_type == pushed.media_type
    assert header_digest == sha256_digest(body) == img.digest
    manifest = json.loads(body)
    for desc in [manifest["config"], *manifest["layers"]]:
        data = client.get_blob("push/brig", desc["digest"])
        assert len(data) == desc["size"]
        assert "sha256:" + hashlib.sha256(data).hexdigest() == desc["digest"]


def test_images_share_the_base_layer(registry, image_factory):
    first = image_factory.push(registry, "share/brig", image_factory.simple("brig"), tag="1")
    second_img = image_factory.simple("galley")
    second = image_factory.push(registry, "share/galley", second_img, tag="1")
    base = image_factory.layer("base")
    assert base.digest in first.blobs_uploaded
    assert second_img.layers[0].digest == base.digest
    # The second repository gets the base by cross-repo mount: no bytes sent, yet it serves the blob.
    assert base.digest in second.blobs_mounted
    assert base.digest not in second.blobs_uploaded
    assert RegistryClient.for_registry(registry).get_blob("share/galley", base.digest) == base.data
    again = image_factory.push(registry, "share/brig", image_factory.simple("brig2"), tag="2")
    assert base.digest not in again.blobs_uploaded + again.blobs_mounted


def test_content_is_deterministic_and_sized():
    a, b, c = ImageFactory(seed=7), ImageFactory(seed=7), ImageFactory(seed=8)
    assert a.simple("x").digest == b.simple("x").digest
    assert a.simple("x").digest != c.simple("x").digest
    layer = a.layer("big", size=2_000_000)
    # Random bytes do not compress: the blob is the requested size plus tar and gzip framing.
    assert 2_000_000 <= layer.size < 2_000_000 + 8192


@pytest.mark.parametrize("docker", [False, True], ids=["oci-index", "docker-list"])
def test_multiarch_index_by_tag_and_per_platform_digests(registry, image_factory, docker):
    index = image_factory.multiarch("cannon", docker=docker)
    pushed = image_factory.push(registry, "multi/cannon", index, tag="2.0")
    assert pushed.digest == index.digest
    client = RegistryClient.for_registry(registry)
    body, media_type, digest = client.get_manifest("multi/cannon", "2.0")
    assert media_type == (DOCKER_LIST if docker else OCI_INDEX)
    assert digest == index.digest
    platforms = {(m["platform"]["os"], m["platform"]["architecture"]): m["digest"]
                 for m in json.loads(body)["manifests"]}
    assert set(platforms) == {("linux", "amd64"), ("linux", "arm64")}
    arm = index.image_for("linux", "arm64", "v8")
    assert platforms[("linux", "arm64")] == arm.digest
    assert client.get_manifest("multi/cannon", arm.digest)[2] == arm.digest


def test_push_to_auth_registry(auth_registry, image_factory):
    img = image_factory.simple("spar")
    pushed = image_factory.push(auth_registry, "auth/spar", img, tag="1")
    assert pushed.digest == img.digest
    anon = requests.get(f"{auth_registry.url}/v2/auth/spar/manifests/1", timeout=30)
    assert anon.status_code == 401


# -- interop with skopeo and buildah --------------------------------------------------------------------
def test_skopeo_inspect_agrees_with_our_digests(registry, auth_registry, image_factory):
    img = image_factory.simple("nginz", docker=True)
    index = image_factory.multiarch("nginz")
    image_factory.push(registry, "skopeo/nginz", img, tag="single")
    image_factory.push(registry, "skopeo/nginz", index, tag="multi")
    info = json.loads(skopeo_inspect(f"{registry.host}/skopeo/nginz:single"))
    assert info["Digest"] == img.digest
    assert info["Layers"] == [layer.digest for layer in img.layers]
    assert info["Labels"]["stand-in.name"] == "nginz"
    raw = skopeo_inspect(f"{registry.host}/skopeo/nginz:multi", raw=True)
    assert sha256_digest(raw.encode()) == index.digest
    # Pinned by digest, through basic auth.
    pushed = image_factory.push(auth_registry, "skopeo/nginz", img)
    info = json.loads(skopeo_inspect(pushed.ref, auth=auth_registry.auth))
    assert info["Digest"] == img.digest


@pytest.mark.parametrize("fmt", ["oci", "docker"])
def test_buildah_image_is_pushed_and_readable(tmp_path, registry, fmt):
    built = buildah.build_and_push(tmp_path, registry, f"buildah/{fmt}", "1",
                                   files={"stand-in/a.txt": b"a\n", "etc/stand-in.conf": b"x=1\n"}, fmt=fmt)
    try:
        client = RegistryClient.for_registry(registry)
        body, media_type, digest = client.get_manifest(built.repo, built.tag)
        assert digest == built.digest == sha256_digest(body)
        assert media_type == (OCI_MANIFEST if fmt == "oci" else DOCKER_MANIFEST)
        info = json.loads(skopeo_inspect(built.tag_ref))
        assert info["Digest"] == built.digest
        assert info["Labels"]["org.opencontainers.image.title"] == "stand-in"
    finally:
        buildah.cleanup(tmp_path)


# -- the fault proxy ----------------------------------------------------------------------------------------
@pytest.fixture
def blob_behind_proxy(registry, fault_proxy, image_factory):
    img = image_factory.simple("cargohold", size=500_000)
    image_factory.push(registry, "fault/cargohold", img, tag="1")
    layer = img.layers[1]
    return fault_proxy, layer, f"{fault_proxy.url}/v2/fault/cargohold/blobs/{layer.digest}"


def test_proxy_passes_through_untouched(blob_behind_proxy):
    proxy, layer, url = blob_behind_proxy
    r = requests.get(url, timeout=30)
    assert r.status_code == 200 and r.content == layer.data
    assert [(rec.method, rec.status, rec.fault) for rec in proxy.requests] == [("GET", 200, None)]


def test_proxy_cuts_once_and_logs_the_resumed_range(blob_behind_proxy):
    proxy, layer, url = blob_behind_proxy
    proxy.cut_after(100_000)
    with pytest.raises(requests.exceptions.ChunkedEncodingError):
        requests.get(url, timeout=30).content  # noqa: B018 - reading the body is the point
    # A client that kept the first 100000 bytes asks for the rest.
    r = requests.get(url, headers={"Range": "bytes=100000-"}, timeout=30)
    assert r.status_code == 206
    assert r.content == layer.data[100_000:]
    assert [rec.range for rec in proxy.range_requests()] == ["bytes=100000-"]
    assert [rec.fault for rec in proxy.requests] == ["cut", None]
    # Fired once: the next full download is whole.
    assert requests.get(url, timeout=30).content == layer.data


def test_proxy_flips_one_byte_once(blob_behind_proxy):
    proxy, layer, url = blob_behind_proxy
    proxy.flip_byte(offset=12345)
    bad = requests.get(url, timeout=30).content
    assert len(bad) == layer.size
    diff = [i for i in range(layer.size) if bad[i] != layer.data[i]]
    assert diff == [12345]
    assert sha256_digest(bad) != layer.digest
    assert requests.get(url, timeout=30).content == layer.data


def test_proxy_fails_k_times_then_passes(blob_behind_proxy):
    proxy, layer, url = blob_behind_proxy
    proxy.fail(times=3, status=503)
    statuses = [requests.get(url, timeout=30).status_code for _ in range(4)]
    assert statuses == [503, 503, 503, 200]


def test_proxy_faults_only_hit_matching_paths(blob_behind_proxy):
    proxy, layer, url = blob_behind_proxy
    proxy.fail(times=1, path=r"/manifests/")
    assert requests.get(url, timeout=30).status_code == 200
    man = url.replace(f"/blobs/{layer.digest}", "/manifests/1")
    assert requests.get(man, headers={"Accept": OCI_MANIFEST}, timeout=30).status_code == 500
    assert requests.get(man, headers={"Accept": OCI_MANIFEST}, timeout=30).status_code == 200


def test_proxy_passes_auth_and_rewrites_upload_location(auth_registry, fault_proxy_factory, image_factory):
    proxy = fault_proxy_factory(auth_registry)
    anon = requests.get(f"{proxy.url}/v2/", timeout=30)
    assert anon.status_code == 401
    assert anon.headers["WWW-Authenticate"] == 'Basic realm="wire-bundle-tests"'
    assert requests.get(f"{proxy.url}/v2/", auth=auth_registry.auth, timeout=30).status_code == 200
    start = requests.post(f"{proxy.url}/v2/viaproxy/x/blobs/uploads/", auth=auth_registry.auth, timeout=30)
    assert start.status_code == 202
    assert start.headers["Location"].startswith(proxy.url + "/v2/viaproxy/x/blobs/uploads/")
    # A whole push through the proxy, chunked, lands in the registry behind it.
    img = image_factory.simple("federator", size=200_000)
    pushed = image_factory.push(proxy, "viaproxy/federator", img, tag="1", chunked=True)
    direct = RegistryClient.for_registry(auth_registry).get_manifest("viaproxy/federator", "1")
    assert direct[2] == pushed.digest == img.digest
    assert all(rec.headers.get("Authorization", "").startswith("Basic ")
               for rec in proxy.requests_to("/viaproxy/federator/", method="PUT"))


def test_proxy_refuses_non_loopback_upstream():
    from tests.support.faultproxy import FaultProxy

    with pytest.raises(ValueError, match="loopback"):
        FaultProxy("http://10.0.0.1:5000")


# -- token auth -----------------------------------------------------------------------------------------------
def test_token_registry_runs_the_bearer_flow(token_registry, image_factory):
    challenge = requests.get(f"{token_registry.url}/v2/", timeout=30)
    assert challenge.status_code == 401
    assert challenge.headers["WWW-Authenticate"].startswith(
        f'Bearer realm="{token_registry.token_server.realm}",service=')
    img = image_factory.simple("gundeck")
    pushed = image_factory.push(token_registry, "token/gundeck", img, tag="1")
    assert pushed.digest == img.digest
    granted = token_registry.token_server.issued[-1]
    assert granted.user == token_registry.username
    # docker-registry's challenge lists the actions in either order (a Go map): the grant echoes the request.
    assert [{**g, "actions": sorted(g["actions"])} for g in granted.granted] == [
        {"type": "repository", "name": "token/gundeck", "actions": ["pull", "push"]}]
    # Anonymous: pull is granted, push is not.
    assert json.loads(skopeo_inspect(pushed.tag_ref))["Digest"] == img.digest
    with pytest.raises(Exception, match="HTTP 401"):
        image_factory.push(RegistryClient(token_registry.url), "token/gundeck", image_factory.simple("x"))


def test_token_registry_rejects_tokens_from_another_signer(tmp_path, token_registry):
    from tests.support.tokenserver import TokenServer

    forger = TokenServer(tmp_path, user="u", password="p")
    try:
        access = [{"type": "repository", "name": "token/x", "actions": ["pull"]}]
        forged = forger.make_token(access, "u")
        real = token_registry.token_server.make_token(access, "u")
        url = f"{token_registry.url}/v2/token/x/tags/list"
        assert requests.get(url, headers={"Authorization": f"Bearer {forged}"}, timeout=30).status_code == 401
        # The genuine signer gets past auth (404: the repository is empty).
        assert requests.get(url, headers={"Authorization": f"Bearer {real}"}, timeout=30).status_code == 404
    finally:
        forger.stop()


def test_proxy_serves_as_http_proxy_for_loopback_only(registry, fault_proxy):
    session = requests.Session()
    session.trust_env = False
    session.proxies = {"http": fault_proxy.url}
    fault_proxy.fail(times=1, path=r"^/v2/$")
    assert session.get(f"{registry.url}/v2/", timeout=30).status_code == 500
    assert session.get(f"{registry.url}/v2/", timeout=30).status_code == 200
    assert [(r.path, r.forward_proxy) for r in fault_proxy.requests] == [("/v2/", True)] * 2
    # Never a way out of the machine: a non-loopback origin is refused without being contacted.
    assert session.get("http://registry.example.invalid/v2/", timeout=30).status_code == 403


# -- skopeo wrappers and the parsed access log ------------------------------------------------------------------
def test_skopeo_roundtrip_through_an_oci_layout_keeps_digests(tmp_path, registry, image_factory):
    from tests.support import skopeo

    index = image_factory.multiarch("brig")
    image_factory.push(registry, "roundtrip/src", index, tag="1")
    layout = tmp_path / "layout"
    skopeo.copy(f"docker://{registry.host}/roundtrip/src:1", f"oci:{layout}:quay.io/wire/brig:1",
                all_platforms=True)
    ref_names = [m["annotations"]["org.opencontainers.image.ref.name"]
                 for m in json.loads((layout / "index.json").read_text())["manifests"]]
    assert ref_names == ["quay.io/wire/brig:1"]
    skopeo.copy(f"oci:{layout}:quay.io/wire/brig:1", f"docker://{registry.host}/roundtrip/dst:1",
                all_platforms=True)
    assert skopeo.inspect_digest(f"{registry.host}/roundtrip/dst:1") == index.digest
    raw = skopeo.run("inspect", "--raw", "--tls-verify=false", f"docker://{registry.host}/roundtrip/dst:1")
    assert sha256_digest(raw.encode()) == index.digest
    assert skopeo.inspect(f"{registry.host}/roundtrip/dst:1", raw=True)["mediaType"] == OCI_INDEX
    with pytest.raises(skopeo.SkopeoError, match="skopeo copy failed"):
        skopeo.copy(f"oci:{layout}:no-such-ref", f"docker://{registry.host}/roundtrip/x:1")


def test_access_log_parsed_with_status_and_bytes(fresh_registry, image_factory):
    img = image_factory.simple("galley", size=50_000)
    image_factory.push(fresh_registry, "log/galley", img, tag="1")
    layer = img.layers[1]
    url = f"{fresh_registry.url}/v2/log/galley/blobs/{layer.digest}"
    requests.get(url, timeout=30)
    requests.get(url, headers={"Range": "bytes=40000-"}, timeout=30)
    seen = fresh_registry.wait_for_request(lambda e: e.status == 206)
    gets = [e for e in seen if e.method == "GET" and layer.digest in e.path]
    assert [(e.status, e.bytes_sent) for e in gets] == [(200, layer.size), (206, layer.size - 40_000)]
    puts = [e for e in seen if e.method == "PUT"]
    assert puts[-1].path == "/v2/log/galley/manifests/1" and puts[-1].status == 201


def test_body_faults_wait_for_a_body_long_enough(registry, fault_proxy, image_factory):
    img = image_factory.simple("brig", size=300_000)
    image_factory.push(registry, "fault/long", img, tag="1")
    base = f"{fault_proxy.url}/v2/fault/long/blobs/"
    fault_proxy.cut_after(100_000)
    fault_proxy.flip_byte(offset=200_000)
    # The config (a few hundred bytes) and the small base layer pass untouched, keeping both faults armed.
    assert requests.get(base + img.config.digest, timeout=30).content == img.config.data
    assert requests.get(base + img.layers[0].digest, timeout=30).content == img.layers[0].data
    with pytest.raises(requests.exceptions.ChunkedEncodingError):
        requests.get(base + img.layers[1].digest, timeout=30).content  # noqa: B018
    flipped = requests.get(base + img.layers[1].digest, timeout=30).content
    assert flipped[200_000] != img.layers[1].data[200_000] and flipped[200_001:] == img.layers[1].data[200_001:]
    assert [r.fault for r in fault_proxy.requests] == [None, None, "cut", "flip"]
