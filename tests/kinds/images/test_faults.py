"""Faults on the wire (through a loopback fault proxy), auth, and bad input: clear errors, nothing half-written."""

from __future__ import annotations

import base64
import json

from tests.bundle.conftest import write_spec
from tests.support.cli import run_cli
from tests.support.mounts import tmpfs
from tests.support.netutil import free_port


def _spec_via(tmp_path, host: str, refs: list, extra_regs: dict | None = None):
    regs = {"quay.io": {"mirror": host}, host: {"insecure": True}, **(extra_regs or {})}
    return write_spec(tmp_path / "s.yaml", refs, regs)


def _build(tmp_path, cache, host: str, refs: list, *args: object, env: dict | None = None):
    """`wire-bundle build` of `refs` with quay.io mirrored at `host`, into tmp_path/b.tar.zst."""
    return run_cli("build", _spec_via(tmp_path, host, refs), "-o", tmp_path / "b.tar.zst", "--cache-dir", cache, *args,
                   env=env)


def _no_partials(cache):
    return [p for p in cache.rglob("*") if p.name.endswith(".partial")]


def test_cut_connection_resumes_with_range(tmp_path, registry, fault_proxy, image_factory, cache):
    image_factory.push(registry, "cut/brig", image_factory.simple("brig", size=3 << 20), tag="1")
    big = image_factory.layer("brig:amd64", 3 << 20)
    fault_proxy.cut_after(1 << 20, path=rf"/blobs/{big.digest}")
    r = _build(tmp_path, cache, fault_proxy.host, ["quay.io/cut/brig:1"], "-j", "1")
    assert r.rc == 0, r.err
    ranges = fault_proxy.range_requests()
    assert ranges, "the interrupted blob was not resumed with a Range request"
    assert any(rec.range.startswith("bytes=") and not rec.range.startswith("bytes=0-") for rec in ranges)
    assert run_cli("verify", tmp_path / "b.tar.zst").rc == 0
    assert not _no_partials(cache)


def test_resume_ignored_by_the_server_starts_the_blob_over(tmp_path, registry, fault_proxy, image_factory, cache):
    """The cut blob's Range request comes back as a whole 200 body: the partial prefix must be dropped, not
    appended to (which fails the size check and costs the blob a third download)."""
    image_factory.push(registry, "norange/brig", image_factory.simple("brig", size=3 << 20), tag="1")
    big = image_factory.layer("brig:amd64", 3 << 20)
    fault_proxy.cut_after(1 << 20, path=rf"/blobs/{big.digest}")
    fault_proxy.ignore_range(path=rf"/blobs/{big.digest}")
    r = _build(tmp_path, cache, fault_proxy.host, ["quay.io/norange/brig:1"], "-j", "1")
    assert r.rc == 0, r.err
    retried = fault_proxy.requests_to(f"/blobs/{big.digest}", "GET")
    assert [(rec.fault, rec.status) for rec in retried] == [("cut", 200), ("ignore_range", 200)]
    assert run_cli("verify", tmp_path / "b.tar.zst").rc == 0
    assert not _no_partials(cache)


def test_flipped_byte_is_caught_and_fetched_again(tmp_path, registry, fault_proxy, image_factory, cache):
    image_factory.push(registry, "flip/brig", image_factory.simple("brig", size=100_000), tag="1")
    layer = image_factory.layer("brig:amd64", 100_000)
    fault_proxy.flip_byte(5000, times=1, path=rf"/blobs/{layer.digest}")
    r = _build(tmp_path, cache, fault_proxy.host, ["quay.io/flip/brig:1"], "-j", "1")
    assert r.rc == 0, r.err
    assert run_cli("verify", tmp_path / "b.tar.zst").rc == 0


