"""What a packaged chart (.tgz) holds: its Chart.yaml, the subcharts vendored in charts/, the dependencies it
still needs, and the `helm.sh/images` annotations; and how to unpack it safely for rendering."""

from __future__ import annotations

import io
import tarfile
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

import yaml

from bundler.errors import BundleError

# Chart.yaml annotations that list a chart's images as [{name, image}]: Helm's, Artifact Hub's, and the bare
# `images` Bitnami's charts carry.
IMAGES_ANNOTATIONS = ("helm.sh/images", "artifacthub.io/images", "images")
MAX_CHART_YAML = 1 << 20


@dataclass(frozen=True)
class Dependency:
    name: str
    version: str  # a constraint, as written in Chart.yaml
    repository: str  # https://..., oci://..., file://..., @alias, or "" (vendored)
    alias: str | None = None
    # The vendored subchart (names from the top chart down) that declares it; () for the top chart itself.
    within: tuple[str, ...] = ()

    def declared_by(self, top: str) -> str:
        """The chart path that declares it, e.g. wire-server/legalhold."""
        return "/".join((top, *self.within))

    @property
    def fetchable(self) -> bool:
        return self.repository.startswith(("http://", "https://", "oci://"))


@dataclass(frozen=True)
class AnnotatedImage:
    chart: str  # the chart (or vendored subchart) whose Chart.yaml declares it
    name: str
    image: str
    key: str = IMAGES_ANNOTATIONS[0]  # the annotation that lists it


@dataclass
class ChartPackage:
    path: Path
    top: str  # the directory every member lives under, normally the chart's name
    name: str
    version: str
    app_version: str | None
    dependencies: list[Dependency] = field(default_factory=list)
    vendored: set[str] = field(default_factory=set)  # names of subcharts inside charts/
    # Dependencies that vendored subcharts (at any depth) declare but do not vendor themselves.
    nested_missing: list[Dependency] = field(default_factory=list)
    annotated_images: list[AnnotatedImage] = field(default_factory=list)
    # Chart.lock's exact versions (name -> version), which the chart's author tested with.
    locked_versions: dict[str, str] = field(default_factory=dict)

    @property
    def missing(self) -> list[Dependency]:
        """Dependencies the chart or one of its vendored subcharts declares but the package does not vendor:
        they must be fetched and stored beside it. helm itself only checks the top chart's and renders a
        subchart without its missing ones, silently."""
        return [d for d in self.dependencies if d.name not in self.vendored] + self.nested_missing


def _load_chart_yaml(data: bytes, where: str) -> dict:
    try:
        doc = yaml.safe_load(data)
    except yaml.YAMLError as exc:
        raise BundleError(f"{where}: Chart.yaml is not valid YAML ({str(exc).splitlines()[0]})") from None
    if not isinstance(doc, dict) or not doc.get("name") or not doc.get("version"):
        raise BundleError(f"{where}: Chart.yaml lacks name or version")
    return doc


def _annotated(doc: dict, where: str) -> list[AnnotatedImage]:
    out = []
    annotations = doc.get("annotations") or {}
    for key in IMAGES_ANNOTATIONS:
        raw = annotations.get(key)
        if not raw:
            continue
        try:
            items = yaml.safe_load(raw) if isinstance(raw, str) else raw
        except yaml.YAMLError as exc:
            raise BundleError(f"{where}: annotation {key} is not YAML ({str(exc).splitlines()[0]})") from None
        if not isinstance(items, list) or not all(isinstance(i, dict) and i.get("image") for i in items):
            raise BundleError(f"{where}: annotation {key} must be a list of {{name, image}}")
        out += [AnnotatedImage(str(doc["name"]), str(i.get("name") or ""), str(i["image"]), key) for i in items]
    return out


def _dependencies(doc: dict, where: str, within: tuple[str, ...], source: str = "Chart.yaml") -> list[Dependency]:
    deps = []
    listed = doc.get("dependencies") if isinstance(doc, dict) else None
    if listed is not None and not isinstance(listed, list):
        raise BundleError(f"{where}: dependencies in {source} must be a list")
    for d in listed or []:
        if not isinstance(d, dict) or not d.get("name"):
            raise BundleError(f"{where}: a dependency in {source} has no name")
        deps.append(Dependency(str(d["name"]), str(d.get("version") or "*"), str(d.get("repository") or ""),
                               d.get("alias"), within))
    return deps


def _small_yaml(tf: tarfile.TarFile, member: tarfile.TarInfo | None, where: str):
    if member is None or member.size > MAX_CHART_YAML:
        return None
    try:
        return yaml.safe_load(tf.extractfile(member).read())
    except yaml.YAMLError as exc:
        raise BundleError(f"{where}: {member.name} is not valid YAML ({str(exc).splitlines()[0]})") from None


def _chart_lock(data: bytes) -> dict[str, str]:
    try:
        doc = yaml.safe_load(data)
    except yaml.YAMLError:
        return {}  # Chart.lock is advice; a broken one just means constraints are resolved afresh
    deps = doc.get("dependencies") if isinstance(doc, dict) else None
    return {str(d["name"]): str(d["version"]) for d in deps or [] if isinstance(d, dict)
            and d.get("name") and d.get("version")}


