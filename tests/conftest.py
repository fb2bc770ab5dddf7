"""Shared pytest set-up. Fixture modules live in tests/fixtures/ and are listed here."""

pytest_plugins: list[str] = [
    "tests.fixtures.registry",
    "tests.fixtures.lab",
    "tests.fixtures.wire_release",
]
