"""Render each release's chart with the generated values (and decrypted secrets) through real helm, and check
what Kubernetes would get: every image resolvable from the bundle's image list, sftd on the host network of the
labelled nodes, the proxy variables in the proxied services, cannon's drain options in its configuration.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import yaml

from bundler import paths
from bundler.island.values import vault
from bundler.island.values.chartsource import ChartMissing, ChartSource
from bundler.island.values.defaults import data
from bundler.island.values.errors import ValuesError
from bundler.island.values.run import MANIFEST_FILE, SECRETS_FILE
from bundler.kinds.charts.discover import images_in_manifests
from bundler.kinds.charts.render import RENDER_TIMEOUT, find_helm, helm_env
from bundler.kinds.images.reference import InvalidReference, parse_reference

WORKLOADS = {"Deployment", "StatefulSet", "DaemonSet", "Job", "Pod"}


def objects(manifests: str) -> list[dict[str, Any]]:
    return [d for d in yaml.safe_load_all(manifests) if isinstance(d, dict)]


def pod_spec(obj: dict[str, Any]) -> dict[str, Any]:
    return obj["spec"] if obj["kind"] == "Pod" else obj["spec"]["template"]["spec"]


def image_list(path: Path) -> set[str]:
    """Normalised references from a list (one a line, # comments) or from a bundle's bundle.json."""
    text = path.read_text()
    if text.lstrip().startswith("{"):
        return _bundle_images(path, text)
    found = set()
    for n, line in enumerate(text.splitlines(), 1):
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        try:
            found.add(str(parse_reference(line)))
        except InvalidReference as exc:
            raise ValuesError(f"--images {path} line {n}: {exc}") from None
    return found


def _bundle_images(path: Path, text: str) -> set[str]:
    try:
        entries = json.loads(text)["kinds"]["images"]["images"]
        found = set()
        for e in entries:
            ref = parse_reference(e["ref"])
            found.add(str(ref))
            if e.get("digest"):
                found.add(str(ref.with_digest(e["digest"])))
        return found
    except (ValueError, KeyError, TypeError) as exc:
        raise ValuesError(f"--images {path}: not a bundle.json with kinds.images.images[].ref ({exc})") from None


def unresolvable(manifests: str, available: set[str], what: str) -> list[str]:
    """Rendered images not in the list; a digest-pinned image also resolves by its digest alone."""
    missing = []
    by_digest = {a.split("@", 1)[1] for a in available if "@" in a}
    for f in images_in_manifests(manifests, what):
        ref = parse_reference(f.image)
        if str(ref) in available or (ref.digest and ref.digest in by_digest):
            continue
        missing.append(f"{f.image} ({f.kind}/{f.name} container {f.container})")
    return sorted(set(missing))


def sftd_problems(objs: list[dict[str, Any]]) -> list[str]:
    label = data()["sft"]["node_label"]
    problems, seen = [], False
    for o in objs:
        if o.get("kind") != "StatefulSet" and o.get("kind") != "DaemonSet":
            continue
        spec = pod_spec(o)
        if not any(c.get("name") == "sftd" for c in spec.get("containers", [])):
            continue
        seen = True
        if spec.get("hostNetwork") is not True:
            problems.append(f"{o['kind']}/{o['metadata']['name']}: hostNetwork is not true")
        sel = spec.get("nodeSelector") or {}
        for k, v in label.items():
            if sel.get(k) != v:
                problems.append(f"{o['kind']}/{o['metadata']['name']}: nodeSelector lacks {k}={v}")
    if not seen:
        problems.append("no StatefulSet with an sftd container rendered")
    return problems


def proxy_problems(objs: list[dict[str, Any]], values: dict[str, Any]) -> list[str]:
    problems = []
    for svc, sub in values.items():
        cfg = (sub or {}).get("config", {}).get("proxy") if isinstance(sub, dict) else None
        if not cfg:
            continue
        want = {}
        if cfg.get("httpProxy"):
            want["HTTP_PROXY"] = want["http_proxy"] = cfg["httpProxy"]
        if cfg.get("httpsProxy"):
            want["HTTPS_PROXY"] = want["https_proxy"] = cfg["httpsProxy"]
        want["NO_PROXY"] = want["no_proxy"] = ",".join(cfg["noProxyList"])
        dep = [o for o in objs if o.get("kind") in WORKLOADS and o["metadata"]["name"] == svc]
        if not dep:
            problems.append(f"{svc}: proxy configured but no workload named {svc} rendered")
            continue
        for c in pod_spec(dep[0]).get("containers", []):
            if c.get("name") != svc:
                continue
            env = {e["name"]: e.get("value") for e in c.get("env") or []}
            for k, v in want.items():
                if env.get(k) != v:
                    problems.append(f"{svc}: env {k} is {env.get(k)!r}, expected {v!r}")
    return problems


def drain_problems(objs: list[dict[str, Any]], values: dict[str, Any]) -> list[str]:
    want = values["cannon"]["config"]["drainOpts"]
    for o in objs:
        if o.get("kind") == "ConfigMap" and o["metadata"]["name"] == "cannon":
            conf = yaml.safe_load(o["data"]["cannon.yaml"])
            got = conf.get("drainOpts")
            return [] if got == want else [f"cannon ConfigMap drainOpts {got} != values {want}"]
    return ["no ConfigMap named cannon rendered"]


def merged(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    """Helm's merge of two values files: mappings key by key, anything else replaced."""
    out = dict(base)
    for k, v in over.items():
        out[k] = merged(out[k], v) if isinstance(out.get(k), dict) and isinstance(v, dict) else v
    return out


def find_kubectl() -> str | None:
    found = shutil.which("kubectl")
    local = paths.REPO / "tools" / "bin" / "kubectl"
    return found or (str(local) if local.is_file() and os.access(local, os.X_OK) else None)


def kubectl_decode_problems(kubectl: str, manifests: str, work: Path) -> list[str]:
    """Decode every object into Kubernetes' typed API structs, offline (`kubectl set env --local` needs no
    cluster). Catches wrong field types (a string where an int32 belongs); not unknown fields or kinds."""
    path = work / "decode.yaml"
    path.write_text(manifests)
    env = {**os.environ, "KUBECONFIG": str(work / "no-kubeconfig")}
    proc = subprocess.run([kubectl, "set", "env", "--local", "-f", str(path), "WIRE_BUNDLE_CHECK=1", "-o", "name"],
                          capture_output=True, text=True, timeout=120, env=env, stdin=subprocess.DEVNULL)
    path.unlink()
    return [ln.removeprefix("error: ").strip() for ln in proc.stderr.splitlines()
            if "unable to decode" in ln or "error parsing" in ln]


def render(helm: str, chart: Path, files: list[Path], namespace: str, name: str, home: Path) -> str:
    """`helm template` as an install would create the objects (test hooks left out); on failure helm's whole
    message, on one line."""
    cmd = [helm, "template", name, str(chart), "--namespace", namespace, "--skip-tests"]
    for f in files:
        cmd += ["--values", str(f)]
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=RENDER_TIMEOUT, env=helm_env(home),
                              stdin=subprocess.DEVNULL)
    except subprocess.TimeoutExpired:
        raise ValuesError(f"helm template: no result after {RENDER_TIMEOUT}s") from None
    if proc.returncode != 0:
        lines = [ln.strip() for ln in proc.stderr.splitlines() if ln.strip() and not ln.startswith("Use --debug")]
        raise ValuesError(" ".join(lines).removeprefix("Error: ") or f"helm exited with {proc.returncode}")
    return proc.stdout


def check_dir(out_dir: Path, charts: str | Path, password: bytes, images_file: Path | None) -> Iterator[str]:
    """Render every release of releases.yaml from its chart in `charts` (see chartsource.ChartSource); yields one
    report line per release, and raises naming every problem of every release once all are checked."""
    manifest = yaml.safe_load((out_dir / MANIFEST_FILE).read_text())
    sec = vault.decrypt(out_dir / SECRETS_FILE, password).get("releases", {})
    helm = find_helm()
    kubectl = find_kubectl()
    problems: list[str] = []
    work = Path(tempfile.mkdtemp(prefix="wire-values-check-"))
    try:
        os.chmod(work, 0o700)
        source = ChartSource(str(charts), work)
        if images_file is None and source.bundle_json is not None:
            images_file = source.bundle_json
            yield f"images checked against {images_file}"
        available = image_list(images_file) if images_file else None
        for rel in manifest["releases"]:
            files = [out_dir / rel["values"]]
            if rel["name"] in sec:
                sfile = work / f"{rel['name']}-secrets.yaml"
                sfile.write_text(yaml.safe_dump(sec[rel["name"]]))
                files.append(sfile)
            what = f"release {rel['name']} (chart {rel['chart']})"
            try:
                chart = source.chart(rel["chart"])
                rendered = render(helm, chart, files, manifest["namespace"], rel["name"], work / "helm-home")
            except ChartMissing as exc:
                problems.append(f"{rel['name']}: {exc}")
                yield f"not checked {rel['name']}: {exc}"
                continue
            except ValuesError as exc:
                if str(exc).startswith("--check-charts"):
                    raise
                problems.append(f"{rel['name']}: helm template failed: {exc}")
                yield f"failed {rel['name']}: helm template: {exc}"
                continue
            finally:
                for f in files[1:]:
                    f.unlink(missing_ok=True)
            objs = objects(rendered)
            mine: list[str] = []
            if kubectl:
                mine += [f"kubectl: {m}" for m in kubectl_decode_problems(kubectl, rendered, work)]
            if available is not None:
                mine += [f"image not in {images_file.name}: {m}" for m in unresolvable(rendered, available, what)]
            values = merged(yaml.safe_load((out_dir / rel["values"]).read_text()), sec.get(rel["name"], {}))
            if rel["name"] == "sftd":
                mine += sftd_problems(objs)
            if rel["name"] == "wire-server":
                mine += proxy_problems(objs, values) + drain_problems(objs, values)
            problems += [f"{rel['name']}: {p}" for p in mine]
            decoded = " (decoded by kubectl)" if kubectl else ""
            state = "ok" if not mine else f"{len(mine)} problem(s)"
            yield f"checked {rel['name']}: {len(objs)} objects{decoded}, {state}"
    finally:
        shutil.rmtree(work, ignore_errors=True)
    if problems:
        raise ValuesError(f"rendered charts fail {len(problems)} check(s): " + "; ".join(problems))
