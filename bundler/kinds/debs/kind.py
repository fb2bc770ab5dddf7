"""Debian packages for the island's VMs: a closure per target distribution, published as a signed apt repository.

lock: apt resolves each target's closure in a root of its own (see bundler.kinds.debs.resolve) and the lock pins
every .deb by name, version, pool path, sha256 and size, per target, with the sources' snapshot date.
fetch: each .deb is downloaded by its sha256 from the Packages index (resumable, into the content store,
bundler.bundle.store), then the repository's indexes are generated and signed (bundler.kinds.debs.repo).
In the archive: `debs/dists/<suite>/...`, `debs/pool/...` and the public key `debs/wire-bundle-archive-keyring.gpg`.
"""

from __future__ import annotations

import email.utils
import re
import shutil
import time
from pathlib import Path

import requests

from bundler import __version__
from bundler.bundle import gpg
from bundler.bundle.artifacts import Artifact, BuildContext, KindResult, file_artifact
from bundler.bundle.lock import DebLock, DebsLock, DebTargetLock
from bundler.bundle.mediatypes import DEBIAN_PACKAGE
from bundler.bundle.space import check_space, human
from bundler.bundle.spec import LoadedSpec
from bundler.bundle.store import BlobStore
from bundler.bundle.transport import Downloader
from bundler.errors import BundleError, RegistryError
from bundler.kinds.debs.aptroot import Source, host_network_settings, requests_proxies
from bundler.kinds.debs.repo import KEYRING, Dist, PoolEntry, publish
from bundler.kinds.debs.resolve import resolve_target, root_key
from bundler.kinds.debs.summary import DebsSummary, DebSummary, DebTargetSummary, RepoKeySummary


def _epoch(date: str) -> int:
    return int(email.utils.parsedate_to_datetime(date).timestamp())


def cache_path(cache_dir: Path, sha256: str) -> Path:
    """A .deb's place in the content store, by the sha256 the signed Packages index gives."""
    return BlobStore(cache_dir).path(f"sha256:{sha256}")


