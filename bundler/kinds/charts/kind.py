"""Helm charts: locked to exact versions and .tgz digests (with the dependencies they do not vendor), stored
under charts/ in the archive, and rendered with `helm template` to find the images they will ask for.

Charts run before images: the images found here go into `ctx.discovered_images`, and the images kind locks
and stores them like the ones the spec lists.
"""

from __future__ import annotations

import json
import os
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from bundler.bundle.artifacts import Artifact, KindResult, sha256_file
from bundler.bundle.lock import ChartLock
from bundler.bundle.mediatypes import HELM_CONTENT
from bundler.bundle.spec import LoadedSpec
from bundler.errors import BundleError
from bundler.kinds.charts.images import chart_dir, classify, merge_records, render_set, value_sets
from bundler.kinds.charts.render import HelmMissing, RenderFailed, find_helm
from bundler.kinds.charts.sources import ChartSources
from bundler.kinds.charts.summary import ChartDependencySummary, ChartSummary
from bundler.kinds.charts.tree import ChartNode, from_lock, lock_chart

MEDIA_TYPE = HELM_CONTENT


def member_path(name: str, version: str) -> str:
    return f"charts/{name}-{version}.tgz"


def sources_for(spec: LoadedSpec, ctx: Any) -> ChartSources:
    return ChartSources(Path(ctx.cache_dir), spec.spec.registries, client=getattr(ctx, "registry", None))


def publish(ctx: Any, images: dict[str, list[dict[str, Any]]]) -> None:
    """Add why-records to ctx.discovered_images, once each (lock and fetch may both run in one build)."""
    for ref, recs in images.items():
        have = ctx.discovered_images.setdefault(ref, [])
        for r in recs:
            if r not in have:
                have.append(r)


class DiscoveryFailed(BundleError):
    """Some charts could not be had or rendered: every one of them, after a summary line."""

    def __init__(self, charts: int, sets: list[list], failures: list[tuple[int, BaseException]]):
        """`failures`: (index of the spec chart, its error), chart errors first, then renderings."""
        total = sum(len(s) for s in sets)
        unresolved = [i for i, exc in failures if not isinstance(exc, RenderFailed)]
        failed = sum(len(sets[i]) for i in unresolved) + len(failures) - len(unresolved)
        head = f"{failed} of {total} renderings failed"
        if unresolved:
            head += f" ({len(unresolved)} of {charts} charts could not be had, so none of their value sets " \
                    "was rendered)"
        lines = [f"{exc.what}: {exc.message}" if isinstance(exc, RenderFailed) else str(exc)
                 for _e, exc in failures]
        super().__init__("\n  ".join([head + ":", *lines]))
        self.failures = failures


def _gather(pool: ThreadPoolExecutor, calls: list[tuple]) -> list[Any]:
    """Run every call; each result is its value or the BundleError it raised (in call order). Anything else,
    and a missing helm, stops everything at once."""
    futures = [pool.submit(fn, *args) for fn, *args in calls]
    out: list[Any] = []
    try:
        for f in futures:
            try:
                out.append(f.result())
            except HelmMissing:
                raise
            except BundleError as exc:
                out.append(exc)
    except BaseException:
        for f in futures:
            f.cancel()
        raise
    return out


def chart_images(locked: list[ChartLock], exclude: list[str], warn) -> tuple[dict, dict]:
    return classify([r.to_json() for c in locked for r in c.images], exclude, warn)


