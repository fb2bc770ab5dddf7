"""The bundle spec: what an island install needs, as the operator writes it (YAML, `version: 1`).

Every section is validated here, strictly: unknown keys, wrong types, duplicates and invalid references are
errors that name the file, the line and the key path. The pipeline reads only these models.
"""

from __future__ import annotations

import difflib
import hashlib
import json
import re
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    ValidationError,
    field_validator,
    model_validator,
)

from bundler.bundle.yamlsrc import Located, load_located, loads_located
from bundler.errors import BundleError, SpecError
from bundler.kinds.images.reference import Reference, parse_reference

if TYPE_CHECKING:
    from bundler.kinds.charts.release_manifest import Manifest

PLATFORM_RE = re.compile(r"^[a-z0-9]+/[a-z0-9_]+(?:/[a-z0-9]+)?$")
DEFAULT_PLATFORMS = ["linux/amd64"]
MAX_CONSTRAINT = 200


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True, defer_build=True)


class DuplicateEntry(ValueError):
    """A list holds one thing twice; `index` is the second one's, so the error can name its line."""

    def __init__(self, message: str, index: int):
        super().__init__(message)
        self.index = index


def _no_duplicates(values: list[Any], what: str, key=lambda v: v) -> None:
    seen: dict[Any, int] = {}
    for i, v in enumerate(values):
        k = key(v)
        if k in seen:
            raise DuplicateEntry(f"duplicate {what} {k!r} (also at index {seen[k]})", i)
        seen[k] = i


CREDENTIALS_HINT = ("put them in the Docker config file (~/.docker/config.json, e.g. with `docker login`), "
                    "which the build reads; the spec lands in the signed bundle")


def _refuse_credentials(address: str, what: str) -> None:
    """A `user:password@` in a registry address would be written into the lock and the signed bundle."""
    rest = address.split("://", 1)[-1]
    userinfo, at, after = rest.partition("@")
    # A digest (`name@sha256:...`) follows the repository, so an '@' before the first '/' is user info.
    if at and "/" not in userinfo and ("/" in after or what != "image"):
        raise ValueError(f"{what} '***@{after}' holds credentials: {CREDENTIALS_HINT}")


def _check_platforms(platforms: list[str]) -> list[str]:
    for p in platforms:
        if not PLATFORM_RE.match(p):
            raise ValueError(f"invalid platform {p!r}: expected os/arch[/variant], e.g. linux/amd64")
    _no_duplicates(platforms, "platform")
    return platforms


# --- registries ---------------------------------------------------------------------------------------------


class RegistrySettings(Strict):
    insecure: bool = Field(False, description="plain http instead of https (only for registries you name)")
    mirror: str | None = Field(
        None, description="fetch this registry's images from another host; the bundle keeps the original name"
    )

    @field_validator("mirror")
    @classmethod
    def _mirror_host(cls, v: str | None) -> str | None:
        if v is not None and ("/" in v.split("://")[-1] or not v.strip()):
            raise ValueError("mirror is a host[:port], not a URL path")
        return v


# --- images -------------------------------------------------------------------------------------------------


class ImageEntry(Strict):
    ref: str
    platforms: list[str] | None = None

    @model_validator(mode="before")
    @classmethod
    def _short_form(cls, v: Any) -> Any:
        # `- quay.io/wire/brig:5.0` is shorthand for `- ref: quay.io/wire/brig:5.0`.
        return {"ref": v} if isinstance(v, str) else v

    @field_validator("ref")
    @classmethod
    def _ref(cls, v: str) -> str:
        _refuse_credentials(v, "image")
        parse_reference(v)
        return v

    @field_validator("platforms")
    @classmethod
    def _platforms(cls, v: list[str] | None) -> list[str] | None:
        return None if v is None else _check_platforms(v)

    @property
    def reference(self) -> Reference:
        return parse_reference(self.ref)


