"""The scenario's chart directory: Wire's real 5.29.0 release packaged as Wire's CI publishes it
(tests/support/wire_release.py, from ../shared/wire-release or $WIRE_RELEASE_DIR), one NAME-VERSION.tgz per chart as
a bundle's charts/ holds them; a chart named in STAND-IN comes from tests/island/values/charts instead (a release whose
generated values do not render the real chart yet). Usage: charts.py PROJECT DEST [STAND-IN,...]"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path


def main(argv: list[str]) -> int:
    project, dest = Path(argv[0]), Path(argv[1])
    standins = [n for n in (argv[2] if len(argv) > 2 else "").split(",") if n]
    sys.path.insert(0, str(project))
    from bundler.kinds.charts.render import find_helm
    from tests.support.wire_release import package_release, release_dir

    if release_dir() is None:
        print("shared/wire-release is not beside the checkout (set WIRE_RELEASE_DIR): the scenario needs Wire's "
              "real release", file=sys.stderr)
        return 1
    release = package_release(dest / "packaging", find_helm(), standins=True)
    charts = dest / "charts"
    charts.mkdir(parents=True, exist_ok=True)
    for name, tgz in release.packages.items():
        if name not in standins:
            shutil.copy(tgz, charts / tgz.name)
    for name in standins:
        shutil.copytree(project / "tests" / "island" / "values" / "charts" / name, charts / name)
    shutil.rmtree(dest / "packaging")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