class ChartsKind:
    name = "charts"

    def wanted(self, spec: LoadedSpec) -> bool:
        return bool(spec.spec.charts)

    def lock(self, spec: LoadedSpec, ctx: Any) -> list[ChartLock]:
        if spec.manifest is not None:
            m = spec.manifest
            before = _locked_release(spec)
            if before is not None and before.get("sha256") != m.sha256:
                ctx.log(f"release manifest {m.source} changed since {spec.lock_path.name} was written (version "
                        f"{before.get('version')} -> {m.version}): its charts are locked again")
            ctx.log(f"release manifest {m.source}: version {m.version}, sha256 {m.sha256}, "
                    f"{len(spec.spec.release_charts)} of its {len(m.charts)} charts")
        return self.discover(spec, ctx)

    def discover(self, spec: LoadedSpec, ctx: Any, pinned: list[ChartLock] | None = None) -> list[ChartLock]:
        """Lock every chart (or take the versions `pinned` by an existing lock), render it with each of its
        value sets, and publish the images found to ctx.discovered_images.

        Every chart is resolved and every rendering attempted before failing, so that one run reports every
        chart that cannot be had and every rendering helm refuses (DiscoveryFailed, one line each)."""
        helm = find_helm(ctx.helm)  # before any download: without helm the lock cannot be complete
        sources = sources_for(spec, ctx)
        work = Path(ctx.work_dir) / "charts"
        by_key = {(c.repo, c.name): c for c in pinned or []}
        charts = spec.spec.charts
        sets = [value_sets(entry.name, entry.values, spec.base_dir) for entry in charts]

        def resolve(entry) -> tuple[ChartNode, Path]:
            previous = by_key.get((entry.repo, entry.name))
            if previous is not None and previous.constraint == entry.version:
                node = from_lock(sources, previous)
            else:
                ctx.log(f"chart {entry.name} {entry.version} from {entry.repo}")
                node = lock_chart(sources, entry.repo, entry.name, entry.version)
            return node, chart_dir(node, work)

        # helm template is CPU-bound: more renders at once than cores only adds waiting.
        workers = max(1, min(int(getattr(ctx, "jobs", 1)), os.cpu_count() or 1))
        with ThreadPoolExecutor(max_workers=workers) as pool:
            resolved = _gather(pool, [(resolve, entry) for entry in charts])
            renders = [(i, vs) for i, got in enumerate(resolved) if not isinstance(got, BaseException)
                       for vs in sets[i]]
            results = _gather(pool, [(render_set, resolved[i][0], resolved[i][1], vs, helm, work)
                                     for i, vs in renders])
        failures = [(i, got) for i, got in enumerate(resolved) if isinstance(got, BaseException)]
        failures += [(i, got) for (i, _), got in zip(renders, results, strict=True)
                     if isinstance(got, BaseException)]
        if len(failures) == 1 and not isinstance(failures[0][1], RenderFailed):
            raise failures[0][1]  # one chart that cannot be had: its own one-line error
        if failures:
            raise DiscoveryFailed(len(charts), sets, failures)
        locked = []
        rendered: dict[int, list] = {}
        for (i, vs), found in zip(renders, results, strict=True):
            rendered.setdefault(i, []).append((vs, found))
        for i, (node, _dir) in enumerate(resolved):
            section = node.to_lock()
            section["values"] = [
                {"set": vs.label, "digests": [sha256_file(p) for p in vs.files]} for vs in sets[i]
            ]
            section["images"] = merge_records(node, rendered.get(i, []))
            if charts[i].name in spec.spec.release_charts and spec.manifest is not None:
                section["release"] = spec.manifest.lock_record()
            locked.append(ChartLock.model_validate(section))
        locked.sort(key=lambda c: (c.name, c.repo))
        kept, _ = chart_images(locked, spec.spec.images.exclude, ctx.warn)
        publish(ctx, kept)
        return locked

    def fetch(self, spec: LoadedSpec, locked: list[ChartLock], ctx: Any) -> KindResult:
        sources = sources_for(spec, ctx)
        artifacts: dict[str, Artifact] = {}
        summary: list[ChartSummary] = []
        for section in locked:
            _check_release(spec, section)
            _check_values(spec, section)
            root = from_lock(sources, section)
            for node in root.walk():
                _add(artifacts, node)
            kept, dropped = chart_images([section], spec.spec.images.exclude, lambda _m: None)
            summary.append(ChartSummary(
                name=root.name, version=root.version, repo=root.repo, digest=root.digest, size=root.size,
                path=member_path(root.name, root.version),
                dependencies=[_dep_summary(d, parent) for parent in root.walk() for d in parent.dependencies],
                images=sorted(kept), excluded=sorted(dropped)))
        # A build from an existing lock skips lock(): the images still need to reach the images kind.
        kept, _ = chart_images(locked, spec.spec.images.exclude, lambda _m: None)
        publish(ctx, kept)
        return KindResult(artifacts=[artifacts[p] for p in sorted(artifacts)], summary=summary)

    def inspect_rows(self, summary: list[ChartSummary]) -> tuple[str, list[str], list[list[str]]]:
        rows = []
        for c in summary:
            rows.append([c.name, c.version, c.repo, c.digest[:19], _size(c.size), str(len(c.images))])
            for d in c.dependencies:
                rows.append([f"  └ {d.name}", d.version, d.repo, d.digest[:19], _size(d.size), ""])
        return "Helm charts", ["chart", "version", "repository", "digest", "size", "images"], rows


