"""The build's own Context for calling KIND.lock / KIND.fetch directly in tests; its messages go to a buffer."""

from __future__ import annotations

import io
from pathlib import Path

from bundler.bundle.build import Context
from bundler.bundle.progress import Reporter


def build_context(cache_dir: Path, work_dir: Path) -> Context:
    return Context(cache_dir=cache_dir, work_dir=work_dir, reporter=Reporter(stream=io.StringIO()), jobs=2)