class ImagesSection(Strict):
    platforms: list[str] = Field(default_factory=lambda: list(DEFAULT_PLATFORMS))
    refs: list[ImageEntry] = Field(default_factory=list)
    exclude: list[str] = Field(default_factory=list, description="fnmatch patterns on normalised references")

    @field_validator("platforms")
    @classmethod
    def _platforms(cls, v: list[str]) -> list[str]:
        if not v:
            raise ValueError("at least one platform")
        return _check_platforms(v)

    @field_validator("refs")
    @classmethod
    def _refs(cls, v: list[ImageEntry]) -> list[ImageEntry]:
        _no_duplicates(v, "image", key=lambda e: str(e.reference))
        return v


# --- charts -------------------------------------------------------------------------------------------------


def _chart_repo(v: str) -> str:
    if not v.startswith(("http://", "https://", "oci://")):
        raise ValueError("repo must start with https://, http:// or oci://")
    return v.rstrip("/")


def _chart_name(v: str) -> str:
    if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]*", v):
        raise ValueError(f"invalid chart name {v!r}: letters, digits, '.', '_' and '-'")
    return v


def _chart_version(v: str) -> str:
    from bundler.kinds.charts.semver import Constraint, ConstraintError

    # The constraint parser's time grows with the square of its input (16,000 characters: 5 s, found by
    # fuzzing); a real constraint is a few dozen characters.
    if len(v) > MAX_CONSTRAINT:
        raise ValueError(f"version constraint of {len(v)} characters; at most {MAX_CONSTRAINT}")
    try:
        Constraint(v)
    except ConstraintError as exc:
        raise ValueError(str(exc)) from None
    return v


def _chart_values(v: list[list[str] | str]) -> list[list[str] | str]:
    for item in v:
        for name in [item] if isinstance(item, str) else item:
            if not name.strip():
                raise ValueError("empty values file name")
    return v


# A chart's fields as charts[] and release.charts{} take them, checked the same way in both.
ChartName = Annotated[str, AfterValidator(_chart_name)]
ChartRepo = Annotated[str, AfterValidator(_chart_repo)]
ChartVersion = Annotated[str, AfterValidator(_chart_version)]
ValueSets = Annotated[list[list[str] | str], AfterValidator(_chart_values)]


class ChartEntry(Strict):
    name: ChartName
    repo: ChartRepo = Field(description="https://... chart repository (index.yaml) or oci://host/path")
    version: ChartVersion = Field(description="exact version or a constraint such as ^4.40 or >=1.2,<2")
    values: ValueSets = Field(
        default_factory=list,
        description="value sets to render for image discovery; each item is one file or a list of files",
    )


class ChartsSection(Strict):
    charts: list[ChartEntry] = Field(default_factory=list)

    @field_validator("charts")
    @classmethod
    def _unique(cls, v: list[ChartEntry]) -> list[ChartEntry]:
        _no_duplicates(v, "chart", key=lambda c: (c.repo, c.name))
        return v


# --- a Wire release manifest -------------------------------------------------------------------------------


class ReleaseChart(Strict):
    """What the spec changes about one chart of the manifest; anything not given is the manifest's."""

    repo: ChartRepo | None = Field(None, description="take the chart from this repository instead")
    version: ChartVersion | None = Field(None, description="this version or constraint instead of the manifest's")
    values: ValueSets = Field(default_factory=list, description="value sets for image discovery, as charts[].values")


class ReleaseSection(Strict):
    manifest: str = Field(description="wire-builds build.json: a path relative to the spec, or an http(s) URL")
    sha256: str | None = Field(None, description="the manifest's sha256 (hex): any other manifest is refused")
    exclude: dict[str, str] = Field(default_factory=dict, description="chart -> why it is left out")
    charts: dict[str, ReleaseChart] = Field(default_factory=dict, description="chart -> overrides")

    @field_validator("manifest")
    @classmethod
    def _manifest(cls, v: str) -> str:
        if not v.strip():
            raise ValueError("empty manifest: give a path relative to the spec or an http(s):// URL")
        if "://" in v and not v.startswith(("http://", "https://")):
            raise ValueError("manifest URL must be http(s)://; anything else is a path relative to the spec")
        return v

    @field_validator("sha256")
    @classmethod
    def _sha256(cls, v: str | None) -> str | None:
        if v is not None and not re.fullmatch(r"[a-f0-9]{64}", v):
            raise ValueError("sha256 must be 64 lowercase hex digits (sha256sum of the manifest)")
        return v


