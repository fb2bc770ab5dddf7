#!/usr/bin/python
"""Ansible module: fill a distribution registry's filesystem storage from the bundle's OCI layout, by hard link.

The registry (Debian's docker-registry, distribution 2.x) keeps blobs content-addressed under
docker/registry/v2/blobs/sha256/<xx>/<hex>/data and, per repository, small link files that name which blobs
and manifests belong to it. Writing that layout directly means every blob byte on disk is the one the unpack
wrote: the registry's data file is a second name for the same inode, so seeding costs no copy and no space.

Images keep their original name: quay.io/wire/brig@sha256:X becomes repository quay.io/wire/brig, so several
upstream registries live side by side and containerd mirrors resolve them with override_path.
"""

from __future__ import annotations

import errno
import json
import os
import shutil

DOCUMENTATION = r"""
module: wire_registry_seed
short_description: Seed a docker-registry's filesystem storage from an OCI image layout by hard links
description:
  - Reads index.json of an OCI image layout (the bundle's images/ directory); every entry names an image by its
    original reference (org.opencontainers.image.ref.name).
  - Links every blob into the registry's storage (docker/registry/v2/blobs/...) and writes the repository link
    files (_layers, _manifests/revisions, _manifests/tags) under <upstream registry>/<repository>.
  - With prune, removes repositories, tags and blobs the layout no longer has, so the registry serves exactly the
    bundle.
options:
  layout:
    description: Directory of the OCI image layout (holds index.json and blobs/sha256/).
    required: true
    type: path
  root:
    description: The registry's storage rootdirectory (filesystem driver).
    required: true
    type: path
  prune:
    description: Remove what the layout does not hold.
    type: bool
    default: true
author: wire-bundle
"""

RETURN = r"""
images:
  description: Every image served, as repository (original registry + path), tag (or null) and digest.
  type: list
  returned: always
linked:
  description: Number of blobs hard-linked into the storage by this run.
  type: int
  returned: always
links_written:
  description: Number of repository link files written by this run.
  type: int
  returned: always
removed:
  description: Paths removed by pruning.
  type: list
  returned: always
"""

REF_NAME = "org.opencontainers.image.ref.name"
INDEX_TYPES = {"application/vnd.oci.image.index.v1+json",
               "application/vnd.docker.distribution.manifest.list.v2+json"}


class SeedError(Exception):
    pass


def split_reference(ref: str) -> tuple[str, str | None, str | None]:
    """'quay.io/wire/brig:5.0@sha256:..' -> ('quay.io/wire/brig', '5.0', 'sha256:..'); names as Docker normalises."""
    digest = None
    if "@" in ref:
        ref, digest = ref.split("@", 1)
    tag = None
    last = ref.rsplit("/", 1)[-1]
    if ":" in last:
        ref, tag = ref.rsplit(":", 1)
    first = ref.split("/", 1)[0]
    if "/" not in ref or not ("." in first or ":" in first or first == "localhost"):
        ref = "docker.io/" + (ref if "/" in ref else "library/" + ref)
    return ref, tag, digest


