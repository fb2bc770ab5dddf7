"""The charts section of the spec: bad names, constraints and values are caught at load, with file and line."""

import pytest

from bundler.bundle.spec import loads_spec
from bundler.errors import SpecError

GOOD = """version: 1
charts:
  - name: wire-server
    repo: https://charts.example/
    version: "{version}"
    values: [a.yaml, [a.yaml, b.yaml], []]
"""


@pytest.mark.parametrize("version", ["^4.40", "~1.2", ">=1.2,<2", "1.2.3", "1.x || >=3.0.0-0"])
def test_constraints_accepted(version):
    spec = loads_spec(GOOD.format(version=version))
    assert spec.charts[0].version == version
    assert spec.charts[0].repo == "https://charts.example"


@pytest.mark.parametrize(("text", "message"), [
    (GOOD.format(version=">=1.2,,<"), r"<spec>:5: charts\[0\].version: invalid version constraint '>=1.2,,<'"),
    (GOOD.format(version="latest"), r"<spec>:5: charts\[0\].version: invalid version constraint 'latest'"),
    (GOOD.format(version="1").replace("wire-server", "wire server"), r"<spec>:3: charts\[0\].name: invalid chart"),
    (GOOD.format(version="1").replace("[]]", '[""]]'), r"charts\[0\].values.*: empty values file name"),
])
def test_bad_chart_entries(text, message):
    with pytest.raises(SpecError, match=message):
        loads_spec(text)
