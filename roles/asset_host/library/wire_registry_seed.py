#!/usr/bin/python
"""Ansible module: fill a distribution registry's filesystem storage from the bundle's OCI layout, by hard link.

The registry (Debian's docker-registry, distribution 2.x) keeps blobs content-addressed under
docker/registry/v2/blobs/sha256/<xx>/<hex>/data and, per repository, small link files that name which blobs
and manifests belong to it. Writing that layout directly means every blob byte on disk is the one the unpack
wrote: the registry's data file is a second name for the same inode, so seeding costs no copy and no space.

Images keep their original name: quay.io/wire/brig@sha256:X becomes repository quay.io/wire/brig, so several
upstream registries live side by side and containerd mirrors resolve them with override_path.

An upgrade keeps the previous release served until an explicit prune. Seeding only adds: the new bundle's blobs
are linked (an unchanged blob already is the same inode) and its tags written, and what older bundles brought
stays. Each seeded bundle is recorded under the served root: served.json names it by content digest, and
<hex>/ holds its tree as hard links, so its debs and files outlive the unpack that replaces the tree. The prune
action removes every recorded bundle but the current one and those kept, with the registry content only they
referenced; it refuses, before removing anything, while a deployed release uses an image that would go.
"""

from __future__ import annotations

import errno
import json
import os
import shutil
import time

DOCUMENTATION = r"""
module: wire_registry_seed
short_description: Serve bundles from a docker-registry's filesystem storage (hard links), and prune old ones
description:
  - seed reads index.json of the bundle's OCI image layout (bundle_dir/images); every entry names an image by its
    original reference (org.opencontainers.image.ref.name). Links every blob into the registry's storage
    (docker/registry/v2/blobs/...) and writes the repository link files (_layers, _manifests/revisions,
    _manifests/tags) under <upstream registry>/<repository>. Nothing is removed. The bundle is then recorded as
    served (served_root/served.json, and its tree hard-linked to served_root/<hex of its content digest>/).
  - prune removes every served bundle but the one in bundle_dir and those in keep, and the registry content no kept
    bundle references; refused when a release in deployed uses an image that would go.
options:
  action: {description: seed or prune., type: str, choices: [seed, prune], default: seed}
  bundle_dir:
    description: The unpacked bundle (`wire-bundle unpack`'s marker names it); its images/ is the OCI layout.
    required: true
    type: path
  root:
    description: The registry's storage root directory (filesystem driver).
    required: true
    type: path
  served_root:
    description: Where the record of served bundles and their trees live; on the filesystem of bundle_dir.
    required: true
    type: path
  keep:
    description: prune keeps these served bundles too (name, content digest, or a digest prefix of 12+ digits).
    type: list
    elements: str
    default: []
  deployed:
    description: prune refuses to remove an image these releases use; each {name, images (references)}.
    type: list
    elements: dict
    default: []
  dry_run: {description: prune only says what would go., type: bool, default: false}
author: wire-bundle
"""

RETURN = r"""
images:
  description: seed; every image of the bundle, as repository (original registry + path), tag (or null) and digest.
  type: list
  returned: success
linked:
  description: seed; number of blobs hard-linked into the storage by this run.
  type: int
  returned: success
links_written:
  description: seed; number of repository link files written by this run.
  type: int
  returned: success
served:
  description: seed; the served bundles after this run (content_digest, name, served_since), oldest first.
  type: list
  returned: success
kept:
  description: prune; the bundles still served.
  type: list
  returned: success
dropped:
  description: prune; the bundles no longer served.
  type: list
  returned: success
blobs:
  description: prune; the blobs removed from the registry (hex digests), with blob_bytes their size.
  type: list
  returned: success
"""

