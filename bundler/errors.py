"""Expected failures: the CLI prints them as one line and exits non-zero, without a traceback."""


class BundleError(Exception):
    """A failure the operator can act on; the message names the thing and the cause."""

    exit_code = 1

    def __init__(self, message: str, exit_code: int | None = None):
        super().__init__(message)
        if exit_code is not None:
            self.exit_code = exit_code


class SpecError(BundleError):
    """The bundle spec is invalid; the message names file, line and key path."""


class RegistryError(BundleError):
    """A registry refused, failed or sent something unusable."""


class IntegrityError(BundleError):
    """Content does not match its digest, size or checksum."""


class SpaceError(BundleError):
    """Not enough free disk space for the work about to start."""
