"""Wire's facts and the generator's defaults, read from bundler/data/wire-values-defaults.yaml."""

from __future__ import annotations

from functools import cache
from typing import Any

import yaml

from bundler import paths

DATA = paths.DATA / "wire-values-defaults.yaml"


@cache
def data() -> dict[str, Any]:
    with DATA.open() as fh:
        return yaml.safe_load(fh)


def defaults() -> dict[str, Any]:
    return data()["defaults"]


def known_settings() -> set[str]:
    return set(defaults()) | {"wire_domain", "wire_smtp_password", "wire_push_aws_key_id",
                              "wire_push_aws_secret_key", "wire_s3_aws_key_id", "wire_s3_aws_secret_key"}
