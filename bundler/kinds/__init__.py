"""One package per artifact kind. Each turns its spec section into a lock section, then into artifacts.

The order matters: charts run first because the images they use join the image list.
"""

KIND_NAMES = ["charts", "images", "debs", "files", "toolchain"]


def kind_module(name: str) -> str:
    """Each kind is a package; its `kind` module holds the KIND object the pipeline drives."""
    return f"bundler.kinds.{name}.kind"
