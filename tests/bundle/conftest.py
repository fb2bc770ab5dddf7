"""The bundle-format tests build real archives from the session's local registry, signed by one session key."""

from tests.images.conftest import bundle_sign_key  # noqa: F401 - the session's signing key, autouse