def _walk(tf: tarfile.TarFile, prefix: str, where: str, pkg: ChartPackage, within: tuple[str, ...] = ()) -> None:
    """Read Chart.yaml under `prefix` and, recursively, the subcharts in its charts/ (dirs and .tgz).

    Dependencies are read from Chart.yaml or, for apiVersion v1 charts (most of Wire's), requirements.yaml;
    those a subchart declares but does not vendor go to `pkg.nested_missing`, with the subchart's path."""
    members = {m.name: m for m in tf.getmembers()}
    chart_yaml = members.get(f"{prefix}/Chart.yaml")
    if chart_yaml is None:
        raise BundleError(f"{where}: no {prefix}/Chart.yaml (is this a Helm chart?)")
    if chart_yaml.size > MAX_CHART_YAML:
        raise BundleError(f"{where}: {prefix}/Chart.yaml is unreasonably large")
    doc = _load_chart_yaml(tf.extractfile(chart_yaml).read(), where)
    deps = _dependencies(doc, where, within)
    if not deps and str(doc.get("apiVersion", "v1")) == "v1":
        deps = _dependencies(_small_yaml(tf, members.get(f"{prefix}/requirements.yaml"), where), where, within,
                             "requirements.yaml")
    locked: dict[str, str] = {}
    for lock_name in ("Chart.lock", "requirements.lock"):
        lock_member = members.get(f"{prefix}/{lock_name}")
        if lock_member is not None and lock_member.size <= MAX_CHART_YAML:
            locked = locked or _chart_lock(tf.extractfile(lock_member).read())
    if not within:
        pkg.name, pkg.version = str(doc["name"]), str(doc["version"])
        pkg.app_version = str(doc["appVersion"]) if doc.get("appVersion") is not None else None
        pkg.dependencies = deps
        pkg.locked_versions = locked
    pkg.annotated_images.extend(_annotated(doc, where))
    vendored: set[str] = set()
    sub_prefix = f"{prefix}/charts/"
    sub_dirs = sorted({n[len(sub_prefix):].split("/", 1)[0] for n in members
                       if n.startswith(sub_prefix) and n[len(sub_prefix):].count("/") >= 1})
    for d in sub_dirs:
        if f"{sub_prefix}{d}/Chart.yaml" in members:
            sub_doc = _load_chart_yaml(tf.extractfile(members[f"{sub_prefix}{d}/Chart.yaml"]).read(), where)
            _walk(tf, f"{sub_prefix}{d}", where, pkg, (*within, str(sub_doc["name"])))
            vendored.add(str(sub_doc["name"]))
    for n in sorted(members):
        if n.startswith(sub_prefix) and n.endswith(".tgz") and "/" not in n[len(sub_prefix):]:
            inner = read_chart_bytes(tf.extractfile(members[n]).read(), f"{where}:{n}")
            vendored.add(inner.name)
            pkg.annotated_images.extend(inner.annotated_images)
            pkg.nested_missing.extend(
                Dependency(d.name, d.version, d.repository, d.alias, (*within, inner.name, *d.within))
                for d in inner.missing)
    if not within:
        pkg.vendored = vendored
    else:
        pkg.nested_missing.extend(d for d in deps if d.name not in vendored)


def read_chart_bytes(data: bytes, where: str, path: Path | None = None) -> ChartPackage:
    try:
        with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as tf:
            return _read(tf, where, path or Path(where))
    except (tarfile.TarError, OSError, EOFError) as exc:
        raise BundleError(f"{where}: not a chart archive ({exc})") from None


def read_chart(path: Path, where: str | None = None) -> ChartPackage:
    return read_chart_bytes(path.read_bytes(), where or path.name, path)


def _read(tf: tarfile.TarFile, where: str, path: Path) -> ChartPackage:
    names = [m.name for m in tf.getmembers()]
    tops = {PurePosixPath(n).parts[0] for n in names if n and not n.startswith("/")}
    if len(tops) != 1:
        raise BundleError(f"{where}: a chart archive holds exactly one top directory, found {sorted(tops)[:5]}")
    top = tops.pop()
    pkg = ChartPackage(path, top, "", "", None)
    _walk(tf, top, where, pkg)
    return pkg


def unpack(pkg: ChartPackage, dest: Path) -> Path:
    """Unpack the chart into `dest`; returns the chart directory. Unsafe members (links out, devices) fail."""
    dest.mkdir(parents=True, exist_ok=True)
    try:
        with tarfile.open(pkg.path, "r:gz") as tf:
            tf.extractall(dest, filter="data")
    except (tarfile.TarError, OSError) as exc:
        raise BundleError(f"{pkg.path.name}: cannot unpack chart ({exc})") from None
    return dest / pkg.top


def subchart_dir(chart_dir: Path, within: tuple[str, ...]) -> Path:
    """The directory of the vendored subchart `within` (names from `chart_dir` down), unpacking a subchart
    vendored as .tgz in place (helm reads charts/ entries as directories or archives alike)."""
    for name in within:
        charts = chart_dir / "charts"
        found = None
        for entry in sorted(charts.iterdir()) if charts.is_dir() else []:
            if entry.is_dir() and (entry / "Chart.yaml").is_file():
                meta = yaml.safe_load((entry / "Chart.yaml").read_text()) or {}
                if meta.get("name") == name:
                    found = entry
                    break
            elif entry.name.endswith(".tgz") and entry.name.startswith(f"{name}-"):
                inner = read_chart(entry)
                if inner.name == name and not (charts / name).exists():
                    scratch = charts / f".{entry.name}.unpack"
                    found = unpack(inner, scratch).rename(charts / name)
                    scratch.rmdir()
                    entry.unlink()
                    break
        if found is None:
            raise BundleError(f"{chart_dir.name}: no vendored subchart {name} in charts/")
        chart_dir = found
    return chart_dir
