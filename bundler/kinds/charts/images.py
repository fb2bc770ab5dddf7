"""The images a chart will ask for, over every value set the spec lists for it, and the rules they must pass.

A why-record says where one image came from: the chart and version, the value sets that produce it, and
either the template, kind/name and container, or the chart's `helm.sh/images` annotation.
"""

from __future__ import annotations

import fnmatch
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bundler.errors import BundleError
from bundler.kinds.charts.discover import FoundImage, images_in_manifests
from bundler.kinds.charts.render import template
from bundler.kinds.charts.tree import ChartNode, assemble
from bundler.kinds.images.reference import InvalidReference, parse_reference

DEFAULTS = "defaults"


@dataclass(frozen=True)
class ValueSet:
    label: str  # the files as the spec names them, joined by "+"; "defaults" for none
    files: tuple[Path, ...]


def value_sets(chart_name: str, values: list[list[str] | str], base_dir: Path) -> list[ValueSet]:
    if not values:
        return [ValueSet(DEFAULTS, ())]
    sets = []
    for item in values:
        names = [item] if isinstance(item, str) else list(item)
        paths = []
        for n in names:
            p = (base_dir / n).resolve()
            if not p.is_file():
                raise BundleError(f"chart {chart_name}: values file {n} not found (looked in {base_dir})")
            paths.append(p)
        sets.append(ValueSet("+".join(names) or DEFAULTS, tuple(paths)))
    return sets


def chart_dir(node: ChartNode, work: Path) -> Path:
    """The chart unpacked with its fetched dependencies in place, once per chart digest under `work`."""
    # Two spec charts may share name and version (from different repositories): the digest tells them apart.
    final = work / "render" / f"{node.name}-{node.version}-{node.digest.split(':')[1][:12]}"
    if not final.exists():
        tmp = final.with_name(final.name + ".tmp")
        shutil.rmtree(tmp, ignore_errors=True)
        assemble(node, tmp)
        tmp.rename(final)
    return final / node.package.top


def render_set(node: ChartNode, directory: Path, vs: ValueSet, helm: str, work: Path) -> list[FoundImage]:
    """The images of one rendering; RenderFailed (helm's whole message) when helm refuses."""
    what = f"chart {node.name} {node.version} with values {vs.label}"
    return images_in_manifests(template(helm, directory, list(vs.files), what=what, home=work / "helm-home"), what)


def merge_records(node: ChartNode, rendered: list[tuple[ValueSet, list[FoundImage]]]) -> list[dict[str, Any]]:
    """Why-records for every image in every rendering of the chart, merged over value sets."""
    merged: dict[tuple, dict[str, Any]] = {}
    for vs, found in rendered:
        for f in found:
            key = (f.image, f.template, f.kind, f.name, f.container, f.field)
            rec = merged.setdefault(key, {
                "image": f.image, "chart": node.name, "version": node.version, "source": "template",
                "template": f.template, "kind": f.kind, "object": f.name, "container": f.container,
                "field": f.field, "values": [],
            })
            if vs.label not in rec["values"]:
                rec["values"].append(vs.label)
    for sub in node.walk():
        for a in sub.package.annotated_images:
            key = (a.image, "annotation", a.chart, a.name, a.key)
            merged.setdefault(key, {
                "image": a.image, "chart": node.name, "version": node.version, "source": "annotation",
                "template": f"{a.chart}/Chart.yaml", "kind": "annotation", "object": a.chart,
                "container": a.name, "field": a.key, "values": [],
            })
    return sorted(merged.values(), key=lambda r: (r["image"], r["template"], r["object"], r["container"]))


def render_records(node: ChartNode, sets: list[ValueSet], helm: str, work: Path) -> list[dict[str, Any]]:
    """Why-records over every value set, rendered one after the other; the first failure is raised."""
    directory = chart_dir(node, work)
    return merge_records(node, [(vs, render_set(node, directory, vs, helm, work)) for vs in sets])


def _where(rec: dict[str, Any]) -> str:
    if rec["source"] == "annotation":
        return f"chart {rec['chart']} {rec['version']}, {rec['field']} annotation of {rec['object']} " \
               f"(entry {rec['container'] or '?'})"
    vals = ", ".join(rec["values"]) or DEFAULTS
    return (f"chart {rec['chart']} {rec['version']}, template {rec['template']}, {rec['kind']}/{rec['object']} "
            f"container {rec['container']} (values: {vals})")


def is_excluded(ref: str, exclude: list[str]) -> bool:
    return any(fnmatch.fnmatchcase(ref, pat) for pat in exclude)


def classify(records: list[dict[str, Any]], exclude: list[str], warn: Callable[[str], None]
             ) -> tuple[dict[str, list[dict[str, Any]]], dict[str, list[dict[str, Any]]]]:
    """(images to bundle, excluded images), each normalised ref -> why-records.

    Fails on an empty, invalid or untagged image (one that is not excluded): an untagged image means
    "whatever latest is on the day of the install", which an island can never have. Warns on `:latest`.
    """
    kept: dict[str, list[dict[str, Any]]] = {}
    dropped: dict[str, list[dict[str, Any]]] = {}
    untagged: list[tuple[str, dict[str, Any]]] = []
    for rec in records:
        raw = rec["image"]
        if not raw.strip():
            raise BundleError(f"empty image in {_where(rec)}: set the image in the chart's values")
        try:
            ref = str(parse_reference(raw))
        except InvalidReference as exc:
            raise BundleError(f"{exc} in {_where(rec)}") from None
        if is_excluded(ref, exclude):
            dropped.setdefault(ref, []).append(rec)
            continue
        last = raw.rsplit("/", 1)[-1]
        if ":" not in last and "@" not in raw:
            untagged.append((raw, rec))
        kept.setdefault(ref, []).append(rec)
    if untagged:
        raw, rec = untagged[0]
        more = f" (and {len(untagged) - 1} more untagged)" if len(untagged) > 1 else ""
        raise BundleError(f"untagged image {raw!r} in {_where(rec)}: give it a tag or digest in the values, "
                          f"or exclude it{more}")
    for ref, recs in kept.items():
        if ref.endswith(":latest") and "@" not in ref:
            warn(f"image {ref} uses tag latest ({_where(recs[0])}); it is pinned to today's digest")
    return kept, dropped