REF_NAME = "org.opencontainers.image.ref.name"
MARKER = ".wire-bundle-unpacked.json"  # written by `wire-bundle unpack`: which bundle a directory holds
SERVED = "served.json"  # under the served root: the bundles this host serves until a prune
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
    def __init__(self, layout: str, root: str, plan_only: bool = False):
        self.layout = layout
        self.plan_only = plan_only  # only work out what the storage needs (a prune's view), write nothing
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
        if self.plan_only:
            return
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
        if self.plan_only:
            return
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

    def unwanted(self) -> tuple[list[str], list[str]]:
        """Link files and blob directories in the storage that nothing seeded (or planned) here wants."""
        links, blobs = [], []
        repos = os.path.join(self.v2, "repositories")
        for dirpath, _dirs, files in os.walk(repos):
            links += [os.path.join(dirpath, n) for n in files if os.path.join(dirpath, n) not in self.wanted_files]
        root = os.path.join(self.v2, "blobs", "sha256")
        if os.path.isdir(root):
            for prefix in sorted(os.listdir(root)):
                blobs += [os.path.join(root, prefix, h) for h in sorted(os.listdir(os.path.join(root, prefix)))
                          if h not in self.wanted_blobs]
        return links, blobs

    def remove_empty_dirs(self) -> None:
        for top in (os.path.join(self.v2, "repositories"), os.path.join(self.v2, "blobs", "sha256")):
            for dirpath, _dirs, _files in os.walk(top, topdown=False):
                if dirpath != top and not os.listdir(dirpath):
                    os.rmdir(dirpath)


def seed_registry(layout: str, root: str) -> dict:
    """Add the layout's images to the registry; what it already serves stays (only a prune removes)."""
    seeder = Seeder(layout, root)
    images = seeder.seed()
    return {"images": images, "linked": seeder.linked, "links_written": seeder.links_written,
            "changed": bool(seeder.linked or seeder.links_written)}


def _checked_digest(digest: object, where: str) -> str:
    if not isinstance(digest, str) or not digest.startswith("sha256:") or len(digest) != 71 \
            or not all(c in "0123456789abcdef" for c in digest[7:]):
        raise SeedError(f"{where}: no valid content digest ({str(digest)[:80]!r})")
    return digest


def read_bundle(bundle_dir: str) -> dict:
    """The bundle unpacked in bundle_dir, as `wire-bundle unpack`'s marker names it: name and content digest."""
    path = os.path.join(bundle_dir, MARKER)
    try:
        with open(path, "rb") as f:
            marker = json.loads(f.read(1 << 16))
    except FileNotFoundError:
        raise SeedError(f"{bundle_dir} holds no unpacked bundle (no {MARKER}); run `wire-bundle unpack BUNDLE "
                        f"--to {bundle_dir}` first") from None
    except ValueError as exc:
        raise SeedError(f"{path}: not JSON ({exc})") from None
    if not isinstance(marker, dict):
        raise SeedError(f"{path}: not a JSON object")
    return {"content_digest": _checked_digest(marker.get("content_digest"), path),
            "name": str(marker.get("name"))[:200]}


def read_record(served_root: str) -> list[dict]:
    """served.json: the bundles the asset host serves, oldest first; none before the first seeding."""
    path = os.path.join(served_root, SERVED)
    try:
        with open(path, "rb") as f:
            record = json.loads(f.read(1 << 22))
    except FileNotFoundError:
        return []
    except ValueError as exc:
        raise SeedError(f"{path}: not JSON ({exc}); it lists the bundles this host serves, one "
                        '{"content_digest", "name", "served_since"} each') from None
    bundles = record.get("bundles") if isinstance(record, dict) else None
    if not isinstance(bundles, list) or not all(isinstance(b, dict) for b in bundles):
        raise SeedError(f"{path}: expected {{\"bundles\": [...]}}")
    for b in bundles:
        _checked_digest(b.get("content_digest"), path)
    return bundles


def _write_record(served_root: str, bundles: list[dict]) -> None:
    path = os.path.join(served_root, SERVED)
    tmp = f"{path}.tmp-{os.getpid()}"
    with open(tmp, "w") as f:
        json.dump({"bundles": bundles}, f, indent=1)
        f.write("\n")
    os.chmod(tmp, 0o644)
    os.replace(tmp, path)


def _link_tree(src_root: str, dst_root: str) -> None:
    """dst_root becomes a second name for every file under src_root: hard links, directories with their modes."""
    for dirpath, _dirs, files in os.walk(src_root):
        rel = os.path.relpath(dirpath, src_root)
        dst_dir = os.path.normpath(os.path.join(dst_root, rel))
        os.makedirs(dst_dir, exist_ok=True)
        os.chmod(dst_dir, os.stat(dirpath).st_mode & 0o777)
        for name in files:
            src = os.path.join(dirpath, name)
            try:
                os.link(src, os.path.join(dst_dir, name))
            except OSError as exc:
                if exc.errno == errno.EXDEV:
                    raise SeedError(f"cannot hard-link {src} into {dst_root}: different filesystems; put the "
                                    "served root on the filesystem that holds the unpacked bundle") from None
                raise


