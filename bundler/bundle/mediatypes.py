"""Protocol constants, each spelled once: media types, annotation keys and the archive's own member names.

Other modules import them from here (some re-export them under the names they always had).
"""

from __future__ import annotations

# --- OCI and Docker registry media types --------------------------------------------------------------------
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
DOCKER_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
INDEX_TYPES = frozenset({OCI_INDEX, DOCKER_LIST})
MANIFEST_TYPES = frozenset({OCI_MANIFEST, DOCKER_MANIFEST})

# --- Helm charts in OCI registries ----------------------------------------------------------------------------
HELM_CONFIG = "application/vnd.cncf.helm.config.v1+json"
HELM_CONTENT = "application/vnd.cncf.helm.chart.content.v1.tar+gzip"
HELM_LEGACY_CONTENT = "application/tar+gzip"  # charts pushed by helm 3.0-3.6

# --- Debian ---------------------------------------------------------------------------------------------------
DEBIAN_PACKAGE = "application/vnd.debian.binary-package"

# --- OCI image layout annotations (index.json) ---------------------------------------------------------------
REF_NAME = "org.opencontainers.image.ref.name"  # the full original reference: skopeo's oci:DIR:<ref>
CONTAINERD_NAME = "io.containerd.image.name"  # the same, for `ctr images import`
OCI_LAYOUT = '{"imageLayoutVersion":"1.0.0"}'  # the oci-layout file's content, byte for byte

# --- the bundle archive ---------------------------------------------------------------------------------------
BUNDLE_FORMAT = "wire-bundle/1"
BUNDLE_JSON = "bundle.json"  # first member: what the bundle holds
CHECKSUMS = "checksums.sha256"  # second member: every other member's sha256, `sha256sum -c` style
SIGNATURE = "checksums.sha256.asc"  # last member, not listed in checksums.sha256: it signs that file
PUBLIC_KEY = "signing-key.asc"  # the signer's public key, a member like any other
DEBS_KEYRING = "wire-bundle-archive-keyring.gpg"  # the apt repository's key, under debs/
DEBS_KEYRING_ASC = "wire-bundle-archive-keyring.asc"
DELTA_JSON = "delta.json"  # a delta bundle's third member: what it takes from its base (bundler/bundle/delta.py)
DELTA_SIGNATURE = "delta.json.asc"  # its signature
SBOM = "sbom.cdx.json"  # the CycloneDX SBOM, right after checksums.sha256 (bundler/sbom)
