"""One module per artifact kind. Each turns its spec section into a lock section, then into artifacts.

The order matters: charts run first because the images they use join the image list.
"""

KIND_MODULES = [
    "bundler.kinds.charts",
    "bundler.kinds.images",
    "bundler.kinds.debs",
    "bundler.kinds.files",
    "bundler.kinds.toolchain",
]