# --- Debian packages ----------------------------------------------------------------------------------------


class AptSource(Strict):
    uri: str
    suites: list[str]
    components: list[str] = Field(default_factory=lambda: ["main"])
    signed_by: str = Field(description="path of the keyring that signs this source")


class DebTarget(Strict):
    name: str
    suite: str
    architecture: str = "amd64"
    sources: list[AptSource]
    baseline: Literal["minbase", "none"] = Field(
        "minbase", description="packages assumed present on the target (not shipped): its minimal system"
    )


class DebsSection(Strict):
    targets: list[DebTarget] = Field(default_factory=list)
    packages: list[str] = Field(default_factory=list, description="name or name=version")
    signing_key: str | None = Field(None, description="armored private key file; default: made for the bundle")
    install_recommends: bool = Field(False, description="ship Recommends too (apt's default on the target)")

    @field_validator("packages")
    @classmethod
    def _packages(cls, v: list[str]) -> list[str]:
        for p in v:
            if not re.match(r"^[a-z0-9][a-z0-9+.-]*(?:=[A-Za-z0-9.+~:*-]+)?$", p):
                raise ValueError(f"invalid package {p!r}: expected name or name=version")
        _no_duplicates(v, "package", key=lambda p: p.split("=")[0])
        return v

    @model_validator(mode="after")
    def _targets_named(self) -> DebsSection:
        _no_duplicates([t.name for t in self.targets], "target")
        # One dists/<suite>/ per suite in the bundle: two targets may share a suite only for different architectures.
        _no_duplicates(self.targets, "target suite/architecture", key=lambda t: f"{t.suite}/{t.architecture}")
        if self.packages and not self.targets:
            raise ValueError("packages need at least one target distribution")
        return self


# --- files --------------------------------------------------------------------------------------------------


class FileEntry(Strict):
    url: str
    sha256: str | None = None
    sha512: str | None = None
    path: str | None = Field(None, description="name under files/ in the bundle; default: the URL's basename")

    @model_validator(mode="after")
    def _checksum(self) -> FileEntry:
        if not self.sha256 and not self.sha512:
            raise ValueError(f"file {self.url} has no checksum: give sha256 or sha512")
        if self.sha256 and not re.fullmatch(r"[a-f0-9]{64}", self.sha256):
            raise ValueError("sha256 must be 64 lowercase hex digits")
        if self.sha512 and not re.fullmatch(r"[a-f0-9]{128}", self.sha512):
            raise ValueError("sha512 must be 128 lowercase hex digits")
        if not self.url.startswith(("http://", "https://")):
            raise ValueError("url must be http(s)://")
        return self

    @field_validator("path")
    @classmethod
    def _path(cls, v: str | None) -> str | None:
        # The path becomes an archive member under files/: it must stay inside that directory.
        if v is not None and (v.startswith("/") or any(p in ("", ".", "..") for p in v.split("/"))):
            raise ValueError(f"invalid path {v!r}: a relative path like tools/helm.tar.gz, without . or ..")
        return v

    @property
    def dest(self) -> str:
        if self.path:
            return self.path
        # The query string (signed URLs, ?raw=1) is not part of the file's name.
        return self.url.split("?", 1)[0].split("#", 1)[0].rstrip("/").rsplit("/", 1)[-1]

    @property
    def checksums(self) -> dict[str, str]:
        """Every checksum the spec gives, strongest first: the first one verifies the download."""
        return {a: v for a, v in (("sha512", self.sha512), ("sha256", self.sha256)) if v}


class FilesSection(Strict):
    files: list[FileEntry] = Field(default_factory=list)

    @field_validator("files")
    @classmethod
    def _unique(cls, v: list[FileEntry]) -> list[FileEntry]:
        _no_duplicates(v, "file path", key=lambda f: f.dest)
        return v


