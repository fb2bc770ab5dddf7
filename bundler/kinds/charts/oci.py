"""Charts stored in OCI registries (`oci://host/path`, as `helm push` writes them), through the registry client.

A chart is an OCI manifest whose config has the helm config media type and whose one content layer is the
chart .tgz; tags are chart versions with `+` spelled `_` (tags may not contain `+`).
"""

from __future__ import annotations

from pathlib import Path

from bundler.bundle.mediatypes import HELM_CONFIG, HELM_CONTENT, HELM_LEGACY_CONTENT
from bundler.errors import BundleError
from bundler.kinds.charts.repo import Resolved, pick_version
from bundler.kinds.images.reference import Reference
from bundler.kinds.images.registry import NotFound, RegistryClient

LEGACY_CONTENT = HELM_LEGACY_CONTENT
MAX_TAG_PAGES = 100


def oci_reference(repo: str, name: str, tag: str | None = None) -> Reference:
    """oci://host[:port]/path + chart name -> the registry reference helm pushes to."""
    rest = repo.removeprefix("oci://").strip("/")
    host, _, path = rest.partition("/")
    if not host:
        raise BundleError(f"chart {name}: {repo} names no registry host")
    repository = f"{path}/{name}" if path else name
    return Reference(host, repository, tag)


def list_tags(client: RegistryClient, ref: Reference) -> list[str]:
    """All tags of the repository, following the registry's pagination."""
    try:
        return client.list_tags(ref, MAX_TAG_PAGES)
    except NotFound:
        raise BundleError(f"chart {ref.repository.rsplit('/', 1)[-1]} not found at oci://{ref.name}") from None


def resolve_oci(client: RegistryClient, repo: str, name: str, constraint: str) -> Resolved:
    base = oci_reference(repo, name)
    tags = list_tags(client, base)
    versions = {t.replace("_", "+"): t for t in tags}
    picked = pick_version(name, repo, constraint, list(versions))
    ref = oci_reference(repo, name, versions[picked])
    manifest = client.get_manifest(ref)
    if manifest.is_index:
        raise BundleError(f"chart {name} {picked} at {repo}: an image index, not a Helm chart")
    body = manifest.json()
    config_type = (body.get("config") or {}).get("mediaType")
    if config_type != HELM_CONFIG:
        raise BundleError(f"chart {name} {picked} at {repo}: not a Helm chart (config media type {config_type})")
    layers = [layer for layer in body.get("layers") or [] if layer.get("mediaType") in (HELM_CONTENT, LEGACY_CONTENT)]
    if len(layers) != 1:
        raise BundleError(f"chart {name} {picked} at {repo}: expected one chart content layer, found {len(layers)}")
    layer = layers[0]
    return Resolved(name=name, repo=repo, version=picked, url=f"oci://{ref.name}:{ref.tag}",
                    digest=layer["digest"], size=int(layer["size"]), oci_manifest=manifest.digest)


def fetch_oci(client: RegistryClient, repo: str, name: str, version: str, digest: str, size: int | None,
              dest: Path) -> Path:
    ref = oci_reference(repo, name, version.replace("+", "_"))
    return client.fetch_blob(ref, digest, size, dest)
