"""The signing key made for a cache: one key, even when two builds start on a new cache at once."""

from __future__ import annotations

import os
import subprocess
import sys

PROBE = """
import sys
from pathlib import Path
from bundler.bundle.signing import KeyReader
with KeyReader(Path(sys.argv[1]), None) as reader:  # as a build takes its key
    print(reader.key(log=lambda m: print(m, file=sys.stderr)).fingerprint)
"""


def test_two_builds_on_a_new_cache_share_one_signing_key(tmp_path):
    """RSA generation takes seconds, so both processes find no key; only one may make it (the old code made two,
    and the second replaced the first)."""
    cache = tmp_path / "cache"
    env = {k: v for k, v in os.environ.items() if k != "WIRE_BUNDLE_SIGN_KEY"}
    procs = [subprocess.Popen([sys.executable, "-c", PROBE, str(cache)], env=env, text=True,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE) for _ in range(2)]
    results = [p.communicate(timeout=300) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], [err for _, err in results]
    fingerprints = {out.strip() for out, _ in results}
    assert len(fingerprints) == 1, f"two keys were made: {fingerprints}"
    assert sum("made signing key" in err for _, err in results) == 1
    listing = subprocess.run(["gpg", "--show-keys", "--with-colons", str(cache / "debs/signing-key/secret.asc")],
                             capture_output=True, text=True, check=True).stdout
    assert f"fpr:::::::::{fingerprints.pop()}:" in listing
