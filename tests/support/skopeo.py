"""Thin wrappers over real `skopeo` for interop checks against test registries (plain http, loopback).

    digest = inspect_digest(f"{registry.host}/wire/brig:1")
    copy(f"oci:{layout}:quay.io/wire/brig:1", f"docker://{registry.host}/roundtrip/brig:1")
"""

from __future__ import annotations

import json
import subprocess

SKOPEO = "/usr/bin/skopeo"
TIMEOUT = 300


class SkopeoError(RuntimeError):
    pass


def _creds(flag: str, auth: tuple[str, str] | None) -> list[str]:
    return [flag, f"{auth[0]}:{auth[1]}"] if auth else []


def run(*args: str) -> str:
    proc = subprocess.run([SKOPEO, *args], capture_output=True, text=True, timeout=TIMEOUT,
                          stdin=subprocess.DEVNULL)
    if proc.returncode != 0:
        raise SkopeoError(f"skopeo {args[0]} failed: {proc.stderr.strip()[-600:]}")
    return proc.stdout


def inspect(ref: str, *, raw: bool = False, auth: tuple[str, str] | None = None) -> dict:
    """`skopeo inspect` of a docker:// reference (host/repo:tag or @digest) as JSON."""
    args = ["inspect", "--tls-verify=false", "--no-tags", *_creds("--creds", auth)]
    if raw:
        args.append("--raw")
    return json.loads(run(*args, f"docker://{ref}"))


def inspect_digest(ref: str, *, auth: tuple[str, str] | None = None) -> str:
    """The digest skopeo reports for `ref` (of the index for a multi-arch tag)."""
    return inspect(ref, auth=auth)["Digest"]


def copy(src: str, dst: str, *, src_auth: tuple[str, str] | None = None,
         dst_auth: tuple[str, str] | None = None, all_platforms: bool = False,
         preserve_digests: bool = True) -> str:
    """`skopeo copy SRC DST` with full transport names (oci:DIR:REF, docker://HOST/REPO:TAG, ...).

    `preserve_digests` makes skopeo fail rather than silently recompress or convert, which is what an
    interop test that says "the digest is kept" needs.
    """
    args = ["copy", "--quiet", "--src-tls-verify=false", "--dest-tls-verify=false",
            *_creds("--src-creds", src_auth), *_creds("--dest-creds", dst_auth)]
    if all_platforms:
        args.append("--all")
    if preserve_digests:
        args.append("--preserve-digests")
    return run(*args, src, dst)
