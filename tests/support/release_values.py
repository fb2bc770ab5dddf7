"""The production example's values, as `wire-bundle values` writes them, rendered by real helm from a packaged
Wire release (tests/support/wire_release.py): what the real-chart tests read.

    rendered = render_releases(tmp, wire_release, OPTIONS)   # OPTIONS: federation, proxies, the websocket LB on
    web = container_env(one(rendered.objs["webapp"], "Deployment", "webapp"), "webapp")
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import yaml

from bundler.island.values.vault import decrypt
from bundler.kinds.charts.render import find_helm
from tests.support.cli import run_cli
from tests.support.wire_release import PackagedRelease

REPO = Path(__file__).resolve().parents[2]
DOMAIN = "wire.example.com"  # the production example's wire_domain
PASSWORD = "example-only"
OPTIONS = {
    "wire_federation_enabled": True,
    "wire_http_proxy": "http://proxy.wire.example.com:3128",
    "wire_https_proxy": "http://proxy.wire.example.com:3128",
    "wire_websocket_lb": {"enabled": True},
}


def objects(text: str) -> list[dict]:
    return [d for d in yaml.safe_load_all(text) if isinstance(d, dict)]


def one(objs: list[dict], kind: str, name: str | None = None) -> dict:
    found = [o for o in objs if o["kind"] == kind and (name is None or o["metadata"]["name"] == name)]
    assert len(found) == 1, f"{kind}/{name}: {[o['metadata']['name'] for o in objs if o['kind'] == kind]}"
    return found[0]


def container_env(workload: dict, container: str) -> dict[str, str]:
    c = next(c for c in workload["spec"]["template"]["spec"]["containers"] if c["name"] == container)
    return {e["name"]: e.get("value") for e in c.get("env") or []}


class Rendered:
    """Each release's objects in install order, the releases helm refused (name -> its error) and those whose
    chart the release here lacks (name -> why), and the certificate the values point at."""

    def __init__(self, order: list[str], objs: dict[str, list[dict]], failed: dict[str, str],
                 unavailable: dict[str, str], cert: Path):
        self.order, self.objs, self.failed, self.unavailable, self.cert = order, objs, failed, unavailable, cert
        self.variant = ""  # which settings a parametrized fixture rendered with


def production_values(root: Path, options: dict) -> tuple[Path, Path]:
    """`wire-bundle values` for a copy of the production example (with a fresh wildcard certificate) and the
    settings `options`; returns the values directory and the certificate."""
    inv = root / "production"
    shutil.copytree(REPO / "inventory" / "examples" / "production", inv)
    certs = root / "certs"  # where the example's ../certs/ points: beside the inventory, out of Ansible's way
    certs.mkdir()
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
                    "-days", "30", "-subj", f"/CN=*.{DOMAIN}", "-addext", f"subjectAltName=DNS:*.{DOMAIN}",
                    "-keyout", str(certs / "wildcard.key"), "-out", str(certs / "wildcard.crt")],
                   check=True, capture_output=True, timeout=60)
    (root / "pass").write_text(PASSWORD + "\n")
    args = ["values", "-i", inv, "-o", root / "values", "--vault-password-file", root / "pass"]
    if options:
        if options.get("wire_federation_enabled"):
            # The remote backends' CA (required with federation): any PEM certificate stands for it here.
            options = {**options, "wire_federation_ca_file": str(certs / "wildcard.crt")}
        (root / "options.yaml").write_text(yaml.safe_dump(options))
        args += ["--settings", root / "options.yaml"]
    r = run_cli(*args, cwd=REPO, timeout=120)
    assert r.returncode == 0, r.stderr
    return root / "values", certs / "wildcard.crt"


def render_releases(root: Path, release: PackagedRelease, options: dict) -> Rendered:
    """Every release of `production_values`' releases.yaml rendered by real helm from `release`'s packages."""
    out, cert = production_values(root, options)
    manifest = yaml.safe_load((out / "releases.yaml").read_text())
    secrets = decrypt(out / "secrets.vault.yaml", PASSWORD.encode()).get("releases", {})
    helm, home = find_helm(), root / "helm"
    env = {"HELM_CONFIG_HOME": str(home / "config"), "HELM_CACHE_HOME": str(home / "cache"),
           "HELM_DATA_HOME": str(home / "data"), "PATH": "/usr/bin:/bin"}
    objs, failed, unavailable = {}, {}, {}
    for rel in manifest["releases"]:
        name, chart = rel["name"], rel["chart"]
        if chart in release.unavailable:
            unavailable[name] = release.unavailable[chart]
            continue
        files = ["-f", str(out / rel["values"])]
        if name in secrets:
            sfile = root / f"{name}-secrets.yaml"
            sfile.write_text(yaml.safe_dump(secrets[name]))
            files += ["-f", str(sfile)]
        # The release's own name: charts name objects after it (redis-ephemeral's Service is gundeck's host).
        p = subprocess.run([helm, "template", name, str(release.packages[chart]), "--namespace",
                            manifest["namespace"], *files], capture_output=True, text=True, timeout=120, env=env)
        if p.returncode != 0:
            failed[name] = p.stderr.strip()
        else:
            objs[name] = objects(p.stdout)
    return Rendered([r["name"] for r in manifest["releases"]], objs, failed, unavailable, cert)
