"""Spec validation: every error names file, line and key path."""
# ruff: noqa: E501

from __future__ import annotations

import pytest

from bundler.bundle.spec import load_spec, loads_spec
from bundler.errors import SpecError
from bundler.kinds.images.reference import InvalidReference, parse_reference


def err(text: str) -> str:
    with pytest.raises(SpecError) as exc:
        loads_spec(text, "s.yaml")
    return str(exc.value)


@pytest.mark.parametrize("text,expected", [  # noqa: E501
    ("images: {}\n", "s.yaml:1: version: required key missing"),
    ("version: 2\n", "s.yaml:1: version: Input should be 1"),
    ("version: 1\nimage: {}\n", "s.yaml:2: image: unknown key"),
    ("version: 1\nimages:\n  platforms: linux/amd64\n", "s.yaml:3: images.platforms: Input should be a valid list"),
    ("version: 1\nimages:\n  platforms: [amd64]\n", "s.yaml:3: images.platforms: invalid platform 'amd64'"),
    ("version: 1\nimages:\n  refs:\n    - ref: a:1\n      colour: red\n", "s.yaml:5: images.refs[0].colour: unknown key"),
    ("version: 1\nimages:\n  refs: [a, 'docker.io/library/a:latest']\n", "duplicate image 'docker.io/library/a:latest'"),
    ("version: 1\nimages:\n  refs:\n    - a:1\n    - b:1\n    - a:1\n", "s.yaml:6: images.refs[2]: duplicate image"),
    ("version: 1\ncharts:\n  - {name: a, repo: 'https://x', version: '1'}\n  - {name: a, repo: 'https://x', version: '2'}\n",
     "s.yaml:4: charts[1]: duplicate chart"),
    ("version: 1\nimages:\n  refs: ['quay.io/x/y:']\n", "s.yaml:3: images.refs[0].ref: invalid image reference"),
    ("version: 1\nimages: {}\nimages: {}\n", "s.yaml:3: images: duplicate key"),
    ("version: 1\nregistries:\n  quay.io: {insecure: 'yes'}\n",
     "s.yaml:3: registries.quay.io.insecure: Input should be a valid boolean"),
    ("version: 1\nfiles:\n  - url: https://x/a.tgz\n", "s.yaml:3: files[0]: file https://x/a.tgz has no checksum"),
    ("version: 1\nfiles:\n  - {url: https://x/a.tgz, sha256: abc}\n", "sha256 must be 64 lowercase hex digits"),
    ("version: 1\ncharts:\n  - {name: a, repo: ftp://x, version: '1'}\n", "s.yaml:3: charts[0].repo: repo must start"),
    ("version: 1\ndebs:\n  packages: [nginx]\n", "s.yaml:2: debs: packages need at least one target"),
    ("version: 1\nimages: [\n", "s.yaml:3: not valid YAML"),
    ("- a\n", "the spec must be a mapping"),
])
def test_errors_name_file_line_and_key(text, expected):
    assert expected in err(text)


def test_a_full_spec_loads_and_its_digest_ignores_formatting(tmp_path):
    a = tmp_path / "a.yaml"
    a.write_text("version: 1\nimages:\n  refs: [quay.io/wire/brig:1]\n")
    b = tmp_path / "b.yaml"
    b.write_text("# a comment\nversion: 1\nimages: {refs: ['quay.io/wire/brig:1'], platforms: [linux/amd64]}\n")
    la, lb = load_spec(a), load_spec(b)
    assert la.spec.digest() == lb.spec.digest()
    assert la.lock_path == tmp_path / "a.lock.json"


def test_missing_file():
    with pytest.raises(SpecError, match="nowhere.yaml: no such file"):
        load_spec("/nowhere.yaml")


@pytest.mark.parametrize("text,normal", [
    ("redis", "docker.io/library/redis:latest"),
    ("bitnami/redis:7", "docker.io/bitnami/redis:7"),
    ("index.docker.io/library/redis:7", "docker.io/library/redis:7"),
    ("quay.io/wire/brig:5.0.0", "quay.io/wire/brig:5.0.0"),
    ("localhost:5000/a/b", "localhost:5000/a/b:latest"),
    ("127.0.0.1:5000/x@sha256:" + "a" * 64, "127.0.0.1:5000/x@sha256:" + "a" * 64),
    ("quay.io/wire/brig:5@sha256:" + "b" * 64, "quay.io/wire/brig:5@sha256:" + "b" * 64),
])
def test_references_normalise_like_docker(text, normal):
    assert str(parse_reference(text)) == normal


@pytest.mark.parametrize("bad", ["", " a", "A/b", "a:b:c", "a@sha256:12", "a/b:-x", "a//b"])
def test_invalid_references(bad):
    with pytest.raises(InvalidReference):
        parse_reference(bad)


SECRET = "s3cret-pw"


@pytest.mark.parametrize("where,text", [
    ("mirror", f"registries:\n  quay.io: {{mirror: 'bob:{SECRET}@127.0.0.1:5000'}}\n"),
    ("registry", f"registries:\n  'bob:{SECRET}@reg.example:5000': {{insecure: true}}\n"),
    ("image", f"images:\n  refs: ['bob:{SECRET}@reg.example:5000/wire/brig:1']\n"),
])
def test_credentials_in_a_registry_address_are_refused_and_never_written(tmp_path, where, text):
    """The spec is copied into the lock and the signed bundle: a password in an address would travel with it."""
    from tests.support.cli import run_cli

    spec = tmp_path / "s.yaml"
    spec.write_text("version: 1\n" + text)
    for command in (["lock", spec], ["build", spec, "-o", tmp_path / "b.tar.zst"]):
        r = run_cli(*command, "--cache-dir", tmp_path / "cache")
        assert r.rc == 1, r.err
        assert r.err.count("\n") == 1 and f"{where} '***@" in r.err and "~/.docker/config.json" in r.err, r.err
        assert SECRET not in r.out + r.err
    written = [p for p in tmp_path.rglob("*") if p.is_file() and p != spec]
    assert not [p for p in written if SECRET.encode() in p.read_bytes()]
    assert not (tmp_path / "s.lock.json").exists() and not (tmp_path / "b.tar.zst").exists()


def test_a_digest_is_not_mistaken_for_credentials():
    assert loads_spec("version: 1\nimages:\n  refs: ['alpine@sha256:" + "a" * 64 + "']\n", "s.yaml").images.refs


def test_an_error_line_echoing_a_huge_value_stays_readable():
    """Found by the long fuzz run: an invalid reference of thousands of characters made a line as long."""
    message = err("version: 1\nimages:\n  refs: ['quay.io/" + "[" * 5000 + "brig:1']\n")
    assert len(message) <= 600
    assert message.startswith("s.yaml:3: images.refs[0].ref: invalid image reference")
    assert message.endswith("must be lowercase letters, digits and separators")


def test_a_huge_version_constraint_is_refused_at_once():
    """Found by the long fuzz run: the constraint parser took 8 s on a 16,000-character version."""
    import time

    started = time.monotonic()
    message = err("version: 1\ncharts:\n  - {name: a, repo: 'https://x', version: '1." + "1," * 8000 + "'}\n")
    assert "s.yaml:3: charts[0].version: version constraint of 16002 characters; at most 200" in message
    assert time.monotonic() - started < 1
