"""Version constraints as Helm (Masterminds semver v3) reads them."""

import pytest

from bundler.kinds.charts.semver import Constraint, ConstraintError, best_match, nearest, parse_version

AVAILABLE = ["0.1.0", "0.1.5", "0.2.0", "1.2.0", "1.3.4", "1.10.0", "2.0.0-rc.1", "2.0.0", "4.40.0", "4.41.2",
             "4.50.0-beta.1", "5.0.0"]


@pytest.mark.parametrize(("constraint", "expected"), [
    ("^4.40", "4.41.2"),
    ("~1.2", "1.2.0"),
    ("~1", "1.10.0"),
    (">=1.2,<2", "1.10.0"),
    (">=1.2 <2", "1.10.0"),
    (">= 1.2, < 2", "1.10.0"),
    ("^0.1.0", "0.1.5"),
    ("^0.1", "0.1.5"),
    ("^0", "0.2.0"),
    ("1.x", "1.10.0"),
    ("1.3.x", "1.3.4"),
    ("*", "5.0.0"),
    ("<=1.3", "1.3.4"),
    (">1.3", "5.0.0"),
    (">1.3, <5", "4.41.2"),
    ("1.2 - 1.3.9", "1.3.4"),
    ("<1 || ~4.40.0", "4.40.0"),
    ("2.0.0-rc.1", "2.0.0-rc.1"),  # an exact pre-release is taken as written
    (">=2.0.0-0, <2.0.0", "2.0.0-rc.1"),
    ("!=5.0.0", "4.41.2"),
    ("=1.3.4", "1.3.4"),
    ("v1.3.4", "1.3.4"),
    ("1.3", "1.3.4"),  # a partial version is a tilde range
])
def test_constraint_picks_highest_fitting(constraint, expected):
    assert best_match(constraint, AVAILABLE) == expected


@pytest.mark.parametrize("constraint", ["^3", "~4.39", ">5.0.0", "<0.1.0", "1.4.x"])
def test_constraint_without_match(constraint):
    assert best_match(constraint, AVAILABLE) is None


def test_prereleases_only_when_the_constraint_names_one():
    c = Constraint("^4.40")
    assert not c.check(parse_version("4.50.0-beta.1"))
    assert Constraint(">=4.40.0-0").check(parse_version("4.50.0-beta.1"))


def test_version_order_follows_semver():
    order = ["1.0.0-alpha", "1.0.0-alpha.1", "1.0.0-alpha.beta", "1.0.0-beta", "1.0.0-beta.2", "1.0.0-beta.11",
             "1.0.0-rc.1", "1.0.0", "1.2.0", "1.10.0"]
    parsed = [parse_version(v) for v in order]
    assert parsed == sorted(reversed(parsed))


@pytest.mark.parametrize("bad", ["", "^", "1.2.3.4", ">=abc", "1..2"])
def test_bad_constraint_is_an_error(bad):
    with pytest.raises(ConstraintError):
        Constraint(bad)


def test_nearest_lists_versions_around_the_request():
    assert nearest("^3", AVAILABLE, count=3) == ["4.41.2", "4.40.0", "2.0.0"]
    assert nearest("9.9.9", AVAILABLE, count=2) == ["5.0.0", "4.41.2"]
