"""One pipeline a reader can follow: spec -> lock -> fetch -> store -> archive."""

from __future__ import annotations

import concurrent.futures
import contextlib
import importlib
import tempfile
import time
from collections.abc import Iterable
from concurrent.futures import Future
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from bundler import __version__
from bundler.bundle.archive import WriteResult, unique_artifacts, write_archive
from bundler.bundle.artifacts import Artifact, KindResult, file_artifact
from bundler.bundle.basis import Basis, load_basis
from bundler.bundle.delta import DeltaPlan, delta_members
from bundler.bundle.lock import LOCK_VERSION, Lock, field_path, read_lock, read_lock_for, write_lock
from bundler.bundle.manifest import KindSummaries, Manifest, ManifestArtifact, SbomSummary
from bundler.bundle.progress import Reporter
from bundler.bundle.signing import PUBLIC_KEY, KeyReader, sign
from bundler.bundle.space import check_space, human
from bundler.bundle.spec import LoadedSpec
from bundler.bundle.store import BlobStore
from bundler.bundle.workdir import WorkDir
from bundler.errors import BundleError, SpecError
from bundler.kinds import KIND_NAMES, kind_module

__all__ = ["Context", "WorkDir", "BuildResult", "build", "resolve_lock", "lock_for_build", "read_lock", "write_lock"]

@dataclass
class Context:
    cache_dir: Path
    work_dir: Path
    reporter: Reporter
    jobs: int = 4
    helm: str | None = None
    sign_key: Path | None = None  # armored secret key; None: the key made once for this cache
    discovered_images: dict[str, list[dict[str, Any]]] = field(default_factory=dict)

    def progress(self, label: str, total_bytes: int | None = None):
        return self.reporter.bytes_task(label, total_bytes or 0)

    def log(self, message: str) -> None:
        self.reporter.log(message)

    def warn(self, message: str) -> None:
        self.reporter.warn(message)


def kinds(only: Iterable[str] | None = None) -> list[Any]:
    """The kind modules in pipeline order; `only` names the ones wanted (a build imports just those it locked)."""
    out = []
    wanted = None if only is None else set(only)
    for kind_name in KIND_NAMES:
        if wanted is not None and kind_name not in wanted:
            continue
        name = kind_module(kind_name)
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name == name:
                continue  # a kind not implemented in this version
            raise
        out.append(module.KIND)
    return out


# --- lock ---------------------------------------------------------------------------------------------------


def resolve_lock(loaded: LoadedSpec, ctx: Context) -> Lock:
    sections = {kind.name: kind.lock(loaded, ctx) for kind in kinds() if kind.wanted(loaded)}
    try:
        return Lock(version=LOCK_VERSION, spec_digest=loaded.spec.digest(), locked_at=int(time.time()),
                    tool=f"wire-bundle {__version__}", **sections)
    except ValidationError as exc:  # a kind's lock() made a record the lock does not describe: a bug
        err = exc.errors()[0]
        raise BundleError(f"the lock for {loaded.path} is malformed at {field_path(err['loc'])}: {err['msg']} "
                          "(a bug in wire-bundle; please report it)") from None


def lock_for_build(loaded: LoadedSpec, ctx: Context, locked: bool) -> Lock:
    exists, lock = read_lock_for(loaded.lock_path, loaded.spec.digest())
    if lock is not None:
        ctx.log(f"lock: using {loaded.lock_path}")
        return lock
    if locked:
        why = "was made for another version of the spec" if exists else "does not exist"
        raise SpecError(
            f"{loaded.path} changed since it was locked ({loaded.lock_path} {why}); run `wire-bundle lock "
            f"{loaded.path}` or build without --locked"
        )
    ctx.log(f"lock: {'spec changed, ' if exists else ''}resolving {loaded.path}")
    lock = resolve_lock(loaded, ctx)
    write_lock(loaded.lock_path, lock)
    ctx.log(f"lock: wrote {loaded.lock_path}")
    return lock


# --- build --------------------------------------------------------------------------------------------------


@dataclass
class BuildResult:
    archive: WriteResult
    metadata: Manifest
    artifacts: list[Artifact]
    signer: str
    delta: DeltaPlan | None = None


def build(loaded: LoadedSpec, output: Path, ctx: Context, locked: bool = False, level: int = 1,
          base: Path | None = None, keys: KeyReader | None = None) -> BuildResult:
    """With `base` (an earlier archive or its bundle.json), a delta bundle: only what the base lacks. `keys`: the
    signing key's reader when the caller started it (the `build` command does, before this module loads)."""
    # Reading the signing key runs gpg several times: it overlaps the checks, the lock and the fetches.
    with contextlib.nullcontext(keys) if keys is not None else KeyReader(ctx.cache_dir, ctx.sign_key) as reader:
        basis = load_basis(base) if base is not None else None
        if output.exists() and output.is_dir():
            raise BundleError(f"{output} is a directory; give the archive's file name, e.g. {output}/wire.tar.zst")
        check_writable_dir(output)
        return _build(loaded, output, ctx, locked, level, basis, reader)


