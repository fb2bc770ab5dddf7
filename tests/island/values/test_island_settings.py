"""One inventory serves the island roles and the values generator: the roles' wire_* variables are not typos."""

from __future__ import annotations

import pytest

from bundler.island.values.errors import ValuesError
from bundler.island.values.options import merged_settings


class _Inv:
    def __init__(self, settings):
        self.settings = settings


def test_island_role_variables_are_accepted_and_left_out():
    merged = merged_settings(_Inv({"wire_domain": "example.com", "wire_asset_host": "10.0.0.5",
                                   "wire_registry": "10.0.0.5:5000", "wire_releases_timeout": "10m"}), None)
    assert merged["wire_domain"] == "example.com"
    assert "wire_asset_host" not in merged and "wire_releases_timeout" not in merged


def test_a_typo_is_still_refused():
    with pytest.raises(ValuesError, match="wire_domian: unknown setting"):
        merged_settings(_Inv({"wire_domain": "example.com", "wire_domian": "x"}), None)