def keep_served(bundle_dir: str, served_root: str) -> dict:
    """Record the bundle in bundle_dir as served: served_root/<hex>/ holds its tree (hard links, so its debs and
    files outlive the next unpack, for no bytes), and served.json lists it. Nothing already there is removed."""
    bundle = read_bundle(bundle_dir)
    hexd = bundle["content_digest"].split(":", 1)[1]
    os.makedirs(served_root, mode=0o755, exist_ok=True)
    tree = os.path.join(served_root, hexd)
    changed = False
    if not os.path.isdir(tree):
        staging = os.path.join(served_root, f".{hexd}.linking-{os.getpid()}")
        shutil.rmtree(staging, ignore_errors=True)
        try:
            _link_tree(bundle_dir, staging)
            os.replace(staging, tree)
        finally:
            shutil.rmtree(staging, ignore_errors=True)
        changed = True
    bundles = read_record(served_root)
    if bundle["content_digest"] not in {b["content_digest"] for b in bundles}:
        bundles.append({**bundle, "served_since": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())})
        _write_record(served_root, bundles)
        changed = True
    return {"bundle": bundle, "served": bundles, "changed": changed}


def _short(bundle: dict) -> str:
    return f"{bundle['name']!r} ({bundle['content_digest'][:19]}…)"


def _pick(bundles: list[dict], wanted: str) -> dict:
    """A served bundle by name, content digest, or a digest prefix of at least 12 hex digits."""
    hexw = wanted.split(":", 1)[1] if wanted.startswith("sha256:") else wanted
    found = [b for b in bundles if b["name"] == wanted or b["content_digest"] == wanted
             or (len(hexw) >= 12 and b["content_digest"][7:].startswith(hexw))]
    if len(found) != 1:
        served = ", ".join(_short(b) for b in bundles) or "none"
        how = "no" if not found else f"{len(found)}"
        raise SeedError(f"keep {wanted!r}: {how} served bundles have that name or digest (served: {served})")
    return found[0]


def _served_refs(seeder: Seeder) -> set[tuple[str, str]]:
    """(repository, tag or digest) of everything the seeder would serve, read from the link files it wants."""
    refs = set()
    repos = os.path.join(seeder.v2, "repositories") + os.sep
    for path in seeder.wanted_files:
        parts = path[len(repos):].split(os.sep)
        if "_manifests" not in parts:
            continue
        at = parts.index("_manifests")
        repo = "/".join(parts[:at])
        if parts[at + 1] == "tags" and parts[-2] == "current":
            refs.add((repo, parts[at + 2]))
        elif parts[at + 1] == "revisions":
            refs.add((repo, "sha256:" + parts[at + 3]))
    return refs


def _wanted_by(layouts: list[str], root: str) -> Seeder:
    """What the registry needs for these layouts, without writing anything."""
    plan = Seeder("", root, plan_only=True)
    for layout in layouts:
        if os.path.exists(os.path.join(layout, "index.json")):
            plan.layout = layout
            plan.seed()
    return plan


def _in_storage(root: str, repo: str, ref: str) -> bool:
    v2 = os.path.join(root, "docker", "registry", "v2", "repositories", repo, "_manifests")
    if ref.startswith("sha256:"):
        return os.path.exists(os.path.join(v2, "revisions", "sha256", ref[7:], "link"))
    return os.path.exists(os.path.join(v2, "tags", ref, "current", "link"))


