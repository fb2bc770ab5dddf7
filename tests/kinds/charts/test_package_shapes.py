"""A chart package whose Chart.yaml, Chart.lock or vendored chart is not a regular file: one line, no crash."""

from __future__ import annotations

import io
import tarfile

import pytest

from bundler.errors import BundleError
from bundler.kinds.charts.package import read_chart_bytes


def _tgz(members: list[tuple[str, bytes | None]]) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        for name, data in members:
            info = tarfile.TarInfo(name)
            if data is None:
                info.type = tarfile.DIRTYPE
                tar.addfile(info)
            else:
                info.size = len(data)
                tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


CHART = b"apiVersion: v2\nname: tiny\nversion: 1.0.0\n"


@pytest.mark.parametrize("members", [
    [("tiny/Chart.yaml", None)],
    [("tiny/Chart.yaml", CHART), ("tiny/Chart.lock", None)],
    [("tiny/Chart.yaml", CHART), ("tiny/charts/sub/Chart.yaml", None), ("tiny/charts/sub/values.yaml", b"")],
    [("tiny/Chart.yaml", CHART), ("tiny/charts/sub-1.0.0.tgz", None)],
])
def test_a_directory_where_a_file_belongs_is_named(members):
    with pytest.raises(BundleError, match=r"^tiny-1.0.0.tgz: tiny/.* is not a regular file$"):
        read_chart_bytes(_tgz(members), "tiny-1.0.0.tgz")
