"""The one error type of the values generator: a setting or input that is wrong, named by its key."""

from bundler.errors import BundleError


class ValuesError(BundleError):
    """An inconsistent or missing setting; the message starts with the inventory key or file at fault."""
