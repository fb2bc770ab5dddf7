"""wire-bundle: build, carry and install the Wire backend on air-gapped networks."""

__version__ = "0.1.0"
