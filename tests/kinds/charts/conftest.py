"""Fixtures for the chart tests: real helm, test charts packaged by it, a loopback HTTP chart repository, and
an OCI chart pushed to the session registry with `helm push`."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from bundler.kinds.charts.render import helm_env
from tests.kinds.charts import chartsrc
from tests.support.charts import ChartServer, SmallRepo, helm, strip_member

ROOT = Path(__file__).resolve().parents[3]


@pytest.fixture(scope="session")
def helm_bin() -> str:
    found = shutil.which("helm") or str(ROOT / "tools" / "bin" / "helm")
    if not os.access(found, os.X_OK):
        pytest.fail("helm is missing: run `make deps` (installs tools/bin/helm)")
    return found


@dataclass
class ChartRepo:
    url: str
    root: Path
    server: ChartServer
    reg: str  # registry host every test image names
    env: dict[str, str] = field(default_factory=dict)


@pytest.fixture(scope="session")
def chart_repo(tmp_path_factory, helm_bin, registry) -> Iterator[ChartRepo]:
    root = tmp_path_factory.mktemp("chartrepo")
    src = tmp_path_factory.mktemp("chartsrc")
    env = helm_env(tmp_path_factory.mktemp("helmhome"))
    server = ChartServer(root)
    reg = registry.host

    def package(chart_dir: Path) -> None:
        helm(helm_bin, "package", str(chart_dir), "-d", str(root), cwd=src, env=env)

    for v in chartsrc.LIB_VERSIONS:
        package(chartsrc.lib_chart(src, v, reg))
    for v in chartsrc.TINY_VERSIONS:
        package(chartsrc.tiny_chart(src, v, reg))
    helm(helm_bin, "repo", "index", str(root), cwd=src, env=env)
    # The parent's `lib` dependency comes from this repository: helm resolves and vendors it, then the test
    # strips it out again to get a chart whose dependency must be fetched.
    parent = chartsrc.parent_chart(src, reg, server.url)
    helm(helm_bin, "repo", "add", "testrepo", server.url, cwd=src, env=env)
    helm(helm_bin, "dependency", "build", str(parent), cwd=src, env=env)
    package(parent)
    strip_member(root / "parent-1.0.0.tgz", "parent/charts/lib/")
    helm(helm_bin, "repo", "index", str(root), cwd=src, env=env)
    repo = ChartRepo(server.url, root, server, reg, env)
    yield repo
    server.close()


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
    helm(helm_bin, "package", str(chart), "-d", str(src), cwd=src, env=env)
    url = f"oci://{registry.host}/charts"
    helm(helm_bin, "push", str(src / "ocichart-0.1.0.tgz"), url, "--plain-http", cwd=src, env=env)
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
