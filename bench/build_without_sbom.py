"""`wire-bundle build` with its SBOM step replaced by a near-empty member and nothing else changed: the pipeline less
the SBOM's work, so bench/bench_sbom.py can measure what the SBOM adds to a build. Only for that benchmark; the
bundle it makes is not one to keep (its SBOM lists nothing). bundler.sbom.generate is replaced before anything
imports it, so this build does not import cyclonedx-python-lib either: what the SBOM costs includes its imports.

With WAIT_FOR_LAYERS=1 in the environment the empty step first waits for every download, as the real step does
(the archive's head lists the SBOM's digest, so the archive cannot start before the last layer is read): the cost
of that ordering alone, without the SBOM's own work.

    [WAIT_FOR_LAYERS=1] python bench/build_without_sbom.py build SPEC -o OUT --locked ...
"""

from __future__ import annotations

import concurrent.futures
import os
import sys
import types
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bundler.bundle.artifacts import file_artifact  # noqa: E402
from bundler.cli import main  # noqa: E402
from bundler.sbom.names import MEDIA_TYPE, MEMBER  # noqa: E402


def skipped(name, tool, lock, summaries, artifacts, work_dir, store, pending, wait, jobs, log):
    if os.environ.get("WAIT_FOR_LAYERS") == "1":
        concurrent.futures.wait(list(pending.values()))
        for f in pending.values():
            f.result()
    (work_dir / MEMBER).write_bytes(b"{}")
    log("sbom: skipped (bench/build_without_sbom.py), 0.00 s after the last download, 0.00 s")
    return file_artifact(MEMBER, work_dir / MEMBER, "meta", media_type=MEDIA_TYPE,
                         meta={"member": MEMBER, "format": "CycloneDX 1.6", "components": {}})


if __name__ == "__main__":
    stub = types.ModuleType("bundler.sbom.generate")
    stub.write_sbom = skipped  # type: ignore[attr-defined]
    sys.modules[stub.__name__] = stub
    main()  # as the command itself is run: its arguments from sys.argv, and its exit the same (gc.freeze)
