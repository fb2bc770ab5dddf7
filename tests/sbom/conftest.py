"""The SBOM tests build real bundles: one signing key for the session, as the image tests use."""

from tests.images.conftest import bundle_sign_key  # noqa: F401 - the session's signing key, autouse
