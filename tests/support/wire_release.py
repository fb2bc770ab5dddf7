"""Wire's real release 5.29.0 (../shared/wire-release) packaged the way Wire's release CI publishes it.

The chart trees in shared/ carry placeholder versions (`0.0.42`) and image tags (`do-not-use`); Wire's CI sets
both before `helm package` (wire-server `hack/bin/set-helm-chart-version.sh` and
`set-wire-server-image-version.sh`). This module does the same from `build.json`:
- every chart of build.json found in shared/ gets the manifest's version, and so do its `file://` dependencies
  (recursively, as the upstream script walks them);
- every `tag: do-not-use` of a Wire-built chart becomes that version (the images Wire's CI tags with it);
- where build.json names an appVersion (sftd, the web apps), it becomes the chart's appVersion and the tag of
  its top-level `image:` (the charts of those repositories take their image tag from it);
- dependencies are vendored into charts/ as published packages carry them: `file://` ones from shared/charts,
  ingress-nginx and redis from shared/dependency-charts. Dependencies from other repositories (bitnami,
  fluent-bit, ...) cannot be had here: the chart is packaged without them and `missing` names them, or, with
  `standins=True`, an empty chart of the same name and version stands in and `standins` names it.

The web apps, coturn and sftd come from other-charts/ (older trees than build.json's versions: their content is
what wire-server last kept, their version is build.json's). Charts of build.json not in shared/ are listed in
`unavailable` with the reason. Nothing is skipped silently: every chart of build.json is in exactly one of
`packages` or `unavailable`.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import tarfile
from dataclasses import dataclass, field
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]
# Charts whose images Wire's CI tags with the release version (they hold `tag: do-not-use`).
PLACEHOLDER_TAG = "do-not-use"
VENDORED_THIRD_PARTY = {"ingress-nginx": "ingress-nginx", "redis": "redis"}


def release_dir() -> Path | None:
    """shared/wire-release beside the checkout (or $WIRE_RELEASE_DIR), if it is there."""
    env = os.environ.get("WIRE_RELEASE_DIR")
    for cand in ([Path(env)] if env else []) + [ROOT.parent / "shared" / "wire-release"]:
        if (cand / "build.json").is_file():
            return cand
    return None


@dataclass(frozen=True)
class ManifestChart:
    name: str
    repo: str
    version: str
    app_version: str | None = None


@dataclass
class PackagedRelease:
    release: str  # build.json's version, e.g. 1.0.0-133
    charts: dict[str, ManifestChart]  # every chart of build.json
    packages: dict[str, Path] = field(default_factory=dict)  # chart name -> .tgz
    unavailable: dict[str, str] = field(default_factory=dict)  # chart name -> why it could not be packaged
    # chart -> "chart/subchart -> dep version (repo)": not vendored, or replaced by an empty stand-in
    missing: dict[str, list[str]] = field(default_factory=dict)
    standins: dict[str, list[str]] = field(default_factory=dict)
    repo_dir: Path | None = None  # the packages and an index.yaml, to serve as a chart repository

    def version(self, name: str) -> str:
        return self.charts[name].version


def read_manifest(src: Path) -> tuple[str, dict[str, ManifestChart]]:
    doc = json.loads((src / "build.json").read_text())
    charts = {n: ManifestChart(n, c["repo"], c["version"], (c.get("meta") or {}).get("appVersion"))
              for n, c in doc["helmCharts"].items()}
    return doc["version"], charts


def _source(src: Path, name: str) -> Path | None:
    for sub in ("charts", "other-charts"):
        d = src / sub / name
        if (d / "Chart.yaml").is_file():
            return d
    return None


def _deps(chart: Path) -> list[dict]:
    """Dependencies as declared: requirements.yaml (apiVersion v1) or Chart.yaml (v2)."""
    for f in (chart / "requirements.yaml", chart / "Chart.yaml"):
        if f.is_file():
            deps = (yaml.safe_load(f.read_text()) or {}).get("dependencies") or []
            if deps:
                return deps
    return []


def _set_version(chart: Path, version: str) -> None:
    text = (chart / "Chart.yaml").read_text()
    (chart / "Chart.yaml").write_text(re.sub(r"(?m)^version: .*$", f"version: {version}", text))
    req = chart / "requirements.yaml"
    if req.is_file():
        # Only the file:// dependencies are Wire's own, versioned with the release.
        blocks = re.split(r"(?m)^(?=\s*- name:)", req.read_text())
        req.write_text("".join(
            re.sub(r"(?m)^(\s+)version: .*$", rf'\1version: "{version}"', b) if "file://" in b else b
            for b in blocks))


def _set_app_version(chart: Path, app_version: str) -> None:
    text = (chart / "Chart.yaml").read_text()
    text = re.sub(r"(?m)^appVersion: .*$", f"appVersion: {app_version}", text)
    if not re.search(r"(?m)^appVersion:", text):
        text += f"\nappVersion: {app_version}\n"
    (chart / "Chart.yaml").write_text(text)
    values = chart / "values.yaml"
    if values.is_file():
        # The top-level image block's tag only (two-space indented, before the next top-level key).
        values.write_text(re.sub(r"(?m)^(image:\n(?:  .*\n)*?  tag: ).*$", rf'\g<1>"{app_version}"',
                                 values.read_text(), count=1))


def _set_image_tags(chart: Path, version: str) -> None:
    values = chart / "values.yaml"
    if values.is_file() and PLACEHOLDER_TAG in values.read_text():
        values.write_text(values.read_text().replace(f"tag: {PLACEHOLDER_TAG}", f"tag: {version}"))


class _Packager:
    def __init__(self, src: Path, work: Path, helm: str, standins: bool):
        self.src, self.work, self.helm, self.standins = src, work, helm, standins
        self.env = {**os.environ, "HELM_CONFIG_HOME": str(work / "helm" / "config"),
                    "HELM_CACHE_HOME": str(work / "helm" / "cache"), "HELM_DATA_HOME": str(work / "helm" / "data")}
        self.missing: dict[str, list[str]] = {}
        self.used_standins: dict[str, list[str]] = {}
        self.incomplete: set[Path] = set()

    def package(self, chart_dir: Path, dest: Path, *, incomplete: bool = False) -> Path:
        if incomplete:
            return self._tar(chart_dir, dest)
        out = subprocess.run([self.helm, "package", str(chart_dir), "--destination", str(dest)], env=self.env,
                             capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL)
        if out.returncode != 0:
            raise RuntimeError(f"helm package {chart_dir.name}: {out.stderr.strip()}")
        return Path(out.stdout.strip().rsplit(": ", 1)[-1])

    @staticmethod
    def _tar(chart_dir: Path, dest: Path) -> Path:
        """What a published package lacking a dependency looks like (helm package refuses to write one)."""
        meta = yaml.safe_load((chart_dir / "Chart.yaml").read_text())
        path = dest / f"{meta['name']}-{meta['version']}.tgz"
        with tarfile.open(path, "w:gz") as tar:
            tar.add(chart_dir, arcname=meta["name"])
        return path

    def prepare(self, name: str, source: Path, version: str, parents: tuple[str, ...] = (),
                app_version: str | None = None) -> Path:
        """A copy of `source` at `version`, its dependencies vendored into charts/."""
        chain = (*parents, name)
        top, where = chain[0], "/".join(chain)
        tree = self.work / "trees" / "__".join(chain)
        shutil.rmtree(tree, ignore_errors=True)
        shutil.copytree(source, tree)
        _set_version(tree, version)
        _set_image_tags(tree, version)
        if app_version:
            _set_app_version(tree, app_version)
        for dep in _deps(tree):
            repo, dname, dver = str(dep.get("repository", "")), dep["name"], str(dep.get("version", ""))
            (tree / "charts").mkdir(exist_ok=True)
            if repo.startswith("file://"):
                dsrc = (source / repo.removeprefix("file://")).resolve()
                sub = self.prepare(dname, dsrc, version, chain)
                self.package(sub, tree / "charts", incomplete=sub in self.incomplete)
            elif dname in VENDORED_THIRD_PARTY and (self.src / "dependency-charts" / dname).is_dir():
                self.package(self.src / "dependency-charts" / dname, tree / "charts")
            elif self.standins:
                self._standin(tree / "charts", dname, dver, repo)
                self.used_standins.setdefault(top, []).append(f"{where} -> {dname} {dver} ({repo})")
            else:
                self.missing.setdefault(top, []).append(f"{where} -> {dname} {dver} ({repo})")
                self.incomplete.add(tree)
        return tree

    def _standin(self, dest: Path, name: str, version: str, repo: str) -> None:
        d = self.work / "standins" / f"{name}-{version}"
        if not d.is_dir():
            d.mkdir(parents=True)
            (d / "Chart.yaml").write_text(yaml.safe_dump({
                "apiVersion": "v2", "name": name, "version": version,
                "description": f"stand-in: {name} {version} from {repo} is not obtainable here (no templates)"}))
        self.package(d, dest)


def package_release(dest: Path, helm: str, *, src: Path | None = None, standins: bool = False) -> PackagedRelease:
    """Package every chart of build.json that shared/ holds into dest/repo, with an index.yaml."""
    src = src or release_dir()
    if src is None:
        raise FileNotFoundError("shared/wire-release is not beside this checkout")
    release, charts = read_manifest(src)
    result = PackagedRelease(release, charts, repo_dir=dest / "repo")
    result.repo_dir.mkdir(parents=True, exist_ok=True)
    packager = _Packager(src, dest / "work", helm, standins)
    for name, mc in sorted(charts.items()):
        source = _source(src, name)
        if source is None:
            result.unavailable[name] = (f"{name} {mc.version} ({mc.repo}) is not in shared/wire-release "
                                        "and its repository cannot be reached here")
            continue
        tree = packager.prepare(name, source, mc.version, app_version=mc.app_version)
        result.packages[name] = packager.package(tree, result.repo_dir, incomplete=tree in packager.incomplete)
    result.missing, result.standins = packager.missing, packager.used_standins
    subprocess.run([helm, "repo", "index", str(result.repo_dir)], env=packager.env, check=True,
                   capture_output=True, timeout=120)
    shutil.rmtree(dest / "work", ignore_errors=True)
    return result
