#!/usr/bin/python
"""Ansible module: the Helm releases of a `wire-bundle values` directory, in its install order, with installable
charts rebuilt from an unpacked bundle and the exact helm command lines (install and dry run) for each."""

from __future__ import annotations

import hashlib
import os
import shutil
from pathlib import Path

from ansible.module_utils.basic import AnsibleModule

DOCUMENTATION = r"""
module: wire_release_plan
short_description: Wire's Helm releases, their charts and helm command lines, in install order
description:
  - Reads releases.yaml from a `wire-bundle values` directory (the install order), rebuilds each release's chart
    from an unpacked bundle (bundle.json's charts, dependencies placed into charts/), writes each release's
    secret values to a private file, and returns per release the helm command lines and a fingerprint of
    everything that goes into it (chart files, values, secrets).
  - Needs wire-bundle importable by the Python that runs the module (the admin host's toolchain).
options:
  values_dir: {description: Output directory of `wire-bundle values`., type: path, required: true}
  bundle_dir: {description: An unpacked bundle (has bundle.json and charts/)., type: path}
  charts_dir:
    description:
      - Instead of bundle_dir, a directory of charts, each either a packaged chart NAME-VERSION.tgz (a bundle's
        charts/, a chart repository's files) or a chart directory named after the chart. One version per chart.
    type: path
  work_dir: {description: Private scratch directory (charts and secret values files)., type: path, required: true}
  secrets: {description: Per release secret values (the decrypted secrets file's releases)., type: dict}
  helm: {description: The helm binary., type: str, default: helm}
  kubeconfig: {description: Kubeconfig for helm., type: str}
  timeout: {description: helm --timeout., type: str, default: 10m}
  only: {description: Plan only these releases (releases.yaml names); empty plans all., type: list, elements: str}
author: wire-bundle
"""

RETURN = r"""
namespace: {description: The releases' namespace., type: str, returned: always}
releases:
  description: name, chart, version (the chart's), chart_dir, fingerprint, install_argv, template_argv; in install
    order.
  type: list
  returned: always
"""


def fingerprint(chart_dir: Path, files: list[Path]) -> str:
    h = hashlib.sha256()
    for p in sorted(q for q in chart_dir.rglob("*") if q.is_file()):
        h.update(str(p.relative_to(chart_dir)).encode() + b"\0" + p.read_bytes() + b"\0")
    for f in files:
        h.update(f.name.encode() + b"\0" + f.read_bytes() + b"\0")
    return h.hexdigest()


def bundle_charts(bundle_dir: Path, work: Path) -> dict[str, Path]:
    import json

    from bundler.bundle.manifest import parse_summaries
    from bundler.errors import IntegrityError
    from bundler.island.charts import installable_chart

    meta = json.loads((bundle_dir / "bundle.json").read_text())
    try:
        charts = parse_summaries(meta.get("kinds", {})).charts or []
    except IntegrityError as exc:
        raise ValueError(f"{bundle_dir}/{exc}") from None
    out: dict[str, Path] = {}
    for chart in charts:
        dest = work / "charts" / chart.name
        shutil.rmtree(dest, ignore_errors=True)
        out[chart.name] = installable_chart(bundle_dir, chart, dest)
    return out


def dir_charts(charts_dir: Path, work: Path) -> dict[str, Path]:
    """Chart directories by chart name: packages are unpacked into work/charts/NAME (their Chart.yaml, not the
    file name, gives name and version); two versions of one chart are an error, never a silent pick."""
    from bundler.kinds.charts.package import read_chart, unpack

    if not charts_dir.is_dir():
        raise ValueError(f"charts_dir {charts_dir}: not a directory")
    out: dict[str, Path] = {}
    versions: dict[str, list[str]] = {}
    for entry in sorted(charts_dir.iterdir()):
        if entry.suffix == ".tgz" and entry.is_file():
            pkg = read_chart(entry)
            versions.setdefault(pkg.name, []).append(pkg.version)
            dest = work / "charts" / pkg.name
            shutil.rmtree(dest, ignore_errors=True)
            out[pkg.name] = unpack(pkg, dest)
        elif (entry / "Chart.yaml").is_file():
            versions.setdefault(entry.name, []).append("(directory)")
            out[entry.name] = entry
    for name, vs in versions.items():
        if len(vs) > 1:
            raise ValueError(f"charts_dir {charts_dir}: chart {name} is there {len(vs)} times ({', '.join(vs)}); "
                             "keep one, or install from the bundle (bundle_dir), whose bundle.json pins one")
    return out