# --- admin-host toolchain -----------------------------------------------------------------------------------


class ToolchainSection(Strict):
    python: str = Field("3.11", pattern=r"^3\.\d+$")
    platform: str = "manylinux2014_x86_64"
    packages: list[str] = Field(default_factory=list, description="pip requirements, e.g. ansible-core==2.16.*")
    collections: list[str] = Field(default_factory=list, description="Ansible collections, e.g. ansible.posix")
    collections_from: str = Field(
        "ansible",
        description="pip requirement of the PyPI package whose vendored ansible_collections/ supply the "
        "collections (Galaxy is not needed); resolved together with the wheels so the versions match",
    )

    @field_validator("collections")
    @classmethod
    def _collections(cls, v: list[str]) -> list[str]:
        for c in v:
            if not re.fullmatch(r"[a-z0-9_]+\.[a-z0-9_]+", c):
                raise ValueError(f"invalid collection {c!r}: expected namespace.name, e.g. ansible.posix")
        _no_duplicates(v, "collection")
        return v


# --- the spec -----------------------------------------------------------------------------------------------


class BundleSpec(Strict):
    version: Literal[1]
    name: str = "bundle"
    registries: dict[str, RegistrySettings] = Field(default_factory=dict)
    images: ImagesSection = Field(default_factory=ImagesSection)
    release: ReleaseSection | None = None
    charts: list[ChartEntry] = Field(default_factory=list)
    debs: DebsSection = Field(default_factory=DebsSection)
    files: list[FileEntry] = Field(default_factory=list)
    toolchain: ToolchainSection | None = None
    # Names of the charts that came from release.manifest (appended to `charts` when the spec was loaded).
    _release_charts: frozenset[str] = PrivateAttr(default=frozenset())

    @field_validator("registries", mode="before")
    @classmethod
    def _no_credentials(cls, v: Any) -> Any:
        # Before the entries are validated: their error locations would name the key, password and all.
        for host, conf in (v.items() if isinstance(v, dict) else ()):
            _refuse_credentials(str(host), "registry")
            if isinstance(conf, dict) and isinstance(conf.get("mirror"), str):
                _refuse_credentials(conf["mirror"], "mirror")
        return v

    @field_validator("charts")
    @classmethod
    def _charts(cls, v: list[ChartEntry]) -> list[ChartEntry]:
        _no_duplicates(v, "chart", key=lambda c: (c.repo, c.name))  # as ChartsSection, located in this list
        return v

    @field_validator("files")
    @classmethod
    def _files(cls, v: list[FileEntry]) -> list[FileEntry]:
        _no_duplicates(v, "file path", key=lambda f: f.dest)  # as FilesSection, located in this list
        return v

    @property
    def release_charts(self) -> frozenset[str]:
        return self._release_charts

    def canonical_json(self) -> str:
        data = self.model_dump(mode="json")
        # The spec as written: a changed manifest is the lock's to notice (with its own message), not the digest's.
        data["charts"] = [c for c in data["charts"] if c["name"] not in self._release_charts]
        return json.dumps(data, sort_keys=True, separators=(",", ":"))

    def digest(self) -> str:
        """Identifies the spec's meaning (not its formatting): the lock records it."""
        return "sha256:" + hashlib.sha256(self.canonical_json().encode()).hexdigest()


class LoadedSpec:
    def __init__(self, path: Path, spec: BundleSpec, located: Located, manifest: Manifest | None = None):
        self.path = path
        self.spec = spec
        self.located = located
        self.manifest = manifest  # the release manifest the spec's release section named, as read at load

    @property
    def base_dir(self) -> Path:
        return self.path.parent

    @property
    def lock_path(self) -> Path:
        return lock_path_for(self.path)


def lock_path_for(spec_path: Path) -> Path:
    return spec_path.with_name(spec_path.name.rsplit(".", 1)[0] + ".lock.json")