def test_persistent_corruption_is_reported_and_nothing_is_stored(tmp_path, registry, fault_proxy, image_factory,
                                                                 cache):
    pushed = image_factory.push(registry, "rot/brig", image_factory.simple("brig", size=100_000), tag="1")
    fault_proxy.flip_byte(5000, times=100)
    spec = _spec_via(tmp_path, fault_proxy.host, ["quay.io/rot/brig:1"])
    out = tmp_path / "b.tar.zst"
    r = run_cli("build", spec, "-o", out, "--cache-dir", cache, "-j", "1")
    assert r.rc == 1
    err = r.err.strip().splitlines()
    assert len(err) >= 1 and err[-1].startswith("error: ") and "digest mismatch" in err[-1]
    assert "Traceback" not in r.err
    assert not out.exists() and not out.with_name(out.name + ".partial").exists()
    stored = {p.name for p in (cache / "blobs" / "sha256").iterdir()}
    assert not any(b.digest.split(":")[1] in stored for b in pushed_blobs(image_factory, pushed) if b.size > 50_000)


def pushed_blobs(factory, pushed):
    # The unique layer of "brig" is the big one; the shared base is small.
    return [factory.layer("brig:amd64", 100_000)]


def test_server_errors_are_retried(tmp_path, registry, fault_proxy, image_factory, cache):
    image_factory.push(registry, "flaky/brig", image_factory.simple("brig"), tag="1")
    fault_proxy.fail(times=3, status=500)
    fault_proxy.fail(times=2, status=503, path=r"/v2/.*/manifests/.*")
    r = _build(tmp_path, cache, fault_proxy.host, ["quay.io/flaky/brig:1"], "-j", "1")
    assert r.rc == 0, r.err


def test_basic_auth_from_docker_config(tmp_path, auth_registry, image_factory, cache):
    image_factory.push(auth_registry, "private/brig", image_factory.simple("brig"), tag="1")
    refs = ["quay.io/private/brig:1"]
    denied = _build(tmp_path, cache, auth_registry.host, refs, env={"DOCKER_CONFIG": str(tmp_path / "nowhere")})
    assert denied.rc == 1 and "login" in denied.err.lower()
    user, password = auth_registry.auth
    conf = tmp_path / "docker"
    conf.mkdir()
    token = base64.b64encode(f"{user}:{password}".encode()).decode()
    (conf / "config.json").write_text(json.dumps({"auths": {auth_registry.host: {"auth": token}}}))
    ok = _build(tmp_path, cache, auth_registry.host, refs, env={"DOCKER_CONFIG": str(conf)})
    assert ok.rc == 0, ok.err


def test_bearer_token_flow(tmp_path, token_registry, image_factory, cache):
    image_factory.push(token_registry, "tok/brig", image_factory.simple("brig"), tag="1")
    r = _build(tmp_path, cache, token_registry.host, ["quay.io/tok/brig:1"],
               env={"DOCKER_CONFIG": str(tmp_path / "none")})
    assert r.rc == 0, r.err


def test_unreachable_registry_is_one_line(tmp_path, cache):
    host = f"127.0.0.1:{free_port()}"
    r = _build(tmp_path, cache, host, ["quay.io/wire/brig:1"])
    assert r.rc == 1
    last = r.err.strip().splitlines()[-1]
    assert last == f"error: quay.io/wire/brig:1: registry {host} unreachable: connection refused"
    assert not (tmp_path / "b.tar.zst").exists() and not (tmp_path / "s.lock.json").exists()


def test_unknown_tag_names_image_and_cause(tmp_path, registry, cache):
    r = _build(tmp_path, cache, registry.host, ["quay.io/nothing/here:9"])
    assert r.rc == 1
    assert "quay.io/nothing/here:9: manifest 9 not found (HTTP 404" in r.err
    assert "Traceback" not in r.err


def test_missing_platform_lists_what_the_index_offers(tmp_path, registry, image_factory, cache):
    image_factory.push(registry, "plat/sft", image_factory.multiarch("sft"), tag="1")
    r = _build(tmp_path, cache, registry.host, [{"ref": "quay.io/plat/sft:1", "platforms": ["linux/s390x"]}])
    assert r.rc == 1
    assert "no manifest for platform linux/s390x (index offers: linux/amd64, linux/arm64/v8)" in r.err


