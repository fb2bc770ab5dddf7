"""A test island: a bundle built and unpacked by the real CLI, served to lab VMs as the asset host serves it.

    bundle = build_island(work, "services-test", packages=[...], files={"cassandra/x.tgz": data})
    with serve_island(bundle, "0.0.0.0", host="lab-gateway", registry=storage) as asset_vars: ...

`build_island` serves `files` to the build from a loopback file server (the files kind fetches them over HTTP),
keeps the debs cache across runs, and unpacks with `wire-bundle unpack`. `serve_island` serves the unpacked tree
read-only (/debs/, /files/), and optionally a registry's storage (`ReadOnlyRegistry`), on the lab bridge; it yields
the variables a play reads to find them.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

from tests.support.cli import run_cli
from tests.support.fileserver import FileServer
from tests.support.httpserver import DirectoryServer
from tests.support.registry import ReadOnlyRegistry
from tests.support.specs import CACHE, bookworm_debs, pinned_files, write_spec


def build_bundle(workdir: Path, name: str, *, packages: list[str], files: dict[str, bytes] | None = None,
                 **sections: Any) -> Path:
    """Build `workdir/name.tar.zst`: Debian bookworm's `packages`, `files` at their bundle paths, and any other
    spec `sections` (images, registries); returns the archive."""
    files = files or {}
    with FileServer({"/" + path: data for path, data in files.items()}) as server:
        if files:
            sections["files"] = pinned_files(server.url, files)
        spec = write_spec(workdir / f"{name}.yaml", name=name, **sections, debs=bookworm_debs(packages))
        archive = workdir / f"{name}.tar.zst"
        r = run_cli("build", spec, "-o", archive, "--cache-dir", CACHE / "debs-cache", "-q", timeout=1800)
        if r.returncode != 0:
            raise RuntimeError(f"wire-bundle build failed: {r.stderr[-3000:]}")
    return archive


def build_island(workdir: Path, name: str, *, packages: list[str], files: dict[str, bytes] | None = None) -> Path:
    """`build_bundle`, then unpacked under `workdir`; returns the unpacked directory."""
    archive = build_bundle(workdir, name, packages=packages, files=files)
    unpacked = workdir / "bundle"
    r = run_cli("unpack", archive, "--to", unpacked, timeout=1800)
    if r.returncode != 0:
        raise RuntimeError(f"wire-bundle unpack failed: {r.stderr[-3000:]}")
    for p in [unpacked, *unpacked.rglob("*")]:  # served to the lab as whoever; apt's _apt never reads it here
        if p.is_dir():
            p.chmod(0o755)
    return unpacked


@contextmanager
def serve_island(bundle: Path, address: str, *, host: str | None = None, registry: Path | None = None,
                 registry_port: int = 5000, workdir: Path | None = None) -> Iterator[dict]:
    """`bundle` served on `address` (and `registry`'s storage on `address:registry_port`, its config and log in
    `workdir`) while the block runs; yields the play variables that point at them, by the name `host` the VMs
    know this machine by (default: `address`)."""
    host = host or address
    with ExitStack() as stack:
        server = stack.enter_context(DirectoryServer(bundle, address))
        asset_vars = {"ansible_pipelining": True, "wire_asset_host": host,
                      "wire_asset_url": f"http://{host}:{server.port}"}
        if registry is not None:
            island_registry = ReadOnlyRegistry(registry, workdir or bundle.parent, address, port=registry_port)
            stack.callback(island_registry.stop)
            asset_vars["wire_registry"] = f"{host}:{registry_port}"
        yield asset_vars
