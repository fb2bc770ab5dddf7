"""Where the package's data files and the checkout's playbooks and tools are: one place for every module."""

from pathlib import Path

PACKAGE = Path(__file__).resolve().parent
DATA = PACKAGE / "data"
# The checkout (or source tree) the package runs from: playbooks/, tools/bin/ beside bundler/.
REPO = PACKAGE.parent
