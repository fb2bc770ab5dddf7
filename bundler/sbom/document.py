"""The bundle's CycloneDX 1.6 SBOM, made with cyclonedx-python-lib: one component per artifact the bundle carries
(images, charts, Debian packages, files, the toolchain's wheels and collections) with its sha256 and package URL,
the OS packages found inside every image nested under it, the chart -> image relations discovery found as
dependencies, and the build's provenance on the bundle's own component.

Everything in it comes from the lock and the content it pins: the time is the lock's, the serial number is
derived from the lock, so two builds from one lock write the same bytes.
"""

from __future__ import annotations

import datetime
import hashlib
import json
import uuid
from dataclasses import dataclass, field
from typing import Any

from cyclonedx.model import ExternalReference, ExternalReferenceType, HashAlgorithm, HashType, Property, XsUri
from cyclonedx.model.bom import Bom, BomMetaData
from cyclonedx.model.component import Component, ComponentType
from cyclonedx.model.tool import ToolRepository
from cyclonedx.output.json import JsonV1Dot6
from packageurl import PackageURL

from bundler.bundle.manifest import KindSummaries
from bundler.kinds.charts.summary import ChartDependencySummary, ChartSummary
from bundler.kinds.images.reference import parse_reference
from bundler.sbom.contents import ImageContents
from bundler.sbom.names import PROP
from bundler.sbom.ospkgs import Package

_SERIAL_NAMESPACE = uuid.UUID("6f2b7f0e-3c55-5b0b-9d1e-0c1d2e3f4a5b")
_PURL_TYPES = {"dpkg": "deb", "apk": "apk", "rpm": "rpm"}


@dataclass
class Inputs:
    """What the SBOM is made from: bundle.json's facts, and what the image layers hold."""

    name: str
    tool: str
    lock: dict[str, Any]
    summaries: KindSummaries
    artifacts: list[dict[str, Any]]  # bundle.json's artifact records: path, digest, size, kind, origin
    images: dict[str, ImageContents] = field(default_factory=dict)  # by image manifest digest