class Seeder:
    def __init__(self, layout: str, root: str):
        self.layout = layout
        self.v2 = os.path.join(root, "docker", "registry", "v2")
        self.linked = 0
        self.links_written = 0
        self.removed: list[str] = []
        self.wanted_blobs: set[str] = set()
        self.wanted_files: set[str] = set()

    def _blob_path(self, digest: str) -> str:
        algo, hexd = digest.split(":", 1)
        if algo != "sha256" or len(hexd) != 64 or not all(c in "0123456789abcdef" for c in hexd):
            raise SeedError(f"unsupported digest {digest!r} in {self.layout}")
        return os.path.join(self.layout, "blobs", "sha256", hexd)

    def _read_json(self, digest: str) -> dict:
        path = self._blob_path(digest)
        try:
            with open(path, "rb") as f:
                return json.loads(f.read())
        except FileNotFoundError:
            raise SeedError(f"{path}: manifest {digest} named by the layout is missing") from None
        except ValueError as exc:
            raise SeedError(f"{path}: manifest {digest} is not JSON ({exc})") from None

    def link_blob(self, digest: str) -> None:
        hexd = digest.split(":", 1)[1]
        src = self._blob_path(digest)
        dst_dir = os.path.join(self.v2, "blobs", "sha256", hexd[:2], hexd)
        dst = os.path.join(dst_dir, "data")
        self.wanted_blobs.add(hexd)
        try:
            st_src = os.stat(src)
        except FileNotFoundError:
            raise SeedError(f"{src}: blob {digest} named by a manifest is missing from the layout") from None
        try:
            st_dst = os.stat(dst)
            if (st_dst.st_ino, st_dst.st_dev) == (st_src.st_ino, st_src.st_dev):
                return
            if st_dst.st_size == st_src.st_size:
                return  # same digest, same size: a registry copy of the same content (e.g. an older bundle)
            os.unlink(dst)
        except FileNotFoundError:
            pass
        os.makedirs(dst_dir, mode=0o755, exist_ok=True)
        try:
            os.link(src, dst)
        except OSError as exc:
            if exc.errno == errno.EXDEV:
                raise SeedError(f"cannot hard-link {src} into {self.v2}: different filesystems; put the registry "
                                f"storage on the filesystem that holds the unpacked bundle") from None
            raise
        self.linked += 1

    def write_link(self, path: str, content: str) -> None:
        self.wanted_files.add(path)
        try:
            with open(path) as f:
                if f.read() == content:
                    return
        except FileNotFoundError:
            pass
        os.makedirs(os.path.dirname(path), mode=0o755, exist_ok=True)
        tmp = path + ".tmp"
        with open(tmp, "w") as f:
            f.write(content)
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
        self.links_written += 1

    def seed_manifest(self, repo_dir: str, digest: str) -> None:
        """Link a manifest (and, for an index, the children the layout holds) with every blob it names."""
        self.link_blob(digest)
        hexd = digest.split(":", 1)[1]
        self.write_link(os.path.join(repo_dir, "_manifests", "revisions", "sha256", hexd, "link"), digest)
        manifest = self._read_json(digest)
        if manifest.get("mediaType") in INDEX_TYPES or "manifests" in manifest:
            for child in manifest.get("manifests", []):
                # An index may list platforms the bundle left out; only those present are served.
                if os.path.exists(self._blob_path(child["digest"])):
                    self.seed_manifest(repo_dir, child["digest"])
            return
        for desc in [manifest.get("config"), *manifest.get("layers", [])]:
            if not desc:
                continue
            self.link_blob(desc["digest"])
            d = desc["digest"].split(":", 1)[1]
            self.write_link(os.path.join(repo_dir, "_layers", "sha256", d, "link"), desc["digest"])

    def seed(self) -> list[dict]:
        index_path = os.path.join(self.layout, "index.json")
        try:
            with open(index_path) as f:
                index = json.load(f)
        except FileNotFoundError:
            raise SeedError(f"{index_path} is missing: is {self.layout} the images/ directory of an unpacked "
                            f"bundle?") from None
        images = []
        for entry in index.get("manifests", []):
            ref = (entry.get("annotations") or {}).get(REF_NAME)
            if not ref:
                raise SeedError(f"{index_path}: manifest {entry.get('digest')} has no {REF_NAME} annotation")
            repo, tag, pinned = split_reference(ref)
            digest = entry["digest"]
            if pinned and pinned != digest:
                raise SeedError(f"{index_path}: {ref} is listed with digest {digest}")
            repo_dir = os.path.join(self.v2, "repositories", repo)
            self.seed_manifest(repo_dir, digest)
            if tag:
                tag_dir = os.path.join(repo_dir, "_manifests", "tags", tag)
                self.write_link(os.path.join(tag_dir, "current", "link"), digest)
                self.write_link(os.path.join(tag_dir, "index", "sha256", digest.split(":", 1)[1], "link"), digest)
            images.append({"ref": ref, "repository": repo, "tag": tag, "digest": digest})
        return images

    def prune(self) -> None:
        repos = os.path.join(self.v2, "repositories")
        for dirpath, _dirs, files in os.walk(repos, topdown=False):
            for name in files:
                path = os.path.join(dirpath, name)
                if path not in self.wanted_files:
                    os.unlink(path)
                    self.removed.append(path)
            if dirpath != repos and not os.listdir(dirpath):
                os.rmdir(dirpath)
        blobs = os.path.join(self.v2, "blobs", "sha256")
        if os.path.isdir(blobs):
            for prefix in os.listdir(blobs):
                for hexd in os.listdir(os.path.join(blobs, prefix)):
                    if hexd not in self.wanted_blobs:
                        path = os.path.join(blobs, prefix, hexd)
                        shutil.rmtree(path)
                        self.removed.append(path)
                if not os.listdir(os.path.join(blobs, prefix)):
                    os.rmdir(os.path.join(blobs, prefix))


def seed_registry(layout: str, root: str, prune: bool = True) -> dict:
    seeder = Seeder(layout, root)
    images = seeder.seed()
    if prune:
        seeder.prune()
    return {"images": images, "linked": seeder.linked, "links_written": seeder.links_written,
            "removed": seeder.removed,
            "changed": bool(seeder.linked or seeder.links_written or seeder.removed)}


def main() -> None:
    from ansible.module_utils.basic import AnsibleModule

    module = AnsibleModule(
        argument_spec={"layout": {"type": "path", "required": True}, "root": {"type": "path", "required": True},
                       "prune": {"type": "bool", "default": True}},
        supports_check_mode=False,
    )
    try:
        result = seed_registry(module.params["layout"], module.params["root"], module.params["prune"])
    except (SeedError, OSError) as exc:
        module.fail_json(msg=f"registry seeding: {exc}")
    module.exit_json(**result)


if __name__ == "__main__":
    main()