def _pydantic_error(located: Located, exc: ValidationError, prefix: tuple[str | int, ...] = ()) -> BundleError:
    err = exc.errors()[0]
    loc = prefix + tuple(err["loc"])
    cause = (err.get("ctx") or {}).get("error")
    if isinstance(cause, DuplicateEntry):
        loc += (cause.index,)
    msg = err["msg"].removeprefix("Value error, ")
    if err["type"] == "extra_forbidden":
        msg = "unknown key"
    elif err["type"] == "missing":
        msg = "required key missing"
    more = f" (and {exc.error_count() - 1} more problems)" if exc.error_count() > 1 else ""
    return located.error(loc, msg + more)


def validate(located: Located, base_dir: Path | None = None) -> tuple[BundleSpec, Manifest | None]:
    """The spec, with the charts of its release manifest (if any) appended to `charts`."""
    if not isinstance(located.data, dict):
        raise SpecError(f"{located.source}:1: the spec must be a mapping with a `version` key")
    try:
        spec = BundleSpec.model_validate(located.data)
    except ValidationError as exc:
        raise _pydantic_error(located, exc) from None
    if spec.release is None:
        return spec, None
    return expand_release(spec, located, base_dir if base_dir is not None else Path.cwd())


def expand_release(spec: BundleSpec, located: Located, base_dir: Path) -> tuple[BundleSpec, Manifest]:
    """Read the manifest and turn each chart of it that is not excluded into a ChartEntry, the same entries
    `charts:` gives, so that lock, fetch and build see no difference."""
    from bundler.kinds.charts.release_manifest import ManifestError, PinMismatch, load_manifest

    release = spec.release
    assert release is not None
    try:
        manifest = load_manifest(release.manifest, base_dir, release.sha256)
    except PinMismatch as exc:
        raise located.error(("release", "sha256"), f"release manifest {release.manifest} {exc}") from None
    except ManifestError as exc:
        raise located.error(("release", "manifest"), f"{release.manifest}: {exc}") from None
    where = f"release manifest {release.manifest} (version {manifest.version})"
    for key, names in (("exclude", release.exclude), ("charts", release.charts)):
        for name in names:
            if name not in manifest.charts:
                close = difflib.get_close_matches(name, list(manifest.charts), n=2)
                hint = f" (did you mean {', '.join(close)}?)" if close else ""
                raise located.error(("release", key, name), f"chart {name} is not in the {where}{hint}")
    for name, reason in release.exclude.items():
        if name in release.charts:
            raise located.error(("release", "charts", name), f"chart {name} is excluded under release.exclude: "
                                                             "exclude it or override it, not both")
        if not reason.strip():
            raise located.error(("release", "exclude", name), f"chart {name}: say why it is left out")
    for i, entry in enumerate(spec.charts):
        if entry.name in manifest.charts:
            raise located.error(("charts", i, "name"), f"chart {entry.name} comes from the {where}: change it "
                                f"under release.charts.{entry.name} (or leave it out under release.exclude)")
    added = []
    for name in sorted(manifest.charts):
        if name in release.exclude:
            continue
        chart, override = manifest.charts[name], release.charts.get(name) or ReleaseChart()
        try:
            added.append(ChartEntry(name=name, repo=override.repo or chart.repo,
                                    version=override.version or chart.version, values=override.values))
        except ValidationError as exc:
            err = exc.errors()[0]
            msg = err["msg"].removeprefix("Value error, ")
            raise located.error(("release", "manifest"), f"{release.manifest}: helmCharts.{name}: {msg}") from None
    expanded = spec.model_copy(update={"charts": [*spec.charts, *added]})
    expanded._release_charts = frozenset(c.name for c in added)
    return expanded, manifest


def load_spec(path: str | Path) -> LoadedSpec:
    path = Path(path)
    located = load_located(path)
    spec, manifest = validate(located, path.parent)
    return LoadedSpec(path, spec, located, manifest)


def loads_spec(text: str, source: str = "<spec>", base_dir: Path | None = None) -> BundleSpec:
    """Parse a spec from text; a release manifest given by path is read relative to `base_dir` (default: the
    working directory)."""
    return validate(loads_located(text, source), base_dir)[0]
