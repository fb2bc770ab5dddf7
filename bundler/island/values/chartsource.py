"""Where `--check-charts` finds each release's chart: a directory of unpacked charts (one per name), the bundle's
chart directory (`charts/NAME-VERSION.tgz`, as bundler/kinds/charts.member_path lays it out; the bundle's root
works too), or an HTTP(S) chart repository (its index.yaml; the newest version of each chart, digest-checked)."""

from __future__ import annotations

import re
from pathlib import Path

from bundler.errors import BundleError
from bundler.island.values.errors import ValuesError
from bundler.kinds.charts.repo import IndexCache
from bundler.kinds.charts.sources import ChartSources

# Any version, pre-releases included: a chart repository for one release holds one version of each chart.
ANY_VERSION = ">=0.0.0-0"


class ChartMissing(ValuesError):
    """This source has no chart of that name; other releases can still be checked."""


class ChartSource:
    def __init__(self, where: str, work: Path):
        self.where = where
        self.url = where if re.match(r"^https?://", where) else None
        if self.url is None:
            root = Path(where)
            if not root.is_dir():
                raise ValuesError(f"--check-charts {where}: not a directory or an http(s):// chart repository")
            # A bundle's root holds its charts under charts/.
            self.dir = root / "charts" if (root / "bundle.json").is_file() and (root / "charts").is_dir() else root
            # The bundle's image list, when these are a bundle's charts.
            found = [d / "bundle.json" for d in (self.dir, self.dir.parent) if (d / "bundle.json").is_file()]
            self.bundle_json: Path | None = found[0] if found else None
        else:
            self.sources = ChartSources(work / "chart-cache")
            self.bundle_json = None

    def chart(self, name: str) -> Path:
        """An unpacked chart directory or a chart package (.tgz) for `helm template`."""
        if self.url is not None:
            return self._from_repo(name)
        unpacked = self.dir / name
        if (unpacked / "Chart.yaml").is_file():
            return unpacked
        # NAME-VERSION.tgz; a version starts with a digit, so wire-server-5.29.0 is not wire-server-enterprise-...
        packages = sorted(p for p in self.dir.glob(f"{name}-*.tgz") if re.match(rf"^{re.escape(name)}-\d", p.name))
        if len(packages) > 1:
            raise ValuesError(f"--check-charts {self.where}: {len(packages)} packages of chart {name} "
                              f"({', '.join(p.name for p in packages)}); keep the one to check")
        if not packages:
            raise ChartMissing(f"no chart {name} in {self.where} (neither {name}/Chart.yaml nor {name}-VERSION.tgz)")
        return packages[0]

    def _from_repo(self, name: str) -> Path:
        from bundler.kinds.charts.repo import resolve_http

        cache: IndexCache = self.sources.indexes
        try:
            if name not in cache.index(self.url)["entries"]:
                raise ChartMissing(f"no chart {name} in {self.url}/index.yaml")
            r = resolve_http(cache, self.url, name, ANY_VERSION)
            path, _, _ = self.sources.fetch(r.name, r.repo, r.version, r.url, r.digest, r.size)
        except ChartMissing:
            raise
        except BundleError as exc:
            raise ValuesError(f"--check-charts {self.url}: {exc}") from None
        return path
