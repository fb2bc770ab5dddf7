"""Registry faults and auth, through real builds."""

from tests.fixtures.builds import bundle_sign_key, cache  # noqa: F401  (fixtures for this directory)