def lock_digest(lock: dict[str, Any]) -> str:
    return "sha256:" + hashlib.sha256(json.dumps(lock, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


def _sha256(digest: str) -> list[HashType]:
    return [HashType(alg=HashAlgorithm.SHA_256, content=digest.removeprefix("sha256:"))]


def _props(**values: Any) -> list[Property]:
    return [Property(name=PROP + k.replace("_", "-"), value=str(v)) for k, v in values.items() if v is not None]


class _Builder:
    def __init__(self, inputs: Inputs):
        self.inputs = inputs
        self.by_path = {a["path"]: a for a in inputs.artifacts}
        self.top: list[Component] = []
        self.deps: dict[str, list[str]] = {}
        self.refs: dict[str, Component] = {}

    def add(self, component: Component, nested_in: Component | None = None) -> Component:
        ref = str(component.bom_ref.value)
        if ref in self.refs:
            return self.refs[ref]
        self.refs[ref] = component
        if nested_in is None:
            self.top.append(component)
        else:
            nested_in.components.add(component)
        return component

    def member(self, path: str) -> dict[str, Any] | None:
        return self.by_path.get(path)

    # --- images ---------------------------------------------------------------------------------------------

    def images(self) -> None:
        for entry in self.inputs.lock.get("images") or []:
            ref = parse_reference(entry["ref"])
            repo_url = f"{ref.registry}/{ref.repository}"
            q = {"repository_url": repo_url, **({"tag": ref.tag} if ref.tag else {})}
            image = self.add(Component(
                type=ComponentType.CONTAINER, name=repo_url, version=ref.tag or entry["digest"],
                bom_ref=f"image:{entry['ref']}", hashes=_sha256(entry["digest"]),
                purl=_purl("oci", None, ref.repository.rsplit("/", 1)[-1], entry["digest"], q),
                properties=_props(reference=entry["ref"], member=_blob(entry["digest"]),
                                  media_type=entry.get("media_type"), source=entry.get("source"))))
            platforms = entry.get("platforms")
            if not platforms:
                self.contents(image, entry["digest"])
                continue
            for p in platforms:
                os_, _, rest = p["platform"].partition("/")
                arch, _, variant = rest.partition("/")
                child = self.add(Component(
                    type=ComponentType.CONTAINER, name=repo_url, version=p["digest"],
                    bom_ref=f"image:{entry['ref']}#{p['platform']}", hashes=_sha256(p["digest"]),
                    purl=_purl("oci", None, ref.repository.rsplit("/", 1)[-1], p["digest"],
                               {**q, "arch": arch, **({"variant": variant} if variant else {})}),
                    properties=_props(platform=p["platform"], member=_blob(p["digest"]))), nested_in=image)
                self.contents(child, p["digest"])

    def contents(self, image: Component, manifest: str) -> None:
        found = self.inputs.images.get(manifest)
        if found is None:
            image.properties.add(Property(name=PROP + "os", value="not scanned"))
            return
        if found.os is None:
            image.properties.add(Property(name=PROP + "os", value="unknown"))
        else:
            os_ = found.os
            image.properties.add(Property(name=PROP + "os", value=f"{os_.id} {os_.version_id or ''}".strip()))
            self.add(Component(type=ComponentType.OPERATING_SYSTEM, name=os_.id, version=os_.version_id,
                               description=os_.pretty_name, bom_ref=f"{image.bom_ref.value}/os"), nested_in=image)
        image.properties.add(Property(name=PROP + "package-databases",
                                      value=", ".join(found.databases) or "none found"))
        for note in found.unread:
            image.properties.add(Property(name=PROP + "unread", value=note))
        for pkg, layer in found.packages:
            purl = os_package_purl(pkg, found)
            self.add(Component(
                type=ComponentType.LIBRARY, name=pkg.name, version=pkg.version, purl=purl,
                bom_ref=f"{image.bom_ref.value}/{purl.to_string()}",
                properties=_props(layer=layer, package_manager=pkg.manager, license=pkg.license)), nested_in=image)

    # --- charts ---------------------------------------------------------------------------------------------

    def charts(self) -> None:
        for chart in self.inputs.summaries.charts or []:
            top = self.chart(chart)
            deps = self.deps.setdefault(str(top.bom_ref.value), [])
            for d in chart.dependencies:
                sub = self.chart(d)
                self.deps.setdefault(f"chart:{d.parent}", []).append(str(sub.bom_ref.value))
            for image in chart.images:
                if f"image:{image}" in self.refs:
                    deps.append(f"image:{image}")

    def chart(self, c: ChartSummary | ChartDependencySummary) -> Component:
        art = self.member(c.path) or {}
        url = art.get("origin")
        q = {"download_url": url} if url else {}
        refs = [ExternalReference(type=ExternalReferenceType.DISTRIBUTION, url=XsUri(url))] if url else []
        return self.add(Component(
            type=ComponentType.APPLICATION, name=c.name, version=c.version, bom_ref=f"chart:{c.path}",
            hashes=_sha256(c.digest), purl=_purl("generic", None, c.name, c.version, q),
            external_references=refs,
            properties=_props(member=c.path, helm_repository=c.repo, artifact_type="helm chart")))

    # --- debs, files, toolchain -----------------------------------------------------------------------------

    def debs(self) -> None:
        for target in (self.inputs.lock.get("debs") or {}).get("targets") or []:
            vendor = "ubuntu" if any("ubuntu" in s.get("uri", "") for s in target.get("sources", [])) else "debian"
            for p in target["packages"]:
                path = f"debs/{p['path']}"
                self.add(Component(
                    type=ComponentType.LIBRARY, name=p["name"], version=p["version"], bom_ref=f"deb:{path}",
                    hashes=_sha256(p["sha256"]),
                    purl=_purl("deb", vendor, p["name"], p["version"],
                               {"arch": p["architecture"], "distro": target["suite"]}),
                    properties=_props(member=path, target=target["name"])))

    def files(self) -> None:
        for f in self.inputs.summaries.files or []:
            path = f"files/{f.path}"
            self.add(Component(
                type=ComponentType.FILE, name=f.path.rsplit("/", 1)[-1], bom_ref=f"file:{path}",
                hashes=_sha256(f.sha256),
                purl=_purl("generic", None, f.path.rsplit("/", 1)[-1], None,
                           {"download_url": f.url, "checksum": f"sha256:{f.sha256}"}),
                properties=_props(member=path)))

    def toolchain(self) -> None:
        tc = self.inputs.summaries.toolchain
        if not tc:
            return
        for w in [tc.project, *tc.wheels]:
            path = f"toolchain/wheels/{w.filename}"
            self.add(Component(
                type=ComponentType.LIBRARY, name=w.name, version=w.version, bom_ref=f"wheel:{path}",
                hashes=_sha256(w.sha256),
                purl=_purl("pypi", None, w.name, w.version, {"file_name": w.filename}),
                properties=_props(member=path)))
        for c in tc.collections:
            path = f"toolchain/collections/{c.file}"
            self.add(Component(
                type=ComponentType.LIBRARY, name=c.name, version=c.version, bom_ref=f"collection:{path}",
                hashes=_sha256(c.sha256), purl=_purl("generic", None, c.name, c.version, {}),
                properties=_props(member=path, artifact_type="ansible collection")))

    # --- the document ---------------------------------------------------------------------------------------

    def bom(self) -> Bom:
        self.images()
        self.charts()  # after the images: a chart's dependencies name them
        self.debs()
        self.files()
        self.toolchain()
        lock = self.inputs.lock
        tool_name, _, tool_version = self.inputs.tool.partition(" ")
        root = Component(
            type=ComponentType.APPLICATION, name=self.inputs.name, bom_ref="bundle",
            properties=_props(spec_digest=lock.get("spec_digest"), lock_digest=lock_digest(lock),
                              locked_at=_time(lock["locked_at"]).isoformat(), tool=self.inputs.tool))
        tools = ToolRepository(components=[Component(type=ComponentType.APPLICATION, name=tool_name or "wire-bundle",
                                                     version=tool_version or None)])
        bom = Bom(
            metadata=BomMetaData(component=root, timestamp=_time(lock["locked_at"]), tools=tools),
            serial_number=uuid.uuid5(_SERIAL_NAMESPACE, f"{lock_digest(lock)} {self.inputs.tool}"),
        )
        for c in self.top:
            bom.components.add(c)
        bom.register_dependency(root, self.top)
        for ref, on in sorted(self.deps.items()):
            if ref in self.refs and on:
                bom.register_dependency(self.refs[ref], [self.refs[r] for r in sorted(set(on)) if r in self.refs])
        return bom


def os_package_purl(pkg: Package, found: ImageContents) -> PackageURL:
    os_ = found.os
    vendor = os_.id if os_ else {"dpkg": "debian", "apk": "alpine", "rpm": None}[pkg.manager]
    q: dict[str, str] = {}
    if pkg.arch:
        q["arch"] = pkg.arch
    version = pkg.version
    if pkg.manager == "rpm" and ":" in version:
        epoch, _, version = version.partition(":")
        q["epoch"] = epoch
    if pkg.source and pkg.source != pkg.name:
        q["upstream"] = pkg.source
    if os_ and os_.version_id:
        q["distro"] = f"{os_.id}-{os_.version_id}"
    return _purl(_PURL_TYPES[pkg.manager], vendor, pkg.name, version, q)


def _purl(type_: str, namespace: str | None, name: str, version: str | None, qualifiers: dict[str, str]) -> PackageURL:
    return PackageURL(type=type_, namespace=namespace, name=name, version=version,
                      qualifiers={k: v for k, v in qualifiers.items() if v} or None)


def _blob(digest: str) -> str:
    return f"images/blobs/sha256/{digest.removeprefix('sha256:')}"


def _time(epoch: int) -> datetime.datetime:
    return datetime.datetime.fromtimestamp(epoch, datetime.UTC)


def make_bom(inputs: Inputs) -> Bom:
    return _Builder(inputs).bom()


def render(bom: Bom) -> bytes:
    return (JsonV1Dot6(bom).output_as_string() + "\n").encode()
