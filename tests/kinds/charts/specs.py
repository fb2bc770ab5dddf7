"""Writing small specs (and their values files) for the chart tests."""

from __future__ import annotations

from pathlib import Path

import yaml

from bundler.bundle.spec import LoadedSpec, load_spec
from tests.support import specs

VALUES = {
    "defaults.yaml": {},
    "federation.yaml": {"federation": {"enabled": True}},
    "untagged.yaml": {"brig": {"tag": ""}},
    "latest.yaml": {"brig": {"tag": "latest"}},
    "boom.yaml": {"boom": True},
    "nobrig.yaml": {"brig": None},
}


def write_spec(tmp_path: Path, charts: list[dict], *, images: dict | None = None,
               registries: dict | None = None) -> LoadedSpec:
    for name, data in VALUES.items():
        (tmp_path / "values").mkdir(exist_ok=True)
        (tmp_path / "values" / name).write_text(yaml.safe_dump(data))
    extra = {k: v for k, v in (("images", images), ("registries", registries)) if v}
    return load_spec(specs.write_spec(tmp_path / "spec.yaml", name="charts-test", charts=charts, **extra))
