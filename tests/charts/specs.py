"""Writing small specs (and their values files) for the chart tests."""

from __future__ import annotations

from pathlib import Path

import yaml

from bundler.bundle.spec import LoadedSpec, load_spec

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
    doc: dict = {"version": 1, "name": "charts-test", "charts": charts}
    if images:
        doc["images"] = images
    if registries:
        doc["registries"] = registries
    path = tmp_path / "spec.yaml"
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    return load_spec(path)
