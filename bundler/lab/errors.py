"""The lab's expected failures (refusals and setup errors the operator can act on)."""

from bundler.errors import BundleError


class LabError(BundleError):
    """The island lab cannot be brought up, reached or torn down; the message says which lab and why."""
