"""On the island: turn a bundle's charts/ members back into chart directories `helm install` can use offline.

A chart whose dependencies were fetched separately (not vendored upstream) needs them in its charts/
directory; bundle.json's charts summary says which .tgz belongs inside which chart.
"""

from __future__ import annotations

from pathlib import Path

from bundler.errors import BundleError
from bundler.kinds.charts.package import read_chart, subchart_dir, unpack
from bundler.kinds.charts.summary import ChartSummary


def installable_chart(bundle_dir: Path, chart: ChartSummary, dest: Path) -> Path:
    """Unpack `chart` (one entry of bundle.json's kinds.charts) from the unpacked bundle at `bundle_dir` into
    `dest`, with each fetched dependency unpacked into the charts/ directory of the chart that needs it.
    Returns the chart directory."""
    children: dict[str, list[tuple[str, tuple[str, ...]]]] = {}
    for dep in chart.dependencies:
        # `within`: the parent's vendored subchart that declared the dependency (absent: the parent itself).
        children.setdefault(dep.parent, []).append((dep.path, tuple(dep.within or ())))

    def place(member: str, into: Path) -> Path:
        tgz = bundle_dir / member
        if not tgz.is_file():
            raise BundleError(f"{member} is missing from the bundle at {bundle_dir}")
        chart_dir = unpack(read_chart(tgz), into)
        for child, within in children.get(member, []):
            place(child, subchart_dir(chart_dir, within) / "charts")
        return chart_dir

    return place(chart.path, dest)