def _locked_release(spec: LoadedSpec) -> dict[str, Any] | None:
    """The release manifest the existing lock file records, if any (a damaged lock records none)."""
    try:
        sections = json.loads(spec.lock_path.read_text()).get("charts") or []
    except (OSError, ValueError, AttributeError):
        return None
    return next((c["release"] for c in sections if isinstance(c, dict) and isinstance(c.get("release"), dict)),
                None)


def _check_release(spec: LoadedSpec, section: ChartLock) -> None:
    """The chart came from a release manifest: the one read now must be the one the lock was made from."""
    was = section.release
    if was is None:
        return
    now = spec.manifest
    if now is None or now.source != was.manifest:
        raise BundleError(f"chart {section.name}: locked from release manifest {was.manifest}, which "
                          f"the spec no longer names: run `wire-bundle lock {spec.path}`")
    if now.sha256 != was.sha256:
        raise BundleError(f"release manifest {now.source} changed since {spec.lock_path.name} was written (version "
                          f"{was.version}, sha256 {was.sha256[:12]}... -> version {now.version}, "
                          f"sha256 {now.sha256[:12]}...), so its charts may differ: run `wire-bundle lock {spec.path}`")


def _check_values(spec: LoadedSpec, section: ChartLock) -> None:
    """The images in the lock were found with these values files: if one changed, they may be wrong."""
    entry = next((c for c in spec.spec.charts if (c.repo, c.name) == (section.repo, section.name)), None)
    if entry is None:
        return
    sets = value_sets(entry.name, entry.values, spec.base_dir)
    for vs, was in zip(sets, section.values, strict=False):
        now = [sha256_file(p) for p in vs.files]
        if vs.label != was.set or now != was.digests:
            raise BundleError(f"chart {entry.name}: values {vs.label} changed since {spec.lock_path.name} was "
                              f"written, so its images may differ: run `wire-bundle lock {spec.path}`")
    if len(sets) != len(section.values):
        raise BundleError(f"chart {entry.name}: its value sets changed since {spec.lock_path.name} was written: "
                          f"run `wire-bundle lock {spec.path}`")


def _add(artifacts: dict[str, Artifact], node: ChartNode) -> None:
    path = member_path(node.name, node.version)
    have = artifacts.get(path)
    if have is not None:
        if have.digest != node.digest:
            raise BundleError(f"chart {node.name} {node.version} comes from two repositories with different "
                              f"content ({have.origin}: {have.digest}, {node.url}: {node.digest})")
        return
    artifacts[path] = Artifact(path=path, source=node.path, digest=node.digest, size=node.size, kind="chart",
                               media_type=MEDIA_TYPE, origin=node.url,
                               meta={"name": node.name, "version": node.version})


def _dep_summary(node: ChartNode, parent: ChartNode) -> ChartDependencySummary:
    # The island installer unpacks `path` into the charts/ directory of `parent` before installing.
    out = ChartDependencySummary(name=node.name, version=node.version, repo=node.repo, digest=node.digest,
                                 size=node.size, path=member_path(node.name, node.version),
                                 parent=member_path(parent.name, parent.version))
    if node.within:  # it belongs in the charts/ of this vendored subchart of `parent`
        out.within = list(node.within)
    return out


def _size(n: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB"):
        if n < 1024 or unit == "GiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return str(n)


KIND = ChartsKind()