class DebsKind:
    name = "debs"

    def wanted(self, spec: LoadedSpec) -> bool:
        return bool(spec.spec.debs.packages)

    # --- lock ----------------------------------------------------------------------------------------------

    def lock(self, spec: LoadedSpec, ctx: BuildContext) -> DebsLock:
        debs = spec.spec.debs
        settings = host_network_settings()
        if settings:
            ctx.log("debs: from this host's apt configuration: "
                    + ", ".join(f"{k}={re.sub(r'//[^/@]+@', '//***@', v)}" for k, v in sorted(settings.items())))
        targets: list[DebTargetLock] = []
        for t in debs.targets:
            sources = [
                Source(s.uri.rstrip("/"), tuple(s.suites), tuple(s.components),
                       (spec.base_dir / s.signed_by).resolve())
                for s in t.sources
            ]
            described = {
                "name": t.name, "suite": t.suite, "architecture": t.architecture, "baseline": t.baseline,
                "sources": [{"uri": s.uri, "suites": list(s.suites), "components": list(s.components)}
                            for s in sources],
            }
            key = root_key({**described, "signed_by": [str(s.signed_by) for s in sources]})
            ctx.log(f"debs: resolving {len(debs.packages)} packages for {t.name} ({t.suite}/{t.architecture})")
            resolved = resolve_target(
                name=t.name, architecture=t.architecture, sources=sources, baseline=t.baseline,
                packages=list(debs.packages), recommends=debs.install_recommends,
                root_dir=ctx.cache_dir / "debs" / "apt" / key, settings=settings, log=ctx.log,
            )
            targets.append(DebTargetLock.model_validate({
                **described,
                "date": resolved.date,
                "baseline_packages": list(resolved.baseline),
                "packages": [p.to_json() for p in resolved.packages],
            }))
        _check_pool_paths(targets)
        return DebsLock(requested=sorted(debs.packages), install_recommends=debs.install_recommends,
                        date=max((t.date for t in targets), key=_epoch), targets=targets)

    # --- fetch ---------------------------------------------------------------------------------------------

    def fetch(self, spec: LoadedSpec, locked: DebsLock, ctx: BuildContext) -> KindResult:
        _check_pool_paths(locked.targets)
        unique: dict[str, DebLock] = {}
        for t in locked.targets:
            for p in t.packages:
                unique.setdefault(p.path, p)
        missing = [p for p in unique.values() if not cache_path(ctx.cache_dir, p.sha256).exists()]
        missing_bytes = sum(p.size for p in missing)
        check_space([(ctx.cache_dir, missing_bytes, "Debian packages for the cache")])
        if missing:
            ctx.log(f"debs: {len(unique)} packages, {len(missing)} to fetch ({human(missing_bytes)})")
            session = requests.Session()
            session.headers["User-Agent"] = f"wire-bundle/{__version__}"
            session.proxies.update(requests_proxies(host_network_settings()))
            downloader = Downloader(session)
            with ctx.progress("debs", missing_bytes) as task:
                for p in missing:
                    # The digest comes from the Packages index apt verified against the signed Release file.
                    try:
                        downloader.download(p.url, cache_path(ctx.cache_dir, p.sha256),
                                            digest=f"sha256:{p.sha256}", size=p.size,
                                            what=f"debs: {p.name} {p.version}", on_bytes=task.advance)
                    except RegistryError as exc:
                        if "404" not in str(exc):
                            raise
                        # Archives drop superseded versions from their pool (Debian at each point release).
                        raise RegistryError(f"debs: {p.name} {p.version}: {exc}; the archive no longer has "
                                            f"this version: lock again (`wire-bundle lock`) or use a snapshot "
                                            f"archive as the source") from None

        debs = spec.spec.debs
        # One signer per bundle: the build's --sign-key also signs the apt repository unless the spec names one.
        bundle_key = getattr(ctx, "sign_key", None)
        if debs.signing_key:
            key = gpg.read_key((spec.base_dir / debs.signing_key).resolve())
        elif bundle_key:
            key = gpg.read_key(bundle_key)
        else:
            key = gpg.cached_key(ctx.cache_dir, log=ctx.log)
        if key.expires is not None and key.expires - time.time() < gpg.WARN_BEFORE:
            ctx.warn(f"debs: signing key {key.fingerprint} expires "
                     f"{time.strftime('%Y-%m-%d', time.gmtime(key.expires))}, within a year")

        root = ctx.work_dir / "debs"
        if root.exists():
            shutil.rmtree(root)
        dists = _dists(locked, ctx.cache_dir)
        sign_at = gpg.signing_time(key, _epoch(locked.date))
        label = f"wire-bundle {spec.spec.name}"
        generated = publish(root, dists, key, label=label, date=locked.date, sign_at=sign_at)

        artifacts = [
            Artifact(path=f"debs/{p.path}", source=cache_path(ctx.cache_dir, p.sha256),
                     digest=f"sha256:{p.sha256}", size=p.size, kind="deb", origin=p.url,
                     media_type=DEBIAN_PACKAGE)
            for p in sorted(unique.values(), key=lambda p: p.path)
        ]
        artifacts += [file_artifact(f"debs/{f.relative_to(root).as_posix()}", f, "meta") for f in sorted(generated)]
        summary = DebsSummary(
            keyring=f"debs/{KEYRING}",
            key=RepoKeySummary(fingerprint=key.fingerprint, created=key.created, expires=key.expires,
                               origin=key.origin),
            date=locked.date,
            signed_at=sign_at,
            suites=sorted({d.suite for d in dists}),
            targets=[DebTargetSummary(
                name=t.name, suite=t.suite, architecture=t.architecture,
                baseline=t.baseline, baseline_count=len(t.baseline_packages),
                packages=[DebSummary(name=p.name, version=p.version, architecture=p.architecture, size=p.size,
                                     sha256=p.sha256, requested=p.requested) for p in t.packages],
                bytes=sum(p.size for p in t.packages),
            ) for t in locked.targets],
        )
        return KindResult(artifacts=artifacts, summary=summary)

    def inspect_rows(self, summary: DebsSummary) -> tuple[str, list[str], list[list[str]]]:
        rows = []
        for t in summary.targets:
            for p in t.packages:
                rows.append([f"{t.name} ({t.suite}/{t.architecture})", p.name, p.version,
                             human(p.size), "requested" if p.requested else "dependency"])
        title = (f"Debian packages (signed by {summary.key.fingerprint}, keyring {summary.keyring}, "
                 f"key expires {_day(summary.key.expires)})")
        return title, ["target", "package", "version", "size", "why"], rows


def _day(epoch: int | None) -> str:
    return "never" if epoch is None else time.strftime("%Y-%m-%d", time.gmtime(epoch))


def _check_pool_paths(targets: list[DebTargetLock]) -> None:
    """One pool path, one file: the bundle's pool keeps one of each (targets share arch-all packages)."""
    seen: dict[str, tuple[str, str]] = {}
    for t in targets:
        for p in t.packages:
            prev = seen.setdefault(p.path, (p.sha256, t.name))
            if prev[0] != p.sha256:
                raise BundleError(f"debs: {p.url} differs between target {prev[1]} (sha256:{prev[0][:16]}) "
                                  f"and target {t.name} (sha256:{p.sha256[:16]}): the archive changed a "
                                  f"published file; lock again")


def _dists(locked: DebsLock, cache_dir: Path) -> list[Dist]:
    by_suite: dict[str, Dist] = {}
    for t in locked.targets:
        dist = by_suite.setdefault(t.suite, Dist(t.suite, [], [], {}))
        if t.architecture not in dist.architectures:
            dist.architectures.append(t.architecture)
        for s in t.sources:
            for c in s.components:
                if c not in dist.components:
                    dist.components.append(c)
        for p in t.packages:
            entry = PoolEntry(filename=p.path, source=cache_path(cache_dir, p.sha256), sha256=p.sha256,
                              size=p.size, name=p.name, version=p.version, architecture=p.architecture)
            dist.indexes.setdefault((p.component, t.architecture), []).append(entry)
    for dist in by_suite.values():
        dist.architectures.sort()
        dist.components.sort()
    return [by_suite[s] for s in sorted(by_suite)]


KIND = DebsKind()