def _build(loaded: LoadedSpec, output: Path, ctx: Context, locked: bool, level: int, basis: Basis | None,
           reader: KeyReader) -> BuildResult:
    reader.make(log=ctx.log)
    lock = lock_for_build(loaded, ctx, locked)
    key, key_home = reader.key(log=ctx.log), reader.home
    key_file = ctx.work_dir / PUBLIC_KEY
    key_file.write_bytes(key.public_armored)
    results: list[KindResult] = []
    try:
        for round_ in (1, 2):
            fetched: dict[str, Any] = {}
            for kind in kinds(only=lock.kinds()):
                result = kind.fetch(loaded, lock.section(kind.name), ctx)
                results.append(result)
                fetched[kind.name] = result.summary
            summaries = KindSummaries.model_validate(fetched)
            artifacts = unique_artifacts([a for r in results for a in r.artifacts]
                                         + [file_artifact(PUBLIC_KEY, key_file, "meta")])
            if not _discard_damaged(artifacts, {p for r in results for p in r.pending}, ctx, final=round_ == 2):
                break
            _close(results)  # fetch again: each kind now finds the thrown-away files missing
            results = []
        pending = {path: fut for r in results for path, fut in r.pending.items()}
        wait = _waiter(pending)
        # The SBOM reads every image layer, so the archive (whose head lists its digest) starts after the last one.
        # Imported here: verify and inspect import this module on the island, which needs no cyclonedx-python-lib.
        from bundler.sbom.generate import write_sbom

        sbom = write_sbom(loaded.spec.name, f"wire-bundle {__version__}", lock, summaries, artifacts, ctx.work_dir,
                          BlobStore(ctx.cache_dir), pending, wait, ctx.jobs, ctx.log)
        artifacts = unique_artifacts([*artifacts, sbom])
        metadata = _metadata(loaded, lock, summaries, artifacts, key.fingerprint)
        metadata.sbom = SbomSummary.model_validate(sbom.meta)
        signing = lambda data: sign(key, data, lock.locked_at, key_home)  # noqa: E731
        with concurrent.futures.ThreadPoolExecutor(max_workers=1, thread_name_prefix="sign-delta") as pool:
            members = delta_members(basis, metadata, artifacts, signing, pool) if basis else None
            delta = members.plan if members else None
            total = delta.carried_bytes if delta else sum(a.size for a in artifacts)
            check_space([(output.parent, total, "the archive (at most)")])
            ctx.log(f"archive: writing {delta.carried if delta else len(artifacts)} members, {human(total)} to "
                    f"{output}" + (f" (a delta on {basis.name} {basis.content_digest})" if delta and basis else ""))
            with ctx.progress("archive", total) as task:
                written = write_archive(output, metadata, artifacts, mtime=lock.locked_at, level=level,
                                        on_bytes=task.advance, wait=wait, fresh=frozenset(pending),
                                        sign=signing, leave_out=delta.leave_out if delta else frozenset(),
                                        extra=members.head if members else (),
                                        tail=members.tail if members else tuple)
    finally:
        _close(results)
    return BuildResult(written, metadata, artifacts, key.fingerprint, delta)


def check_writable_dir(output: Path) -> None:
    """Refuse an output nobody can write before the first download, not after the last one."""
    parent = output.absolute().parent
    while not parent.exists() and parent != parent.parent:
        parent = parent.parent
    if not parent.is_dir():
        raise BundleError(f"{output}: cannot be written, {parent} is not a directory")
    try:
        with tempfile.TemporaryFile(dir=parent):
            pass
    except OSError as exc:
        raise BundleError(f"{output}: cannot write in {parent}: {exc.strerror}") from None


def _close(results: list[KindResult]) -> None:
    for r in results:
        if r.close:
            r.close()


def _discard_damaged(artifacts: list[Artifact], pending: set[str], ctx: Context, final: bool) -> bool:
    """Throw away cached files whose size is not the one their digest was verified with; True if any were.

    A file at its final name in the cache was complete when stored, but a disk, a crash of the file system or a
    hand can cut it short later; found now it costs a download, found while writing the archive a failed build.
    """
    damaged = False
    for a in artifacts:
        if a.path in pending or not a.source.is_relative_to(ctx.cache_dir):
            continue
        try:
            actual = a.source.stat().st_size
        except FileNotFoundError:
            actual = 0
        if actual == a.size:
            continue
        if final:
            raise BundleError(f"{a.source}: {actual} bytes in the cache, not {a.size}, even after fetching it again")
        ctx.warn(f"cache: {a.source} holds {actual} of its {a.size} bytes ({a.path}); thrown away, fetching again")
        a.source.unlink(missing_ok=True)
        damaged = True
    return damaged


def _waiter(pending: dict[str, Future]):
    """Block until an artifact's download is done; fail fast when any download failed."""
    failed: list[Future] = []
    for fut in pending.values():
        fut.add_done_callback(lambda f: failed.append(f) if not f.cancelled() and f.exception() else None)

    def wait(artifact: Artifact) -> None:
        fut = pending.get(artifact.path)
        while fut is not None and not fut.done() and not failed:
            concurrent.futures.wait([fut], timeout=0.2)
        if failed:
            failed[0].result()
        if fut is not None:
            fut.result()

    return wait


def _metadata(loaded: LoadedSpec, lock: Lock, summaries: KindSummaries, artifacts: list[Artifact],
              signer: str) -> Manifest:
    return Manifest(
        name=loaded.spec.name,
        created=lock.locked_at,
        tool=lock.tool,
        spec=loaded.spec.model_dump(mode="json"),
        lock=lock,
        kinds=summaries,
        artifacts=[ManifestArtifact(path=a.path, digest=a.digest, size=a.size, kind=a.kind,
                                    media_type=a.media_type, origin=a.origin) for a in artifacts],
        signer=signer,
    )
