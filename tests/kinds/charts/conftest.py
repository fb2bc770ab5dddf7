"""Fixtures for the chart tests: real helm, test charts packaged by it, a loopback HTTP chart repository, and
an OCI chart pushed to the session registry with `helm push`."""

from __future__ import annotations

import base64
import os
import shutil
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import SimpleHTTPRequestHandler
from pathlib import Path
from typing import Any

import pytest

from tests.kinds.charts import chartsrc
from tests.support.httpserver import DirectoryServer

ROOT = Path(__file__).resolve().parents[3]


@pytest.fixture(scope="session")
def helm_bin() -> str:
    found = shutil.which("helm") or str(ROOT / "tools" / "bin" / "helm")
    if not os.access(found, os.X_OK):
        pytest.fail("helm is missing: run `make deps` (installs tools/bin/helm)")
    return found


class ChartServer(DirectoryServer):
    """A directory on 127.0.0.1, remembering the paths asked for."""

    def __init__(self, root: Path, auth: tuple[str, str] | None = None):
        self.requests: list[str] = []
        outer = self
        expected = "Basic " + base64.b64encode(f"{auth[0]}:{auth[1]}".encode()).decode() if auth else None

        class Handler(SimpleHTTPRequestHandler):
            def log_message(self, fmt: str, *args: Any) -> None:
                outer.requests.append(self.path)

            def do_GET(self) -> None:
                if expected and self.headers.get("Authorization") != expected:
                    self.send_response(401)
                    self.send_header("WWW-Authenticate", 'Basic realm="charts"')
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                super().do_GET()

        super().__init__(root, handler=Handler)


@dataclass
class ChartRepo:
    url: str
    root: Path
    server: ChartServer
    reg: str  # registry host every test image names
    env: dict[str, str] = field(default_factory=dict)


def helm_env(home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("HELM_")}
    env.update(HELM_CONFIG_HOME=str(home / "config"), HELM_CACHE_HOME=str(home / "cache"),
               HELM_DATA_HOME=str(home / "data"))
    return env


@pytest.fixture(scope="session")
def chart_repo(tmp_path_factory, helm_bin, registry) -> Iterator[ChartRepo]:
    root = tmp_path_factory.mktemp("chartrepo")
    src = tmp_path_factory.mktemp("chartsrc")
    env = helm_env(tmp_path_factory.mktemp("helmhome"))
    server = ChartServer(root)
    reg = registry.host

    def package(chart_dir: Path) -> None:
        chartsrc.helm(helm_bin, "package", str(chart_dir), "-d", str(root), cwd=src, env=env)

    for v in chartsrc.LIB_VERSIONS:
        package(chartsrc.lib_chart(src, v, reg))
    for v in chartsrc.TINY_VERSIONS:
        package(chartsrc.tiny_chart(src, v, reg))
    chartsrc.helm(helm_bin, "repo", "index", str(root), cwd=src, env=env)
    # The parent's `lib` dependency comes from this repository: helm resolves and vendors it, then the test
    # strips it out again to get a chart whose dependency must be fetched.
    parent = chartsrc.parent_chart(src, reg, server.url)
    chartsrc.helm(helm_bin, "repo", "add", "testrepo", server.url, cwd=src, env=env)
    chartsrc.helm(helm_bin, "dependency", "build", str(parent), cwd=src, env=env)
    package(parent)
    chartsrc.strip_member(root / "parent-1.0.0.tgz", "parent/charts/lib/")
    chartsrc.helm(helm_bin, "repo", "index", str(root), cwd=src, env=env)
    repo = ChartRepo(server.url, root, server, reg, env)
    yield repo
    server.close()


class SmallRepo:
    """A chart repository of this test's own, for tests that change what a repository holds."""

    def __init__(self, root: Path, helm_bin: str, env: dict[str, str]):
        self.root, self.helm_bin, self.env = root, helm_bin, env
        self.src = root.parent / (root.name + "-src")
        self.src.mkdir()
        self.server = ChartServer(root)
        self.url = self.server.url

    def publish(self, chart_dir: Path, strip: str | None = None) -> Path:
        """`helm package` the chart into the repository (minus members under `strip`) and re-index."""
        chartsrc.helm(self.helm_bin, "package", str(chart_dir), "-d", str(self.root), cwd=self.src, env=self.env)
        tgz = max(self.root.glob("*.tgz"), key=lambda p: p.stat().st_mtime_ns)
        if strip:
            chartsrc.strip_member(tgz, strip)
        chartsrc.helm(self.helm_bin, "repo", "index", str(self.root), cwd=self.src, env=self.env)
        return tgz


@pytest.fixture
def small_repo(tmp_path, helm_bin) -> Iterator[SmallRepo]:
    root = tmp_path / "small-repo"
    root.mkdir()
    repo = SmallRepo(root, helm_bin, helm_env(tmp_path / "small-helmhome"))
    yield repo
    repo.server.close()


@pytest.fixture(scope="session")
def oci_repo(tmp_path_factory, helm_bin, registry) -> str:
    """`oci://<registry>/charts`, holding ocichart 0.1.0 pushed by `helm push --plain-http`."""
    src = tmp_path_factory.mktemp("ocisrc")
    env = helm_env(tmp_path_factory.mktemp("helmhome"))
    chart = chartsrc.oci_chart(src, registry.host)
    chartsrc.helm(helm_bin, "package", str(chart), "-d", str(src), cwd=src, env=env)
    url = f"oci://{registry.host}/charts"
    chartsrc.helm(helm_bin, "push", str(src / "ocichart-0.1.0.tgz"), url, "--plain-http", cwd=src, env=env)
    return url


@dataclass
class ChartsContext:
    """The smallest BuildContext the charts kind needs, for calling KIND.lock / KIND.fetch directly."""

    __test__ = False

    cache_dir: Path
    work_dir: Path
    helm: str | None = None
    jobs: int = 2
    discovered_images: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    messages: list[str] = field(default_factory=list)

    def progress(self, label: str, total_bytes: int | None = None) -> Any:
        raise AssertionError("the charts kind reports no byte progress")

    def log(self, message: str) -> None:
        self.messages.append(message)

    def warn(self, message: str) -> None:
        self.messages.append("warning: " + message)

    @property
    def warnings(self) -> list[str]:
        return [m for m in self.messages if m.startswith("warning: ")]


@pytest.fixture
def ctx(tmp_path, helm_bin) -> ChartsContext:
    (tmp_path / "work").mkdir()
    return ChartsContext(cache_dir=tmp_path / "cache", work_dir=tmp_path / "work", helm=helm_bin)
