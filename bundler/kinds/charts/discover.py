"""Find the container images in `helm template` output, with where each one came from.

Only typed fields count: the containers, initContainers and ephemeralContainers of a pod spec inside the
workload kinds below. Strings that merely look like images (in ConfigMaps, env vars, CRDs) are not images
the cluster will pull, and guessing at them would put noise in the bundle.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import yaml

from bundler.errors import BundleError

# kind -> path from the object to its pod spec
POD_SPEC_PATHS: dict[str, tuple[str, ...]] = {
    "Pod": ("spec",),
    "Deployment": ("spec", "template", "spec"),
    "StatefulSet": ("spec", "template", "spec"),
    "DaemonSet": ("spec", "template", "spec"),
    "ReplicaSet": ("spec", "template", "spec"),
    "ReplicationController": ("spec", "template", "spec"),
    "Job": ("spec", "template", "spec"),
    "CronJob": ("spec", "jobTemplate", "spec", "template", "spec"),
    "PodTemplate": ("template", "spec"),
}
CONTAINER_FIELDS = ("initContainers", "containers", "ephemeralContainers")
_DOC_SPLIT = re.compile(r"^---[ \t]*$", re.MULTILINE)
_SOURCE = re.compile(r"^# Source: (.+?)\s*$", re.MULTILINE)

try:
    _Loader = yaml.CSafeLoader
except AttributeError:  # pragma: no cover
    _Loader = yaml.SafeLoader


@dataclass(frozen=True)
class FoundImage:
    image: str  # exactly as rendered
    template: str  # the `# Source:` path, e.g. wire-server/charts/brig/templates/deployment.yaml
    kind: str
    name: str  # the object's metadata.name
    container: str
    field: str  # containers / initContainers / ephemeralContainers


def _dig(obj, path: tuple[str, ...]):
    for key in path:
        if not isinstance(obj, dict):
            return None
        obj = obj.get(key)
    return obj


def _from_object(obj: dict, template: str, out: list[FoundImage]) -> None:
    kind = obj.get("kind")
    if kind == "List" or kind and str(kind).endswith("List") and isinstance(obj.get("items"), list):
        for item in obj.get("items") or []:
            if isinstance(item, dict):
                _from_object(item, template, out)
        return
    path = POD_SPEC_PATHS.get(str(kind))
    if path is None:
        return
    spec = _dig(obj, path)
    if not isinstance(spec, dict):
        return
    name = str(_dig(obj, ("metadata", "name")) or "?")
    for fld in CONTAINER_FIELDS:
        for c in spec.get(fld) or []:
            if not isinstance(c, dict):
                continue
            image = c.get("image")
            out.append(FoundImage(
                image="" if image is None else str(image), template=template, kind=str(kind), name=name,
                container=str(c.get("name") or "?"), field=fld,
            ))


def images_in_manifests(text: str, what: str) -> list[FoundImage]:
    """Every container image in a multi-document manifest stream, in document order."""
    found: list[FoundImage] = []
    for chunk in _DOC_SPLIT.split(text):
        if not chunk.strip():
            continue
        m = _SOURCE.search(chunk)
        template = m.group(1) if m else "?"
        try:
            docs = list(yaml.load_all(chunk, Loader=_Loader))  # noqa: S506 - a safe loader
        except yaml.YAMLError as exc:
            raise BundleError(f"{what}: rendered {template} is not valid YAML ({str(exc).splitlines()[0]})") \
                from None
        for doc in docs:
            if isinstance(doc, dict):
                _from_object(doc, template, found)
    return found
