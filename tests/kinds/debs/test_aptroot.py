"""The isolated apt root reads nothing of the build host's apt set-up but the carried network settings."""

from __future__ import annotations

from pathlib import Path

from bundler.kinds.debs.aptroot import AptRoot, Source, host_network_settings, requests_proxies

KEYRING = Path("/usr/share/keyrings/debian-archive-keyring.gpg")


def _root(tmp_path: Path, settings: dict[str, str]) -> AptRoot:
    root = AptRoot(tmp_path / "root", architecture="arm64", settings=settings, what="debs target t",
                   sources=[Source("http://deb.debian.org/debian", ("bookworm",), ("main",), KEYRING)])
    root.prepare()
    return root


def test_host_configuration_does_not_leak_in(tmp_path):
    root = _root(tmp_path, {"Acquire::http::Proxy": "http://proxy.invalid:3128"})
    dump = root.run(["apt-config", "dump"]).stdout
    assert f'Dir "{root.root}/";' in dump
    assert 'Acquire::http::Proxy "http://proxy.invalid:3128";' in dump
    assert 'APT::Architecture "arm64";' in dump
    # This machine's /etc/apt/apt.conf.d has APT::NeverAutoRemove (01autoremove) and docker-clean's
    # Dir::Cache::pkgcache "": neither may reach the isolated root.
    assert "NeverAutoRemove" not in dump and 'Dir::Cache::pkgcache "";' not in dump
    # Nor the host's dpkg status: bash is installed on the host, not in the root.
    policy = root.run(["apt-cache", "policy", "bash"])
    assert policy.returncode == 0 and "Installed: 5" not in policy.stdout
    # Nor its sources.
    sources = root.run(["apt-get", "indextargets", "--format", "$(REPO_URI) $(RELEASE)"]).stdout.split("\n")
    assert {s for s in sources if s} <= {"http://deb.debian.org/debian/ bookworm"}


def test_only_network_settings_are_carried():
    carried = host_network_settings()
    assert all(k.startswith("Acquire::") for k in carried)
    assert not any("Dir" in k or "NeverAutoRemove" in k or "Languages" in k for k in carried)


def test_apt_proxies_become_http_client_proxies():
    proxies = requests_proxies({
        "Acquire::http::Proxy": "http://proxy:3128",
        "Acquire::https::Proxy::deb.debian.org": "http://other:8080",
        "Acquire::http::Proxy::mirror.local": "DIRECT",
        "Acquire::Check-Valid-Until": "false",
    })
    assert proxies == {"http": "http://proxy:3128", "https://deb.debian.org": "http://other:8080"}
