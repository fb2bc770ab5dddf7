"""A chart with the dependencies it does not vendor, resolved, fetched and pinned; and how to lay it out on
disk the way `helm template` expects (every dependency inside charts/)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bundler.errors import BundleError
from bundler.kinds.charts.package import ChartPackage, read_chart, subchart_dir, unpack
from bundler.kinds.charts.sources import ChartSources

MAX_DEPTH = 8


@dataclass
class ChartNode:
    name: str
    repo: str
    constraint: str
    version: str
    url: str
    digest: str
    size: int
    path: Path
    package: ChartPackage
    manifest: str | None = None  # OCI: the manifest digest the version's tag pointed to when locked
    dependencies: list[ChartNode] = field(default_factory=list)
    # The vendored subchart of the parent (names from the parent down) whose charts/ this one goes into;
    # () for the parent's own charts/.
    within: tuple[str, ...] = ()

    def walk(self):
        yield self
        for d in self.dependencies:
            yield from d.walk()

    def to_lock(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "name": self.name, "repo": self.repo, "constraint": self.constraint, "version": self.version,
            "url": self.url, "digest": self.digest, "size": self.size,
        }
        if self.manifest:
            out["manifest"] = self.manifest
        if self.within:
            out["within"] = list(self.within)
        out["dependencies"] = [d.to_lock() for d in sorted(self.dependencies,
                                                            key=lambda d: (d.within, d.name, d.repo))]
        return out


def _open(sources: ChartSources, name: str, repo: str, constraint: str, version: str, url: str,
          digest: str | None, size: int | None, manifest: str | None) -> ChartNode:
    path, digest, size = sources.fetch(name, repo, version, url, digest, size)
    pkg = read_chart(path, f"chart {name} {version}")
    if pkg.name != name:
        raise BundleError(f"chart {name} {version} from {repo}: the archive holds chart {pkg.name!r}")
    return ChartNode(name, repo, constraint, version, url, digest, size, path, pkg, manifest)


def lock_chart(sources: ChartSources, repo: str, name: str, constraint: str, _chain: tuple[str, ...] = (),
               _seen: frozenset[tuple[str, str]] = frozenset()) -> ChartNode:
    """Resolve `constraint`, fetch the chart, then do the same for each dependency that it or one of its
    vendored subcharts declares and the package does not vendor."""
    r = sources.resolve(repo, name, constraint)
    node = _open(sources, name, repo, constraint, r.version, r.url, r.digest, r.size, r.oci_manifest)
    chain = (*_chain, f"{name} {r.version}")
    # A wrapper chart may depend on a chart of its own name from another repository (Wire's rabbitmq on
    # Bitnami's): a cycle is the same name from the same repository.
    seen = _seen | {(name, repo.rstrip("/"))}
    where = " -> ".join(chain)
    for dep in node.package.missing:
        what = f"dependency {dep.name} {dep.version} of {dep.declared_by(name)}"
        if not dep.fetchable:
            raise BundleError(
                f"chart {where}: {what} ({dep.repository or 'no repository'}) is missing from the package and "
                "has no http(s):// or oci:// repository to fetch it from: vendor it in charts/ (helm dependency "
                "build) before publishing, or list the chart without it")
        if len(chain) >= MAX_DEPTH or (dep.name, dep.repository.rstrip("/")) in seen:
            raise BundleError(f"chart {where}: dependency cycle or depth over {MAX_DEPTH} at {dep.name}")
        # Chart.lock pins what the chart's author tested; fall back to the constraint in Chart.yaml.
        wanted = node.package.locked_versions.get(dep.name, dep.version) if not dep.within else dep.version
        try:
            child = lock_chart(sources, dep.repository.rstrip("/"), dep.name, wanted, chain, seen)
        except BundleError as exc:
            if str(exc).startswith("chart ") and " is missing from the package" in str(exc):
                raise
            raise type(exc)(f"chart {where}: {what} is missing from the package and could not be fetched: "
                            f"{exc}") from None
        child.within = dep.within
        node.dependencies.append(child)
    return node


def from_lock(sources: ChartSources, locked: dict[str, Any]) -> ChartNode:
    """The pinned chart tree, fetched (or found in the cache) and verified against the lock's digests."""
    node = _open(sources, locked["name"], locked["repo"], locked["constraint"], locked["version"], locked["url"],
                 locked["digest"], locked.get("size"), locked.get("manifest"))
    node.dependencies = [from_lock(sources, d) for d in locked.get("dependencies", [])]
    node.within = tuple(locked.get("within", ()))
    return node


def assemble(node: ChartNode, dest: Path) -> Path:
    """Unpack the chart under `dest` with each fetched dependency unpacked into the charts/ directory of the
    chart (or vendored subchart) that declares it."""
    chart_dir = unpack(node.package, dest)
    for dep in node.dependencies:
        assemble(dep, subchart_dir(chart_dir, dep.within) / "charts")
    return chart_dir