def test_plain_http_only_for_registries_named_insecure(tmp_path, registry, image_factory, cache):
    image_factory.push(registry, "tls/a", image_factory.simple("a"), tag="1")
    spec = write_spec(tmp_path / "s.yaml", [f"{registry.host}/tls/a:1"], {})
    r = run_cli("build", spec, "-o", tmp_path / "b.tar.zst", "--cache-dir", cache)
    assert r.rc == 1 and "TLS" in r.err and "insecure" in r.err


def test_invalid_spec_names_file_line_and_key(tmp_path, cache):
    spec = tmp_path / "bad.yaml"
    spec.write_text("version: 1\nimages:\n  refs:\n    - quay.io/wire/brig:1\n    - quay.io/Wire/brig:1\n")
    r = run_cli("build", spec, "--cache-dir", cache)
    assert r.rc == 1
    assert r.err.strip() == (f"error: {spec}:5: images.refs[1].ref: invalid image reference 'quay.io/Wire/brig:1': "
                             "repository 'Wire/brig' must be lowercase letters, digits and separators")


def test_full_disk_fails_early_with_numbers(tmp_path, registry, image_factory):
    image_factory.push(registry, "full/a", image_factory.simple("a", size=4 << 20), tag="1")
    with tmpfs(tmp_path / "small", "size=2m") as mnt:
        spec = _spec_via(tmp_path, registry.host, ["quay.io/full/a:1"])
        r = run_cli("build", spec, "-o", tmp_path / "b.tar.zst", "--cache-dir", mnt / "cache")
        assert r.rc == 1
        assert "not enough free space on" in r.err and "free" in r.err and "Traceback" not in r.err
        assert not _no_partials(mnt)


def test_http_proxy_and_no_proxy_are_honoured(tmp_path, registry, fault_proxy, image_factory):
    image_factory.push(registry, "viaproxy/a", image_factory.simple("a"), tag="1")
    spec = _spec_via(tmp_path, registry.host, ["quay.io/viaproxy/a:1"])
    env = {"http_proxy": fault_proxy.url, "HTTP_PROXY": fault_proxy.url, "no_proxy": "", "NO_PROXY": ""}
    r = run_cli("build", spec, "-o", tmp_path / "a.tar.zst", "--cache-dir", tmp_path / "c1", env=env)
    assert r.rc == 0, r.err
    proxied = [rec for rec in fault_proxy.requests if rec.forward_proxy]
    assert any("/manifests/" in rec.path for rec in proxied) and any("/blobs/" in rec.path for rec in proxied)

    fault_proxy.clear_log()
    env["no_proxy"] = env["NO_PROXY"] = "127.0.0.1"
    r = run_cli("build", spec, "-o", tmp_path / "b.tar.zst", "--cache-dir", tmp_path / "c2", env=env)
    assert r.rc == 0, r.err
    assert not fault_proxy.requests


def _docker_config(tmp_path, registry) -> dict:
    user, password = registry.auth
    conf = tmp_path / "docker"
    conf.mkdir(exist_ok=True)
    token = base64.b64encode(f"{user}:{password}".encode()).decode()
    (conf / "config.json").write_text(json.dumps({"auths": {registry.host: {"auth": token}}}))
    return {"DOCKER_CONFIG": str(conf)}


def test_basic_auth_holds_for_every_repository_under_parallel_fetches(tmp_path, auth_registry, image_factory,
                                                                       cache):
    """Eight workers meet the first 401 challenges at once: every one must retry with the credentials (one
    repository alone used to, and the rest ended in `access denied ... (HTTP 401)`)."""
    refs = []
    for i in range(6):
        image_factory.push(auth_registry, f"par/svc{i}", image_factory.simple(f"svc{i}"), tag="1")
        refs.append(f"quay.io/par/svc{i}:1")
    spec = _spec_via(tmp_path, auth_registry.host, refs)
    r = run_cli("build", spec, "-o", tmp_path / "b.tar.zst", "--cache-dir", cache, "-j", "8",
                env=_docker_config(tmp_path, auth_registry))
    assert r.rc == 0, r.err
    assert run_cli("verify", tmp_path / "b.tar.zst").rc == 0


