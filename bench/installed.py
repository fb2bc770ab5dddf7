"""Benchmarks time wire-bundle as an operator runs it: installed, its modules compiled to bytecode.

pip compiles an installed wheel; an editable checkout is compiled by scripts/install-deps.sh, but code changed
since then is not, and with PYTHONDONTWRITEBYTECODE set (as on this project's machines) every run would compile
it from source again: about 70 ms a command, which no operator pays.
"""

from __future__ import annotations

import compileall
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "bundler"


def compile_package() -> None:
    if not compileall.compile_dir(PACKAGE, quiet=1):
        raise SystemExit(f"could not compile {PACKAGE}")