def plan(p: dict) -> dict:
    import yaml

    from bundler.errors import BundleError

    values_dir, work = Path(p["values_dir"]), Path(p["work_dir"])
    manifest_path = values_dir / "releases.yaml"
    if not manifest_path.is_file():
        raise ValueError(f"values_dir {values_dir}: no releases.yaml; run `wire-bundle values -i INVENTORY -o "
                         f"{values_dir}` first")
    manifest = yaml.safe_load(manifest_path.read_text())
    work.mkdir(parents=True, exist_ok=True)
    os.chmod(work, 0o700)
    try:
        if p.get("bundle_dir"):
            bundle = Path(p["bundle_dir"])
            if not (bundle / "bundle.json").is_file():
                raise ValueError(f"bundle_dir {bundle}: no bundle.json; unpack the bundle there "
                                 "(wire-bundle unpack BUNDLE --to DIR)")
            charts = bundle_charts(bundle, work)
        elif p.get("charts_dir"):
            charts = dir_charts(Path(p["charts_dir"]), work)
        else:
            raise ValueError("give bundle_dir (an unpacked bundle) or charts_dir")
    except BundleError as exc:  # a damaged or unsafe package: one line naming it
        raise ValueError(str(exc)) from None
    secrets = p.get("secrets") or {}
    ns = manifest["namespace"]
    releases = []
    only = list(p.get("only") or [])
    unknown = [n for n in only if n not in {r["name"] for r in manifest["releases"]}]
    if unknown:
        raise ValueError(f"only: no release {', '.join(unknown)} in releases.yaml")
    for rel in manifest["releases"]:
        name = rel["name"]
        if only and name not in only:
            continue  # its chart need not be there: an operator installing some releases needs only theirs
        chart_dir = charts.get(rel["chart"])
        if chart_dir is None:
            where = p.get("bundle_dir") or p.get("charts_dir")
            raise ValueError(f"release {name}: chart {rel['chart']} is not in {where}")
        files = [values_dir / rel["values"]]
        if not files[0].is_file():
            raise ValueError(f"release {name}: values file {files[0]} is missing; re-run wire-bundle values")
        if name in secrets:
            sfile = work / f"{name}-secrets.yaml"
            fd = os.open(sfile, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "w") as fh:
                yaml.safe_dump(secrets[name], fh, sort_keys=True)
            files.append(sfile)
        elif rel.get("secrets_key"):
            raise ValueError(f"release {name}: the secrets file has no {rel['secrets_key']}; re-run wire-bundle "
                             "values with the same vault password")
        fp = fingerprint(chart_dir, files)
        common = [str(chart_dir), "--namespace", ns] + [a for f in files for a in ("-f", str(f))]
        kube = ["--kubeconfig", p["kubeconfig"]] if p.get("kubeconfig") else []
        releases.append({
            "name": name, "chart": rel["chart"], "chart_dir": str(chart_dir), "fingerprint": fp,
            "version": yaml.safe_load((chart_dir / "Chart.yaml").read_text()).get("version"),
            "install_argv": [p["helm"], "upgrade", "--install", name, *common, "--create-namespace", *kube,
                             "--description", f"wire-bundle:{fp}", "--wait", "--timeout", p["timeout"]],
            "template_argv": [p["helm"], "template", name, *common],
        })
    return {"namespace": ns, "releases": releases}


def main() -> None:
    module = AnsibleModule(argument_spec={
        "values_dir": {"type": "path", "required": True},
        "bundle_dir": {"type": "path"},
        "charts_dir": {"type": "path"},
        "work_dir": {"type": "path", "required": True},
        "secrets": {"type": "dict", "no_log": True, "default": {}},
        "helm": {"type": "str", "default": "helm"},
        "kubeconfig": {"type": "str"},
        "timeout": {"type": "str", "default": "10m"},
        "only": {"type": "list", "elements": "str", "default": []},
    }, mutually_exclusive=[("bundle_dir", "charts_dir")], supports_check_mode=True)
    try:
        result = plan(module.params)
    except ImportError as exc:
        module.fail_json(msg=f"wire-bundle is not importable by {module._name}'s Python ({exc}); run the role "
                             "on the admin host, whose toolchain installs wire-bundle next to Ansible")
    except (ValueError, OSError, KeyError) as exc:
        module.fail_json(msg=str(exc))
    # The work directory is private scratch space, removed by the role; nothing on the host changes.
    module.exit_json(changed=False, **result)


if __name__ == "__main__":
    main()