def test_a_truncated_blob_in_the_cache_is_fetched_again(tmp_path, registry, image_factory, cache):
    image_factory.push(registry, "trunc/brig", image_factory.simple("brig", size=200_000), tag="1")
    layer = image_factory.layer("brig:amd64", 200_000)
    spec = _spec_via(tmp_path, registry.host, ["quay.io/trunc/brig:1"])
    assert run_cli("build", spec, "-o", tmp_path / "a.tar.zst", "--cache-dir", cache).rc == 0
    blob = cache / "blobs" / "sha256" / layer.digest.split(":")[1]
    with open(blob, "r+b") as f:
        f.truncate(blob.stat().st_size - 1000)
    r = run_cli("build", spec, "-o", tmp_path / "b.tar.zst", "--cache-dir", cache, "--locked")
    assert r.rc == 0, r.err
    assert "Traceback" not in r.err
    assert f"holds {layer.size - 1000} of its {layer.size} bytes" in r.err and "fetching again" in r.err
    assert blob.stat().st_size == layer.size
    assert run_cli("verify", tmp_path / "b.tar.zst").rc == 0


def _blobs(cache):
    root = cache / "blobs" / "sha256"
    return sorted(root.iterdir()) if root.exists() else []


def test_an_output_on_a_read_only_file_system_is_refused_before_any_download(tmp_path, registry, image_factory,
                                                                           cache):
    image_factory.push(registry, "ro/a", image_factory.simple("a"), tag="1")
    spec = _spec_via(tmp_path, registry.host, ["quay.io/ro/a:1"])
    with tmpfs(tmp_path / "ro", "ro,size=1m") as mnt:
        for out in (mnt / "b.tar.zst", mnt / "new" / "dir" / "b.tar.zst"):
            r = run_cli("build", spec, "-o", out, "--cache-dir", cache)
            assert r.rc == 1
            assert r.err.strip().splitlines() == [f"error: {out}: cannot write in {mnt}: Read-only file system"]
        assert not _blobs(cache)


def test_an_output_under_a_file_is_one_line(tmp_path, registry, image_factory, cache):
    image_factory.push(registry, "underfile/a", image_factory.simple("a"), tag="1")
    spec = _spec_via(tmp_path, registry.host, ["quay.io/underfile/a:1"])
    (tmp_path / "plain").write_text("x")
    out = tmp_path / "plain" / "sub" / "b.tar.zst"
    r = run_cli("build", spec, "-o", out, "--cache-dir", cache)
    assert r.rc == 1
    assert r.err.strip().splitlines() == [f"error: {out}: cannot be written, {tmp_path / 'plain'} is not a directory"]
    assert not _blobs(cache)


def test_a_full_tmpdir_is_named_before_gpg_fails_in_it(tmp_path, registry, image_factory, cache):
    """gpg's own words for a full GNUPGHOME are 'No agent running' (about the signing key): the disk is the cause."""
    image_factory.push(registry, "fulltmp/a", image_factory.simple("a"), tag="1")
    spec = _spec_via(tmp_path, registry.host, ["quay.io/fulltmp/a:1"])
    with tmpfs(tmp_path / "tiny", "size=1m") as mnt:
        (mnt / "filler").write_bytes(b"\0" * ((1 << 20) - 8192))
        env = {"WIRE_BUNDLE_SIGN_KEY": ""}  # the cache's own key: made with gpg in --tmpdir
        r = run_cli("build", spec, "-o", tmp_path / "b.tar.zst", "--cache-dir", cache, "--tmpdir", mnt, env=env)
        assert r.rc == 1
        [line] = r.err.strip().splitlines()
        assert line.startswith(f"error: not enough free space on {mnt}: need ") and "scratch space" in line, line
        assert not _blobs(cache)
