"""The admin-host toolchain: what the island's admin host needs to run the playbooks, installable offline.

Locking asks pip to resolve this project's wheel (which brings ansible-core and ansible-runner), the spec's
extra packages and, when collections are wanted, the package they come from (`collections_from`, the
`ansible` package by default) in one resolution for the target Python and platform: so the collections match
the ansible-core that is shipped. The lock keeps every wheel's exact file name and sha256 and every
collection's version. This project's own wheel is rebuilt from the source tree at build time; its hash is
recorded in bundle.json, not in the lock, so editing the code does not invalidate the lock.

In the archive: toolchain/wheels/*.whl, toolchain/requirements.txt (every wheel pinned by hash),
toolchain/collections/*.tar.gz and toolchain/install.sh.
"""

from __future__ import annotations

from typing import Any

from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import canonicalize_name

from bundler.bundle.artifacts import Artifact, BuildContext, KindResult, file_artifact, sha256_file
from bundler.bundle.lock import ToolchainLock, WheelLock
from bundler.bundle.spec import LoadedSpec
from bundler.bundle.store import BlobStore
from bundler.errors import BundleError
from bundler.kinds.toolchain import install_script, wheels
from bundler.kinds.toolchain.collections import CollectionSource
from bundler.kinds.toolchain.summary import CollectionSummary, ToolchainSummary


def _collections_source(items: list[dict[str, Any]], requirement: str) -> dict[str, Any]:
    try:
        wanted = canonicalize_name(Requirement(requirement).name)
    except InvalidRequirement as exc:
        raise BundleError(f"toolchain: collections_from {requirement!r} is not a pip requirement: {exc}") from None
    for item in items:
        if item["name"] == wanted:
            return item
    raise BundleError(f"toolchain: collections_from {requirement!r} did not resolve to a package named {wanted}")


class ToolchainKind:
    name = "toolchain"

    def wanted(self, spec: LoadedSpec) -> bool:
        return spec.spec.toolchain is not None

    def lock(self, spec: LoadedSpec, ctx: BuildContext) -> ToolchainLock:
        tc = spec.spec.toolchain
        if tc is None:
            raise BundleError("toolchain: the spec has no toolchain section to lock")
        work = ctx.work_dir / "toolchain" / "lock"
        own = wheels.build_project_wheel(work / "self")
        own_name, own_version = wheels.wheel_name_version(own.name)
        requirements = [str(own), *tc.packages]
        if tc.collections:
            requirements.append(tc.collections_from)
        ctx.log(f"toolchain: resolving wheels for Python {tc.python} on {tc.platform}")
        items = [i for i in wheels.resolve(requirements, tc.python, tc.platform, work) if i["name"] != own_name]
        locked: dict[str, Any] = {
            "python": tc.python,
            "platform": tc.platform,
            "project": {"name": own_name, "version": own_version},
            "wheels": items,
        }
        if tc.collections:
            source = _collections_source(items, tc.collections_from)
            locked["wheels"] = [i for i in items if i is not source]
            locked["collections_source"] = source
            paths = wheels.fetch([source], tc.python, tc.platform, ctx.cache_dir, work)
            with CollectionSource(paths[source["filename"]], source["filename"]) as src:
                locked["collections"] = src.closure(tc.collections)
        return ToolchainLock.model_validate(locked)

    def fetch(self, spec: LoadedSpec, locked: ToolchainLock, ctx: BuildContext) -> KindResult:
        python, platform = locked.python, locked.platform
        work = ctx.work_dir / "toolchain"
        source = locked.collections_source.to_json() if locked.collections_source else None
        locked_wheels = [w.to_json() for w in locked.wheels]  # the wheels module reads pip's items as dicts
        to_fetch = locked_wheels + ([source] if source else [])
        store = BlobStore(ctx.cache_dir)
        missing = [i for i in to_fetch if not store.has("sha256:" + i["sha256"])]
        if missing:
            ctx.log(f"toolchain: downloading {len(missing)} of {len(to_fetch)} wheels")
        paths = wheels.fetch(to_fetch, python, platform, ctx.cache_dir, work / "pip")

        own = wheels.build_project_wheel(work / "self")
        own_name, own_version = wheels.wheel_name_version(own.name)
        if (own_name, own_version) != (locked.project.name, locked.project.version):
            raise BundleError(f"toolchain: the source tree is {own_name} {own_version} but the lock has "
                              f"{locked.project.name} {locked.project.version}; run `wire-bundle lock`")
        own_item = WheelLock(name=own_name, version=own_version, filename=own.name,
                             sha256=sha256_file(own).removeprefix("sha256:"))

        artifacts: list[Artifact] = [
            Artifact(path=f"toolchain/wheels/{w.filename}", source=paths[w.filename],
                     digest="sha256:" + w.sha256, size=paths[w.filename].stat().st_size, kind="toolchain",
                     origin=f"pypi:{w.name}=={w.version}")
            for w in locked.wheels
        ]
        artifacts.append(file_artifact(f"toolchain/wheels/{own.name}", own, "toolchain", origin="source tree"))

        collections: list[CollectionSummary] = []
        if source:
            with CollectionSource(paths[source["filename"]], source["filename"]) as src:
                for c in locked.collections or []:
                    tarball = src.build_tarball(c.name, c.version, work / "collections")
                    art = file_artifact(f"toolchain/collections/{tarball.name}", tarball, "toolchain",
                                        origin=f"{source['filename']}:ansible_collections/{c.name}")
                    artifacts.append(art)
                    collections.append(CollectionSummary(**c.to_json(), file=tarball.name,
                                                         sha256=art.digest.removeprefix("sha256:")))

        generated = work / "generated"
        generated.mkdir(parents=True, exist_ok=True)
        (generated / "requirements.txt").write_text(wheels.requirements_text([*locked_wheels, own_item.to_json()]))
        (generated / "install.sh").write_text(install_script.render(python))
        for name in ("requirements.txt", "install.sh"):
            artifacts.append(file_artifact(f"toolchain/{name}", generated / name, "toolchain"))

        summary = ToolchainSummary(
            python=python, platform=platform, project=own_item, wheels=locked.wheels,
            collections_source=locked.collections_source, collections=collections,
            install="sh toolchain/install.sh [VENV_DIR] [COLLECTIONS_DIR]")
        return KindResult(artifacts=artifacts, summary=summary)

    def inspect_rows(self, summary: ToolchainSummary) -> tuple[str, list[str], list[list[str]]]:
        title = f"toolchain (Python {summary.python}, {summary.platform})"
        rows = [["wheel", w.name, w.version, w.filename] for w in [summary.project, *summary.wheels]]
        rows += [["collection", c.name, c.version, c.file] for c in summary.collections]
        return title, ["type", "name", "version", "file"], rows


KIND = ToolchainKind()