def prune_served(bundle_dir: str, root: str, served_root: str, keep: list[str] | None = None,
                 deployed: list[dict] | None = None, dry_run: bool = False) -> dict:
    """Stop serving every recorded bundle but the current one and those in `keep`: their trees, and the registry
    content no kept bundle references. Refused, before anything is removed, when a deployed release uses an image
    that would go."""
    current = read_bundle(bundle_dir)
    bundles = read_record(served_root)
    if current["content_digest"] not in {b["content_digest"] for b in bundles}:
        raise SeedError(f"{bundle_dir} holds {_short(current)}, which this host does not serve yet: run the "
                        "bootstrap (asset host) after unpacking it, then prune")
    kept_ids = {current["content_digest"]} | {_pick(bundles, k)["content_digest"] for k in keep or []}
    kept = [b for b in bundles if b["content_digest"] in kept_ids]
    dropped = [b for b in bundles if b["content_digest"] not in kept_ids]

    def tree(b: dict) -> str:
        return os.path.join(served_root, b["content_digest"][7:])

    for b in kept:  # a kept bundle's images are read from its tree: without it, they would look unused
        if b["content_digest"] != current["content_digest"] and not os.path.isfile(os.path.join(tree(b), MARKER)):
            raise SeedError(f"served bundle {_short(b)} is kept, but its tree {tree(b)} is missing; unpack that bundle "
                            "and run the bootstrap again, or do not keep it")
    for release in deployed or []:
        if not isinstance(release.get("images", []), list):
            raise SeedError(f"deployed release {str(release.get('name'))[:80]!r}: images must be a list of image "
                            "references")
    layouts = [os.path.join(bundle_dir, "images")] + [os.path.join(tree(b), "images") for b in kept]
    plan = _wanted_by(layouts, root)
    after = _served_refs(plan)
    holders = {b["content_digest"]: _served_refs(_wanted_by([os.path.join(tree(b), "images")], root))
               for b in dropped}
    refused = []
    for release in deployed or []:
        for image in release.get("images") or []:
            repo, tag, digest = split_reference(str(image))
            ref = digest or tag or "latest"
            if (repo, ref) in after:
                continue
            held = [b for b in dropped if (repo, ref) in holders[b["content_digest"]]]
            if held or _in_storage(root, repo, ref):
                where = (f"only {', '.join('bundle ' + _short(b) for b in held)} holds it" if held
                         else "no kept bundle holds it")
                refused.append(f"release {release.get('name')!r} still uses {image} ({where})")
    if refused:
        more = f" (and {len(refused) - 1} more)" if len(refused) > 1 else ""
        raise SeedError(f"refusing to prune: {refused[0]}{more}; upgrade or remove that release first, or keep the "
                        "bundle that holds it")
    links, blobs = plan.unwanted()
    blob_bytes = sum(os.stat(os.path.join(p, "data")).st_size for p in blobs if os.path.exists(os.path.join(p, "data")))
    keep_names = {SERVED} | {b["content_digest"][7:] for b in kept}
    try:
        strays = sorted(os.path.join(served_root, n) for n in os.listdir(served_root) if n not in keep_names)
    except FileNotFoundError:
        strays = []
    result = {"kept": kept, "dropped": dropped, "blobs": [os.path.basename(p) for p in blobs],
              "blob_bytes": blob_bytes, "links": len(links), "trees": strays, "dry_run": dry_run,
              "changed": bool(not dry_run and (dropped or links or blobs or strays))}
    if dry_run:
        return result
    # The record first: from here on the dropped bundles are no longer served, and a prune interrupted below
    # finishes on the next run (what the record does not keep is removed).
    if dropped:
        _write_record(served_root, kept)
    for path in links:
        os.unlink(path)
    for path in blobs:
        shutil.rmtree(path)
    plan.remove_empty_dirs()
    for path in strays:
        if os.path.isdir(path) and not os.path.islink(path):
            shutil.rmtree(path)
        else:
            os.unlink(path)
    return result


def main() -> None:
    from ansible.module_utils.basic import AnsibleModule

    module = AnsibleModule(
        argument_spec={"action": {"type": "str", "choices": ["seed", "prune"], "default": "seed"},
                       "bundle_dir": {"type": "path", "required": True},
                       "root": {"type": "path", "required": True},
                       "served_root": {"type": "path", "required": True},
                       "keep": {"type": "list", "elements": "str", "default": []},
                       "deployed": {"type": "list", "elements": "dict", "default": []},
                       "dry_run": {"type": "bool", "default": False}},
        supports_check_mode=False,
    )
    p = module.params
    try:
        if p["action"] == "prune":
            result = prune_served(p["bundle_dir"], p["root"], p["served_root"], p["keep"], p["deployed"],
                                  p["dry_run"])
        else:
            layout = os.path.join(p["bundle_dir"], "images")
            result = {"images": [], "linked": 0, "links_written": 0, "changed": False}
            if os.path.exists(os.path.join(layout, "index.json")):
                result = seed_registry(layout, p["root"])
            kept = keep_served(p["bundle_dir"], p["served_root"])
            result.update(bundle=kept["bundle"], served=kept["served"], changed=result["changed"] or kept["changed"])
    except (SeedError, OSError) as exc:
        module.fail_json(msg=f"registry {p['action']}: {exc}")
    module.exit_json(**result)


if __name__ == "__main__":
    main()
