"""Helm chart repositories for the tests: charts packaged by the real helm, indexed by `helm repo index` and served
on loopback.

    repo = SmallRepo(tmp / "repo", helm_bin, helm_env(tmp / "helmhome"))   # bundler.kinds.charts.render.helm_env
    repo.publish(chartsrc.lib_chart(repo.src, "0.1.0", reg))               # package, re-index; repo.url serves it
    repo.publish(chart_dir, strip="app/charts/")                           # a dependency listed but not vendored
"""

from __future__ import annotations

import base64
import subprocess
import tarfile
from http.server import SimpleHTTPRequestHandler
from pathlib import Path
from typing import Any

from tests.support.httpserver import DirectoryServer


def helm(helm_bin: str, *args: str, cwd: Path, env: dict[str, str]) -> str:
    proc = subprocess.run([helm_bin, *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=120)
    if proc.returncode != 0:
        raise RuntimeError(f"helm {' '.join(args)} failed: {proc.stderr.strip()}")
    return proc.stdout


def strip_member(tgz: Path, prefix: str) -> None:
    """Rewrite a packaged chart without the members under `prefix`, the way a chart whose dependency was
    never vendored looks (`helm package` itself refuses to package one)."""
    tmp = tgz.with_name(tgz.name + ".tmp")
    with tarfile.open(tgz, "r:gz") as src, tarfile.open(tmp, "w:gz") as dst:
        for m in src.getmembers():
            if not m.name.startswith(prefix):
                dst.addfile(m, src.extractfile(m) if m.isfile() else None)
    tmp.replace(tgz)


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
        helm(self.helm_bin, "package", str(chart_dir), "-d", str(self.root), cwd=self.src, env=self.env)
        tgz = max(self.root.glob("*.tgz"), key=lambda p: p.stat().st_mtime_ns)
        if strip:
            strip_member(tgz, strip)
        helm(self.helm_bin, "repo", "index", str(self.root), cwd=self.src, env=self.env)
        return tgz
